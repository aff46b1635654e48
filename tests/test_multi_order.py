"""Tests for the Multi-order RNN (Dutta et al. 2020, Eq. 1-7), its fixed-order CNN-RNN baselines and label orders."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from annokit.data.label_orders import ORDERS, label_frequencies, label_priority, label_sequences, order_labels
from annokit.models.multi_order_rnn import MultiOrderRNN, masked_targets, multi_order_loss, predict_multi_order
from annokit.models.rnn_decoder import (
    IGNORE,
    LabelDecoder,
    beam_decode,
    decode,
    greedy_decode,
    sequence_loss,
    teacher_forcing,
)
from annokit.multi_order_rnn import (
    MULTI_ORDER,
    cnn_predictions,
    first_labels,
    fixed_order_predictions,
    multi_order_predictions,
    table1,
    table4,
    train_fixed_order,
    train_multi_order,
)
from annokit.predictions import Predictions
from annokit.profile import RNNSettings, load_profile

# Fig. 2 of the paper: vocabulary {sky, cloud, hill, dog, man}, ground truth {sky, cloud, man}.
SKY, CLOUD, HILL, DOG, MAN = range(5)


def synthetic_problem(n: int = 240, c: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Correlated labels (label 2k+1 mostly comes with 2k) and noisy CNN scores of them."""
    rng = np.random.default_rng(seed)
    base = rng.random((n, c // 2)) < 0.35
    follow = base & (rng.random((n, c // 2)) < 0.8)
    y = np.stack([base, follow], axis=2).reshape(n, c)
    s_hat = 1 / (1 + np.exp(-(np.where(y, 1.5, -2.5) + rng.normal(0, 1.0, y.shape))))
    return s_hat.astype(np.float32), y


# Eq. 4-7: masked targets and the loss.


def test_masked_targets_reproduce_fig2():
    y = torch.tensor([[1, 1, 0, 0, 1]])
    picks = torch.tensor([[SKY, CLOUD, SKY, HILL]])  # t = 1 … 4; hill is a wrong pick
    targets = masked_targets(y, picks)
    assert targets.shape == (1, 4, 5)
    assert targets[0, 0].tolist() == [1, 1, 0, 0, 1]  # t = 1: every true label
    assert targets[0, 1].tolist() == [0, 1, 0, 0, 1]  # t = 2: sky (picked at t = 1) negative
    assert targets[0, 2].tolist() == [1, 0, 0, 0, 1]  # t = 3: sky is back, cloud negative
    assert targets[0, 3].tolist() == [0, 1, 0, 0, 1]  # t = 4: sky masked again
    # a wrong pick at t = 4 would mask nothing at t = 5
    assert masked_targets(y, torch.tensor([[HILL, SKY]]))[0, 1].tolist() == [1, 1, 0, 0, 1]


def test_loss_is_eq7_summed_over_steps_and_labels():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 5)
    y = torch.tensor([[1, 1, 0, 0, 1], [0, 0, 1, 0, 0]])
    picks = torch.tensor([[SKY, CLOUD, MAN], [HILL, HILL, DOG]])
    total = 0.0
    for i in range(2):
        for t in range(3):
            for c in range(5):
                target = float(y[i, c]) * (0.0 if t > 0 and picks[i, t - 1] == c else 1.0)
                p = torch.sigmoid(logits[i, t, c])
                total -= target * math.log(p) + (1 - target) * math.log(1 - p)
    assert multi_order_loss(logits, y, picks).item() == pytest.approx(total / 2, rel=1e-5)


def test_gradients_reach_embedding_lstm_and_score_projection():
    torch.manual_seed(0)
    model = MultiOrderRNN(num_labels=5, hidden=8, embedding=4, steps=3)
    s_hat = torch.rand(4, 5)
    logits, picks = model(s_hat)
    assert logits.shape == (4, 3, 5) and picks.shape == (4, 3)
    multi_order_loss(logits, torch.randint(0, 2, (4, 5)), picks).backward()
    decoder = model.decoder
    for name, param in [("E", decoder.embedding.weight), ("W_h", decoder.init_h.weight), ("W_c", decoder.init_c.weight),
                        ("LSTM input", decoder.lstm.weight_ih_l0), ("LSTM recurrent", decoder.lstm.weight_hh_l0),
                        ("output W", decoder.output.weight)]:
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert decoder.embedding.weight.grad[decoder.start].abs().sum() > 0  # the learned start input


# Inference against a hand computation.


def hand_lstm_step(decoder: LabelDecoder, previous: int, h: torch.Tensor, c: torch.Tensor):
    lstm = decoder.lstm
    x = decoder.embedding.weight[previous]
    gates = lstm.weight_ih_l0 @ x + lstm.bias_ih_l0 + lstm.weight_hh_l0 @ h + lstm.bias_hh_l0
    i, f, g, o = gates.chunk(4)  # PyTorch's gate order
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return decoder.output.weight @ h + decoder.output.bias, h, c


def test_inference_equals_hand_computation():
    torch.manual_seed(18)  # a seed whose fed-back label alternates, as in Sec. 3.3's l1, l5, l1, l5
    model = MultiOrderRNN(num_labels=3, hidden=2, embedding=2, steps=4)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn_like(param) * 2)
    s_hat = torch.tensor([[0.9, 0.2, 0.6], [0.1, 0.8, 0.3]])
    out = predict_multi_order(model, s_hat.numpy())
    decoder = model.decoder
    with torch.no_grad():
        for n in range(2):
            h = torch.tanh(decoder.init_h.weight @ s_hat[n] + decoder.init_h.bias)
            c = torch.tanh(decoder.init_c.weight @ s_hat[n] + decoder.init_c.bias)
            previous, steps, picks = 3, [], []  # 3 = START row of E
            for _ in range(4):
                y_t, h, c = hand_lstm_step(decoder, previous, h, c)
                previous = int(torch.argmax(y_t))
                steps.append(y_t)
                picks.append(previous)
            steps = torch.stack(steps)
            assert out.sequences[n].tolist() == picks
            np.testing.assert_allclose(out.step_scores[n], torch.sigmoid(steps).numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(out.scores[n], torch.sigmoid(steps.max(dim=0).values).numpy(), rtol=1e-5)
    assert (out.annotation == (out.scores > 0.5)).all()
    assert out.sequences[0].tolist() == [2, 1, 2, 1]  # the argmax fed back changes the next step


# Label orders.

NAMES = ("zebra", "ant", "cat", "bee")
FREQUENCIES = np.array([5, 2, 5, 1])


def test_label_priorities_on_a_hand_table():
    assert label_priority("frequent_first", FREQUENCIES, NAMES).tolist() == [0, 2, 1, 3]  # tie 0/2: lower index first
    assert label_priority("rare_first", FREQUENCIES, NAMES).tolist() == [3, 1, 0, 2]  # tie 0/2: lower index first
    assert label_priority("lexicographic", FREQUENCIES, NAMES).tolist() == [1, 3, 2, 0]
    with pytest.raises(ValueError, match="unknown"):
        label_priority("random", FREQUENCIES, NAMES)


def test_sequences_follow_the_order_and_train_frequencies():
    image = np.array([[True, True, True, False]])  # zebra, ant, cat
    expected = {"frequent_first": [0, 2, 1], "rare_first": [1, 0, 2], "lexicographic": [1, 2, 0]}
    for order, sequence in expected.items():
        assert order_labels(image, label_priority(order, FREQUENCIES, NAMES))[0].tolist() == sequence
    train = np.zeros((5, 4), dtype=bool)
    for label, count in enumerate(FREQUENCIES):
        train[:count, label] = True
    assert label_frequencies(train).tolist() == FREQUENCIES.tolist()
    assert label_sequences("rare_first", train, image, NAMES)[0].tolist() == [1, 0, 2]
    assert label_sequences("frequent_first", train, np.zeros((1, 4), dtype=bool), NAMES)[0].tolist() == []
    assert set(ORDERS) == set(expected)


# Fixed-order sequence model.


def test_teacher_forced_targets_end_with_END():
    inputs, targets = teacher_forcing([np.array([2, 0]), np.array([1]), np.array([], dtype=np.int64)], num_labels=3)
    assert inputs.tolist() == [[3, 2, 0], [3, 1, 3], [3, 3, 3]]  # START = 3
    assert targets.tolist() == [[2, 0, 3], [1, 3, IGNORE], [3, IGNORE, IGNORE]]  # END = 3
    decoder = LabelDecoder(3, hidden=4, embedding=2, end_token=True)
    logits = decoder(torch.rand(3, 3), torch.as_tensor(inputs))
    assert logits.shape == (3, 3, 4)
    t = torch.as_tensor(targets)
    expected = sum(F.cross_entropy(logits[i, k][None], t[i, k][None]) for i in range(3) for k in range(3) if t[i, k] != IGNORE) / 3
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
    assert out.sequences.tolist() == [[0, 1, 2, -1, -1]] * 2  # label 0 is best every step, yet emitted once
    probs = torch.softmax(torch.tensor([4.0, 3.0, -10.0]), 0)  # step 2: label 0 masked, renormalised
    np.testing.assert_allclose(out.step_scores[0, 1], [0.0, probs[0], probs[1]], rtol=1e-5)
    assert (out.step_scores[:, 4] == 0).all()  # after END
    assert greedy_decode(constant_decoder([5.0, 4.0, 3.0, -10.0]), s_hat, 2).sequences.tolist() == [[0, 1]] * 2
    ends = greedy_decode(constant_decoder([5.0, 0.0, 0.0, 3.0]), s_hat, 4)
    assert ends.sequences.tolist() == [[0, -1, -1, -1]] * 2 and ends.first_labels.tolist() == [0, 0]
    assert ends.annotation.tolist() == [[True, False, False]] * 2

    torch.manual_seed(0)
    random_out = decode(LabelDecoder(6, hidden=8, embedding=4, end_token=True), torch.rand(50, 6), max_length=4)
    for seq in random_out.sequences:
        labels = seq[seq >= 0]
        assert len(labels) == len(set(labels.tolist())) <= 4
        assert (seq[len(labels):] == -1).all()  # nothing after the end
    np.testing.assert_array_equal(random_out.scores, random_out.step_scores.max(axis=1))


def path_log_probability(out, n: int) -> float:
    """log P of decoded path n: its labels' probabilities, then END's (1 - the labels' mass) unless cut at the cap."""
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
    assert any(path_log_probability(beam3, n) > path_log_probability(greedy, n) + 1e-4 for n in range(40))


# Training, prediction files and top-1.


def test_training_decreases_the_loss(tmp_path):
    s_hat, y = synthetic_problem()
    settings = RNNSettings(hidden=32, embedding=16, steps=3, lr=1e-3, epochs=4, batch_size=16, max_length=4)
    model, history = train_multi_order(s_hat[:200], y[:200], settings, 0, tmp_path, s_eval=s_hat[200:], y_eval=y[200:])
    assert history.train_loss[-1] < 0.7 * history.train_loss[0]
    assert history.metrics[-1]["eval_loss"] < history.metrics[0]["eval_loss"]
    assert (tmp_path / "rnn" / "multi_order_rnn" / "final.pt").exists()
    pred = multi_order_predictions(model, s_hat[200:], np.arange(200, 240))
    assert pred.model == MULTI_ORDER and pred.step_scores.shape == (40, 3, 6) and pred.sequences.shape == (40, 3)

    names = [f"label{j}" for j in range(6)]
    decoder, fixed_history = train_fixed_order("rare_first", s_hat[:200], y[:200], names, settings, 0, tmp_path)
    assert fixed_history.train_loss[-1] < 0.7 * fixed_history.train_loss[0]
    assert (tmp_path / "rnn" / "cnn_rnn_rare_first" / "final.pt").exists()
    fixed = fixed_order_predictions("rare_first", decoder, s_hat[200:], np.arange(200, 240), settings)
    assert fixed.model == "cnn_rnn_rare_first" and "greedy" in fixed.rule
    np.testing.assert_array_equal(fixed.scores, fixed.step_scores.max(axis=1))

    again, _ = train_multi_order(s_hat[:200], y[:200], settings, 0, tmp_path)  # final.pt reused, same weights
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_top1_accuracy_and_tables():
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    scores = np.full((4, 3), 0.2, dtype=np.float32)
    multi = Predictions(MULTI_ORDER, np.arange(4), scores, scores > 0.5, "test",
                        sequences=np.array([[2, 0], [0, 1], [1, 1], [2, 2]]))  # first labels: right, wrong, right, right
    rare = Predictions("cnn_rnn_rare_first", np.arange(4), scores, scores > 0.5, "test",
                       sequences=np.array([[0, -1], [-1, -1], [2, 0], [1, -1]]))  # right, none (wrong), wrong, wrong
    assert first_labels(multi).tolist() == [2, 0, 1, 2]
    top1 = table4([rare, multi], y)
    assert top1["top-1"].tolist() == [25.0, 75.0]
    assert list(top1.index) == ["CNN-RNN (rare-first)", "Multi-order RNN"]

    cnn = cnn_predictions(np.array([[0.9, 0.1, 0.6], [0.2, 0.7, 0.1], [0.8, 0.3, 0.2], [0.1, 0.2, 0.9]]), np.arange(4))
    frame = table1([cnn], y)
    assert list(frame.columns) == ["C-P", "C-R", "C-F1", "S-P", "S-R", "S-F1", "mAP"]
    assert frame.loc["CNN (BCE)", "S-P"] == pytest.approx(100.0)
    assert frame.loc["CNN (BCE)", "S-R"] == pytest.approx(100 * (1 + 1 + 0.5 + 1) / 4)
    assert frame.loc["CNN (BCE)", "mAP"] == pytest.approx(100.0)


def test_settings_come_from_the_profile():
    profile = load_profile("demo")
    settings = profile.rnn
    assert (settings.hidden, settings.embedding, settings.steps, settings.optimizer) == (512, 256, 5, "rmsprop")
    assert settings.with_epochs(2).epochs == 2 and settings.with_epochs(None) is settings
    assert settings.with_epochs(2).fixed_order_epochs == 2  # never more than the Multi-order RNN's
    assert load_profile("demo", seed=7).seed == 7
