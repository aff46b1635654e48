"""The Order-free RNN's candidate pool: the pool after three hand-made steps, the training pass's
targets, its LSTM step against the kit's LabelDecoder, and its beam search against every path."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
import torch

from annokit.methods.baselines.order_free import OrderFreeRNN, order_free_loss, pool_step
from annokit.models.rnn_decoder import IGNORE, LabelDecoder, decode
from annokit.profile import load_profile

END = 5  # five labels, END is output 5


def test_the_pool_after_three_steps():
    # true label {1}
    pool = torch.tensor(
        [
            [True, False, True, True, False],  # true labels {0, 2, 3}
            [False, True, False, False, False],
        ]
    )
    steps = torch.tensor(
        [
            # image 0: label 1 scores best, not in the pool
            [[0.1, 3.0, 2.0, 0.5, 0.0, -1.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]],
            [[5.0, 0.0, 0.3, 0.4, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 3.0]],
            # END scores best, but label 3 is still in the pool
            [[0.0, 0.0, 1.0, 0.0, 0.0, 9.0], [0.0, 9.0, 0.0, 0.0, 0.0, 0.0]],
        ]
    )
    targets, pools = [], []
    for logits in steps:
        target, pool = pool_step(pool, logits, END)
        targets.append(target.tolist())
        pools.append(pool.tolist())
    assert targets == [[2, 1], [0, END], [3, END]]
    assert pools[0] == [[True, False, False, True, False], [False, False, False, False, False]]
    assert pools[1] == [[False, False, False, True, False], [False, False, False, False, False]]
    # every true label has left the pool; an empty pool stays empty
    assert pools[2] == [[False] * 5, [False] * 5]


def test_ties_in_the_pool_go_to_the_lower_label():
    target, _ = pool_step(
        torch.tensor([[False, True, True]]), torch.tensor([[9.0, 1.0, 1.0, 0.0]]), end=3
    )
    assert target.tolist() == [1]


def test_training_pass_names_every_true_label_once_then_end():
    torch.manual_seed(0)
    model = OrderFreeRNN(5, hidden=16, embedding=8)
    labels = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0], [0.0] * 5])
    logits, targets = model(torch.rand(3, 5), labels)
    assert logits.shape == (3, 4, 6) and targets.shape == (3, 4)  # T = the largest label count + 1
    first = targets[0].tolist()
    assert sorted(first[:3]) == [0, 2, 3] and first[3] == END
    assert targets[1].tolist() == [1, END, IGNORE, IGNORE]
    assert targets[2].tolist() == [END, IGNORE, IGNORE, IGNORE]  # no label: END at once
    # each step's target is the pool's label with the highest logit at that step
    pool = labels[0].bool()
    for t in range(3):
        best = logits[0, t, :5].masked_fill(~pool, float("-inf")).argmax()
        assert int(best) == first[t]
        pool[best] = False
    loss = order_free_loss(model, torch.rand(3, 5), labels)
    loss.backward()
    assert torch.isfinite(loss) and model.lstm.weight_hh_l0.grad.abs().sum() > 0


def test_its_lstm_step_is_the_label_decoders():
    torch.manual_seed(1)
    model = OrderFreeRNN(4, hidden=12, embedding=6)
    reference = LabelDecoder(4, hidden=12, embedding=6, end_token=True)
    reference.load_state_dict(model.state_dict())
    s_hat, previous = torch.rand(3, 4), torch.tensor([4, 0, 2])
    ours, (h, c) = model.step(previous, model.initial_state(s_hat))
    theirs, (h_ref, c_ref) = reference.step(previous, reference.initial_state(s_hat))
    assert (
        torch.allclose(ours, theirs, atol=1e-6)
        and torch.allclose(h, h_ref, atol=1e-6)
        and torch.allclose(c, c_ref, atol=1e-6)
    )
    decoded = decode(model, s_hat, max_length=3)
    assert decoded.sequences.shape == (3, 3) and decoded.step_scores.shape == (3, 3, 4)
    for row in decoded.sequences:
        picked = row[row >= 0].tolist()
        assert len(picked) == len(set(picked))  # greedy decoding never names a label twice


def path_log_probability(model: OrderFreeRNN, s_hat: torch.Tensor, path: tuple, cap: int) -> float:
    """log P(path) of one image: each label, then END unless the path has ``cap`` labels, from
    a softmax over the labels not yet emitted and END."""
    state = model.initial_state(s_hat[None])
    previous, emitted, total = model.start, [], 0.0
    steps = list(path) + ([model.end] if len(path) < cap else [])
    for label in steps:
        logits, state = model.step(torch.tensor([previous]), state)
        logits = logits[0].clone()
        logits[emitted] = float("-inf")
        total += float(torch.log_softmax(logits, dim=0)[label])
        emitted.append(label)
        previous = label
    return total


@torch.no_grad()
def test_a_wide_beam_finds_the_most_probable_path_of_every_path():
    torch.manual_seed(3)
    labels, cap = 3, 3
    model = OrderFreeRNN(labels, hidden=8, embedding=4).eval()
    with torch.no_grad():  # sharper distributions than the initial weights give
        model.output.weight.mul_(4.0)
    s_hat = torch.rand(12, labels)
    paths = [p for k in range(cap + 1) for p in permutations(range(labels), k)]  # 16 paths
    beam = decode(model, s_hat, max_length=cap, beam_size=len(paths))
    greedy = decode(model, s_hat, max_length=cap, beam_size=1)
    profile_beam = decode(model, s_hat, max_length=cap, beam_size=3)
    differs = 0
    for i in range(len(s_hat)):
        scores = {p: path_log_probability(model, s_hat[i], p, cap) for p in paths}
        best = max(scores, key=scores.get)
        found, wide, short = (
            tuple(int(x) for x in decoded.sequences[i] if x >= 0)
            for decoded in (beam, profile_beam, greedy)
        )
        assert found == best, (i, found, best)
        assert scores[wide] >= scores[short] - 1e-6
        differs += short != best
    assert differs > 0  # greedy misses the best path somewhere: the beam is doing work
    np.testing.assert_array_equal(beam.first_labels, beam.sequences[:, 0])


@pytest.mark.parametrize("name", ["demo", "nuswide-m3", "coco-multi-order"])
def test_profiles_decode_the_order_free_rnn_with_a_beam(name):
    baselines = load_profile(name).baselines
    assert baselines.order_free_beam_size == 3
    assert load_profile(name).rnn.beam_size == 1  # the fixed-order CNN-RNNs stay greedy
