"""The label GNN (Durand et al. 2019, Sec. 3.2): one step of message passing and the gated update
on a hand-made graph, against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from annokit.models.label_gnn import GraphHead, LabelGNN, fully_connected


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def set_weights(gnn: LabelGNN, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random but known weights for every parameter; returns them as numpy arrays."""
    values = {}
    with torch.no_grad():
        for name, param in gnn.named_parameters():
            value = rng.normal(scale=0.7, size=tuple(param.shape))
            param.copy_(torch.as_tensor(value))
            values[name] = value
    return values


def by_hand(x: np.ndarray, adjacency: np.ndarray, w: dict, hidden: int, steps: int) -> np.ndarray:
    """h0 = [x_v, 0…]; m_v = mean of ReLU(W_M h_u + b_M) over v's neighbours; GRU; f_O([h, x])."""
    h = np.zeros((len(x), hidden))
    h[:, 0] = x
    mean = adjacency / adjacency.sum(axis=1, keepdims=True)
    for _ in range(steps):
        m = mean @ np.maximum(h @ w["message.weight"].T + w["message.bias"], 0.0)
        gi = m @ w["update.weight_ih"].T + w["update.bias_ih"]  # rows r, z, n
        gh = h @ w["update.weight_hh"].T + w["update.bias_hh"]
        r = sigmoid(gi[:, :hidden] + gh[:, :hidden])
        z = sigmoid(gi[:, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
        n = np.tanh(gi[:, 2 * hidden :] + r * gh[:, 2 * hidden :])
        h = (1 - z) * n + z * h
    return np.concatenate([h, x[:, None]], axis=1) @ w["output.weight"][0] + w["output.bias"][0]


@pytest.mark.parametrize("steps", [1, 3])
def test_message_passing_on_a_path_graph_matches_a_hand_computation(steps):
    # labels 0 - 1 - 2: node 1 hears both ends, the ends hear node 1 only
    adjacency = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float)
    gnn = LabelGNN(3, hidden=2, steps=steps, adjacency=torch.as_tensor(adjacency)).double()
    weights = set_weights(gnn, np.random.default_rng(0))
    scores = np.array([[1.5, -0.5, 2.0], [0.0, 3.0, -1.0]])
    out = gnn(torch.as_tensor(scores)).detach().numpy()
    expected = np.stack([by_hand(row, adjacency, weights, 2, steps) for row in scores])
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_one_message_is_the_mean_over_the_neighbours():
    adjacency = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    gnn = LabelGNN(3, hidden=1, steps=1, adjacency=adjacency)
    with torch.no_grad():
        gnn.message.weight.fill_(1.0)
        gnn.message.bias.fill_(0.0)
    state = gnn.initial_state(torch.tensor([[2.0, 4.0, -6.0]]))  # ReLU keeps 2 and 4, not -6
    np.testing.assert_allclose(gnn.messages(state)[0, :, 0].detach().numpy(), [(4 + 0) / 2, 2, 2])


def test_default_graph_is_fully_connected_and_the_head_keeps_the_shape():
    assert torch.equal(fully_connected(3), torch.tensor([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]]))
    head = GraphHead(torch.nn.Linear(8, 5), LabelGNN(5, hidden=4, steps=2, seed=1))
    assert head(torch.randn(7, 8)).shape == (7, 5)
    # the same seed gives the same GNN
    again = LabelGNN(5, hidden=4, steps=2, seed=1)
    assert torch.equal(head.gnn.update.weight_hh, again.update.weight_hh)
    with pytest.raises(ValueError):
        LabelGNN(3, adjacency=torch.ones(2, 2))
