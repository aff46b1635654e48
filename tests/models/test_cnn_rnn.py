"""Tests for annokit.models.cnn_rnn: Wang et al.'s CNN-RNN (shared label embedding, teacher
forcing, frequent-first sequences, masked loss) and its beam search against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from annokit.models.cnn_rnn import (
    CNNRNN,
    IGNORE,
    beam_search,
    frequent_first,
    sequence_loss,
)

C, IMAGE_DIM = 3, 5


def tiny_model(recurrent: str = "paper", seed: int = 0, activation: str = "relu") -> CNNRNN:
    """Random weights; 12-d embeddings, so that x_t = ReLU(...) is never all zero (a uniform
    distribution, whose ties would make the best path ambiguous)."""
    torch.manual_seed(seed)
    model = CNNRNN(C, IMAGE_DIM, 12, 6, recurrent=recurrent, activation=activation)
    with torch.no_grad():  # peakier distributions than the default initialisation gives
        for p in model.parameters():
            p.mul_(2.0)
    return model.eval()


def features(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, IMAGE_DIM, generator=torch.Generator().manual_seed(seed))


def path_log_prob(model: CNNRNN, image: torch.Tensor, labels: tuple[int, ...], cut: bool) -> float:
    """log P(l_1 ... l_k, END | I) by teacher forcing; ``cut``: the k labels only, no END term."""
    targets = list(labels) if cut else [*labels, model.end]
    with torch.no_grad():
        logits = model(image[None], torch.tensor([targets]))
    log_p = torch.log_softmax(logits[0], dim=-1)
    return float(sum(log_p[t, s] for t, s in enumerate(targets)))


def brute_force(model: CNNRNN, image: torch.Tensor, max_steps: int) -> dict[tuple, float]:
    """Every path without a repeated label: k < max_steps labels then END, or max_steps labels."""
    out = {}
    for k in range(min(max_steps, C) + 1):
        for labels in itertools.permutations(range(C), k):
            out[labels] = path_log_prob(model, image, labels, cut=k == max_steps)
    return out


def decoded(paths: np.ndarray, i: int) -> tuple[int, ...]:
    return tuple(int(x) for x in paths[i] if x >= 0)


# --- shapes and the shared embedding ---------------------------------------------------------


@pytest.mark.parametrize("recurrent", ["paper", "lstm"])
def test_shapes_of_every_output(recurrent):
    model = tiny_model(recurrent)
    sequences = torch.tensor([[2, 0, C], [1, C, IGNORE]])
    logits = model(features(2), sequences)
    assert logits.shape == (2, 3, C + 1)
    assert sequence_loss(logits, sequences).shape == ()
    step_logits, state = model.step(
        torch.tensor([model.start_index, 1]),
        model.initial_state(2, "cpu"),
        model.image_term(features(2)),
    )
    assert step_logits.shape == (2, C + 1)
    assert all(s.shape == (2, 6) for s in state)
    result = beam_search(model, features(5), beam_size=2, max_steps=4, batch_size=2)
    assert result.paths.shape == (5, 4) and result.log_probs.shape == (5,)
    assert result.scores.shape == (5, C) and result.ended.shape == (5,)
    assert result.annotation.shape == (5, C)


def test_paper_sizes_are_the_defaults():
    model = CNNRNN(20)
    assert model.embedding.weight.shape == (21, 64)  # 20 labels + END, 64-d
    assert model.project_image.in_features == 4096
    assert model.recurrent.hidden_size == 512


def test_output_layer_weight_is_the_label_embedding():
    model = tiny_model()
    assert model.output.weight is model.embedding.weight
    assert model.output.weight.data_ptr() == model.embedding.weight.data_ptr()
    names = [name for name, p in model.named_parameters() if p.shape == (C + 1, 12)]
    assert names == ["embedding.weight"]  # one tensor, listed once
    before = model.embedding.weight.detach().clone()
    optimizer = torch.optim.SGD(model.output.parameters(), lr=0.1)
    model.output(torch.ones(2, 12)).logsumexp(dim=1).sum().backward()
    optimizer.step()
    assert not torch.equal(model.embedding.weight.detach(), before)
    assert torch.equal(model.embed(torch.tensor([1]))[0], model.output.weight[1])


def test_start_feeds_step_one_and_end_is_never_an_input():
    model = tiny_model()
    assert torch.equal(model.embed(torch.tensor([C + 1]))[0], model.start)
    # A sequence's END and padding are not read: changing what follows END changes nothing.
    a = model(features(1), torch.tensor([[1, C, IGNORE]]))
    b = model(features(1), torch.tensor([[1, C, C]]))
    assert torch.allclose(a, b)


def test_sequences_with_bad_entries_are_refused():
    with pytest.raises(ValueError, match="END"):
        tiny_model()(features(1), torch.tensor([[C + 1]]))


# --- training sequences and loss -------------------------------------------------------------


def test_frequent_first_orders_labels_by_training_frequency_then_end():
    labels = np.array(
        [
            [1, 1, 0, 1],  # labels 0, 1, 3
            [0, 0, 0, 0],  # none
            [0, 1, 1, 0],  # labels 1, 2
            [1, 0, 1, 0],  # labels 0, 2 (equal frequencies: lower index first)
        ],
        dtype=bool,
    )
    frequencies = np.array([5, 9, 5, 7])  # order: 1, 3, 0, 2
    end, pad = 4, IGNORE
    expected = [[1, 3, 0, end], [end, pad, pad, pad], [1, 2, end, pad], [0, 2, end, pad]]
    np.testing.assert_array_equal(frequent_first(labels, frequencies), expected)


def test_masked_loss_on_a_hand_made_case():
    logits = torch.tensor(
        [
            [[1.0, 2.0, 0.0], [0.5, 0.5, 3.0], [9.0, 9.0, 9.0]],
            [[0.0, 0.0, 0.0], [2.0, -1.0, 1.0], [1.0, 1.0, 1.0]],
        ]
    )
    targets = torch.tensor([[1, 2, IGNORE], [0, 0, 2]])

    def nll(row: list[float], k: int) -> float:
        return -(row[k] - math.log(sum(math.exp(v) for v in row)))

    first = nll([1.0, 2.0, 0.0], 1) + nll([0.5, 0.5, 3.0], 2)
    second = nll([0.0, 0.0, 0.0], 0) + nll([2.0, -1.0, 1.0], 0) + nll([1.0, 1.0, 1.0], 2)
    assert sequence_loss(logits, targets).item() == pytest.approx((first + second) / 2, rel=1e-6)


def test_training_steps_fit_two_sequences():
    torch.manual_seed(0)
    model = CNNRNN(C, image_dim=IMAGE_DIM, embed_dim=8, hidden_dim=16, recurrent="lstm")
    images, sequences = features(2), torch.tensor([[2, 0, C], [1, C, IGNORE]])
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-2)
    for _ in range(150):
        optimizer.zero_grad()
        loss = sequence_loss(model(images, sequences), sequences)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    result = beam_search(model, images, beam_size=2, max_steps=C)
    assert [decoded(result.paths, i) for i in range(2)] == [(2, 0), (1,)]


# --- beam search -----------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("recurrent", ["paper", "lstm"])
@pytest.mark.parametrize("max_steps", [2, 4])
def test_large_beam_equals_brute_force(recurrent, max_steps, activation):
    model, images = tiny_model(recurrent, activation=activation), features(6)
    result = beam_search(model, images, beam_size=16, max_steps=max_steps, batch_size=4)
    for i in range(len(images)):
        table = brute_force(model, images[i], max_steps)
        best = max(table, key=table.get)
        assert decoded(result.paths, i) == best
        assert result.log_probs[i] == pytest.approx(table[best], abs=1e-5)
        assert result.ended[i] == (len(best) < max_steps)


@pytest.mark.parametrize("beam_size", [1, 2])
@pytest.mark.parametrize("max_steps", [2, 4])
def test_small_beams_report_their_paths_true_probability(beam_size, max_steps):
    model, images = tiny_model("paper", seed=3), features(8, seed=4)
    result = beam_search(model, images, beam_size=beam_size, max_steps=max_steps)
    for i in range(len(images)):
        table = brute_force(model, images[i], max_steps)
        path = decoded(result.paths, i)
        assert len(set(path)) == len(path)
        assert result.log_probs[i] == pytest.approx(table[path], abs=1e-5)
        assert result.log_probs[i] <= max(table.values()) + 1e-5


@pytest.mark.parametrize("recurrent", ["paper", "lstm"])
def test_beam_of_one_is_step_by_step_argmax(recurrent):
    model, images, max_steps = tiny_model(recurrent, seed=5), features(8, seed=6), 3
    result = beam_search(model, images, beam_size=1, max_steps=max_steps)
    for i in range(len(images)):
        image, state = model.image_term(images[i : i + 1]), model.initial_state(1, "cpu")
        previous, path, total = torch.tensor([model.start_index]), [], 0.0
        with torch.no_grad():
            for _ in range(max_steps):
                logits, state = model.step(previous, state, image)
                log_p = torch.log_softmax(logits[0], dim=-1)
                allowed = log_p.clone()
                allowed[path] = float("-inf")
                choice = int(allowed.argmax())
                total += float(log_p[choice])
                if choice == model.end:
                    break
                path.append(choice)
                previous = torch.tensor([choice])
        assert decoded(result.paths, i) == tuple(path)
        assert result.log_probs[i] == pytest.approx(total, abs=1e-5)


def test_per_label_scores_are_the_largest_probability_along_the_best_path():
    model, images, max_steps = tiny_model("lstm", seed=7), features(6, seed=8), 4
    result = beam_search(model, images, beam_size=3, max_steps=max_steps)
    for i in range(len(images)):
        path = list(decoded(result.paths, i))
        targets = path + [model.end] if result.ended[i] else path
        with torch.no_grad():
            probs = torch.softmax(model(images[i : i + 1], torch.tensor([targets]))[0], dim=-1)
        expected = np.zeros(C)
        for t in range(len(targets)):
            step = probs[t, :C].numpy().copy()
            step[path[:t]] = 0.0  # labels already on the path
            expected = np.maximum(expected, step)
        np.testing.assert_allclose(result.scores[i], expected, atol=1e-6)
        assert set(np.flatnonzero(result.annotation[i])) == set(path)


def test_beam_search_restores_training_mode_and_checks_arguments():
    model = tiny_model().train()
    beam_search(model, features(2), beam_size=2, max_steps=2)
    assert model.training
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, features(2), beam_size=0, max_steps=2)
