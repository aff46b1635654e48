"""The graph neural network over labels of Durand, Mehrasa, Mori (CVPR 2019, Sec. 3.2), a gated
graph network (Li et al., ICLR 2016) on top of the ConvNet's label scores.

The graph has one node per label; the edges say which labels exchange messages (fully connected
by default, no self-loop). With x ∈ R^C the ConvNet's scores of an image:

- h_v^0 = [x_v, 0, …, 0]: node v's hidden state starts from its label's score, padded with zeros;
- m_v^t = Σ_u A_vu f_M(h_u^{t−1}) / Σ_u A_vu: the mean message of v's neighbours, f_M = ReLU∘fc;
- h_v^t = GRU(m_v^t, h_v^{t−1}): the gated update, for t = 1 … T;
- o_v = f_O([h_v^T, x_v]): the node's new score, from its final state and its input score.

Every node shares f_M, the GRU and f_O, as in a gated graph network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def fully_connected(num_labels: int) -> Tensor:
    """The default graph: every label linked to every other one, no self-loop (float 0/1)."""
    return torch.ones(num_labels, num_labels) - torch.eye(num_labels)


class LabelGNN(nn.Module):
    """Gated message passing over the labels: scores (B, C) in, refined scores (B, C) out.

    ``adjacency`` (C, C): A_vu > 0 where node v receives from node u (None: ``fully_connected``).
    """

    def __init__(
        self,
        num_labels: int,
        hidden: int = 512,
        steps: int = 3,
        adjacency: Tensor | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        graph = fully_connected(num_labels) if adjacency is None else adjacency.float()
        if graph.shape != (num_labels, num_labels):
            raise ValueError(f"adjacency must be ({num_labels}, {num_labels}), got {graph.shape}")
        degree = graph.sum(dim=1, keepdim=True).clamp(min=1e-12)
        self.register_buffer("weights", graph / degree)  # row v: the mean over v's neighbours
        self.hidden, self.steps = hidden, steps
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.message = nn.Linear(hidden, hidden)  # f_M, before the ReLU
            self.update = nn.GRUCell(hidden, hidden)  # the gated update
            self.output = nn.Linear(hidden + 1, 1)  # f_O on [h_v^T, x_v]

    def initial_state(self, scores: Tensor) -> Tensor:
        """h^0 (B, C, H): each label's score, then zeros."""
        return F.pad(scores.unsqueeze(-1), (0, self.hidden - 1))

    def messages(self, state: Tensor) -> Tensor:
        """m (B, C, H): for every node the weighted mean of f_M over its neighbours' states."""
        return torch.einsum("vu,buh->bvh", self.weights, F.relu(self.message(state)))

    def forward(self, scores: Tensor) -> Tensor:
        batch, labels = scores.shape
        state = self.initial_state(scores)
        for _ in range(self.steps):
            incoming = self.messages(state).reshape(batch * labels, self.hidden)
            state = self.update(incoming, state.reshape(batch * labels, self.hidden))
            state = state.reshape(batch, labels, self.hidden)
        return self.output(torch.cat([state, scores.unsqueeze(-1)], dim=-1)).squeeze(-1)


class GraphHead(nn.Module):
    """A ConvNet whose label scores go through a ``LabelGNN``: logits of the refined scores."""

    def __init__(self, convnet: nn.Module, gnn: LabelGNN) -> None:
        super().__init__()
        self.convnet, self.gnn = convnet, gnn

    def forward(self, x: Tensor) -> Tensor:
        return self.gnn(self.convnet(x))
