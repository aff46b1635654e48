"""The fixed-order CNN-RNN baselines (Wang et al. 2016): label orders, teacher forcing, greedy and
beam decoding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from annokit.data.label_orders import (
    ORDERS,
    label_frequencies,
    label_priority,
    label_sequences,
    order_labels,
)
from annokit.models.rnn_decoder import (
    IGNORE,
    LabelDecoder,
    beam_decode,
    decode,
    greedy_decode,
    sequence_loss,
    teacher_forcing,
)

# Label orders.

NAMES = ("zebra", "ant", "cat", "bee")
FREQUENCIES = np.array([5, 2, 5, 1])


def test_label_priorities_on_a_hand_table():
    # tie 0/2: lower index first
    assert label_priority("frequent_first", FREQUENCIES, NAMES).tolist() == [0, 2, 1, 3]
    # tie 0/2: lower index first
    assert label_priority("rare_first", FREQUENCIES, NAMES).tolist() == [3, 1, 0, 2]
    assert label_priority("lexicographic", FREQUENCIES, NAMES).tolist() == [1, 3, 2, 0]
    with pytest.raises(ValueError, match="unknown"):
        label_priority("random", FREQUENCIES, NAMES)


def test_sequences_follow_the_order_and_train_frequencies():
    image = np.array([[True, True, True, False]])  # zebra, ant, cat
    expected = {"frequent_first": [0, 2, 1], "rare_first": [1, 0, 2], "lexicographic": [1, 2, 0]}
    for order, sequence in expected.items():
        assert (
            order_labels(image, label_priority(order, FREQUENCIES, NAMES))[0].tolist() == sequence
        )
    train = np.zeros((5, 4), dtype=bool)
    for label, count in enumerate(FREQUENCIES):
        train[:count, label] = True
    assert label_frequencies(train).tolist() == FREQUENCIES.tolist()
    assert label_sequences("rare_first", train, image, NAMES)[0].tolist() == [1, 0, 2]
    assert (
        label_sequences("frequent_first", train, np.zeros((1, 4), dtype=bool), NAMES)[0].tolist()
        == []
    )
    assert set(ORDERS) == set(expected)


# Fixed-order sequence model.


def test_teacher_forced_targets_end_with_END():
    inputs, targets = teacher_forcing(
        [np.array([2, 0]), np.array([1]), np.array([], dtype=np.int64)], num_labels=3
    )
    assert inputs.tolist() == [[3, 2, 0], [3, 1, 3], [3, 3, 3]]  # START = 3
    assert targets.tolist() == [[2, 0, 3], [1, 3, IGNORE], [3, IGNORE, IGNORE]]  # END = 3
    decoder = LabelDecoder(3, hidden=4, embedding=2, end_token=True)
    logits = decoder(torch.rand(3, 3), torch.as_tensor(inputs))
    assert logits.shape == (3, 3, 4)
    t = torch.as_tensor(targets)
    expected = (
        sum(
            F.cross_entropy(logits[i, k][None], t[i, k][None])
            for i in range(3)
            for k in range(3)
            if t[i, k] != IGNORE
        )
        / 3
    )
    assert sequence_loss(logits, t).item() == pytest.approx(expected.item(), rel=1e-6)


def constant_decoder(bias: list[float]) -> LabelDecoder:
    """A decoder whose logits are ``bias`` at every step, whatever it reads."""
    decoder = LabelDecoder(len(bias) - 1, hidden=2, embedding=2, end_token=True)
    with torch.no_grad():
        decoder.output.weight.zero_()
        decoder.output.bias.copy_(torch.tensor(bias))
    return decoder


def test_greedy_never_repeats_and_stops_at_END_or_the_cap():
    s_hat = torch.rand(2, 3)
    out = greedy_decode(constant_decoder([5.0, 4.0, 3.0, -10.0]), s_hat, max_length=5)
    # label 0 is best every step, yet emitted once
    assert out.sequences.tolist() == [[0, 1, 2, -1, -1]] * 2
    # step 2: label 0 masked, renormalised
    probs = torch.softmax(torch.tensor([4.0, 3.0, -10.0]), 0)
    np.testing.assert_allclose(out.step_scores[0, 1], [0.0, probs[0], probs[1]], rtol=1e-5)
    assert (out.step_scores[:, 4] == 0).all()  # after END
    assert (
        greedy_decode(constant_decoder([5.0, 4.0, 3.0, -10.0]), s_hat, 2).sequences.tolist()
        == [[0, 1]] * 2
    )
    ends = greedy_decode(constant_decoder([5.0, 0.0, 0.0, 3.0]), s_hat, 4)
    assert ends.sequences.tolist() == [[0, -1, -1, -1]] * 2 and ends.first_labels.tolist() == [0, 0]
    assert ends.annotation.tolist() == [[True, False, False]] * 2

    torch.manual_seed(0)
    random_out = decode(
        LabelDecoder(6, hidden=8, embedding=4, end_token=True), torch.rand(50, 6), max_length=4
    )
    for seq in random_out.sequences:
        labels = seq[seq >= 0]
        assert len(labels) == len(set(labels.tolist())) <= 4
        assert (seq[len(labels) :] == -1).all()  # nothing after the end
    np.testing.assert_array_equal(random_out.scores, random_out.step_scores.max(axis=1))


def path_log_probability(out, n: int) -> float:
    """log P of decoded path n: its labels' probabilities, then END's (1 - the labels' mass) unless
    cut at the cap."""
    seq = out.sequences[n]
    k = int((seq >= 0).sum())
    total = sum(math.log(out.step_scores[n, t, seq[t]]) for t in range(k))
    if k < len(seq):
        total += math.log(max(1.0 - float(out.step_scores[n, k].sum()), 1e-30))
    return total


def test_beam_of_one_is_greedy_and_wider_beams_find_likelier_paths():
    torch.manual_seed(1)
    decoder = LabelDecoder(5, hidden=8, embedding=4, end_token=True)
    with torch.no_grad():
        for param in decoder.parameters():
            param.copy_(torch.randn_like(param))
    s_hat = torch.rand(40, 5)
    greedy = greedy_decode(decoder, s_hat, 4)
    beam1 = beam_decode(decoder, s_hat, 1, 4)
    np.testing.assert_array_equal(beam1.sequences, greedy.sequences)
    np.testing.assert_allclose(beam1.step_scores, greedy.step_scores, rtol=1e-6)
    beam3 = beam_decode(decoder, s_hat, 3, 4)
    for n in range(40):
        labels = beam3.sequences[n][beam3.sequences[n] >= 0]
        assert len(labels) == len(set(labels.tolist()))
        assert path_log_probability(beam3, n) >= path_log_probability(greedy, n) - 1e-5
    assert any(
        path_log_probability(beam3, n) > path_log_probability(greedy, n) + 1e-4 for n in range(40)
    )
