"""Tests for the Multi-order RNN (Dutta et al. 2020, Eq. 1-7), its fixed-order CNN-RNN baselines and label orders."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from annokit.artifacts.predictions import Predictions
from annokit.data.label_orders import (
    ORDERS,
    label_frequencies,
    label_priority,
    label_sequences,
    order_labels,
)
from annokit.methods.multi_order import (
    MULTI_ORDER,
    MULTI_ORDER_PAPER_TEXT,
    TABLE1_ROWS,
    DecoderData,
    cnn_predictions,
    first_labels,
    fixed_order_predictions,
    multi_order_predictions,
    table1,
    table4,
    train_decoder,
    train_fixed_order,
    train_multi_order,
    variant_settings,
)
from annokit.models.multi_order_rnn import (
    PICKED_LOGIT,
    VARIANTS,
    MultiOrderRNN,
    length_mask,
    masked_targets,
    multi_order_loss,
    predict_multi_order,
)
from annokit.models.rnn_decoder import (
    IGNORE,
    LabelDecoder,
    ReleasedLabelDecoder,
    beam_decode,
    decode,
    greedy_decode,
    sequence_loss,
    teacher_forcing,
)
from annokit.profile import ProfileError, RNNSettings, load_profile
from annokit.profile.strict import build
from annokit.training.config import build_optimizer, fit_config
from annokit.training.parallel import run_jobs

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


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_reach_embedding_lstm_and_score_projection(variant):
    torch.manual_seed(0)
    model = MultiOrderRNN(num_labels=5, hidden=8, embedding=4, steps=3, variant=variant)
    s_hat = torch.rand(4, 5)
    logits, picks = model(s_hat)
    assert logits.shape == (4, 3, 5) and picks.shape == (4, 3)
    multi_order_loss(logits, torch.tensor([[1, 1, 1, 0, 0]] * 4), picks, variant).backward()
    decoder = model.decoder
    checked = [("E", decoder.embedding.weight), ("W_h", decoder.init_h.weight), ("W_c", decoder.init_c.weight),
               ("LSTM input", decoder.lstm.weight_ih_l0), ("LSTM recurrent", decoder.lstm.weight_hh_l0)]
    if variant == "paper-text":
        checked.append(("output W", decoder.output.weight))
    else:
        checked += [("BN gamma", decoder.norm.weight), ("W_h of the head", decoder.output[0].weight), ("W_out", decoder.output[2].weight)]
    for name, param in checked:
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert decoder.embedding.weight.grad[decoder.start].abs().sum() > 0  # the learned start input


# Inference against a hand computation.


def hand_lstm_cell(decoder: LabelDecoder, previous: int, h: torch.Tensor, c: torch.Tensor):
    lstm = decoder.lstm
    x = decoder.embedding.weight[previous]
    gates = lstm.weight_ih_l0 @ x + lstm.bias_ih_l0 + lstm.weight_hh_l0 @ h + lstm.bias_hh_l0
    i, f, g, o = gates.chunk(4)  # PyTorch's gate order
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def hand_lstm_step(decoder: LabelDecoder, previous: int, h: torch.Tensor, c: torch.Tensor):
    h, c = hand_lstm_cell(decoder, previous, h, c)
    return decoder.output.weight @ h + decoder.output.bias, h, c  # Eq. 3


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


# The released code (model/lstm/sem_multi_order.py): cumulative masks, the length mask, distinct picks, BN, the head.


def test_released_targets_mask_every_earlier_pick():
    y = torch.tensor([[1, 1, 0, 0, 1]])
    picks = torch.tensor([[SKY, CLOUD, SKY, HILL, MAN]])
    targets = masked_targets(y, picks, cumulative=True)[0]
    assert targets[0].tolist() == [1, 1, 0, 0, 1]  # t = 1: every true label
    assert targets[1].tolist() == [0, 1, 0, 0, 1]  # t = 2: sky picked
    assert targets[2].tolist() == [0, 0, 0, 0, 1]  # t = 3: sky and cloud picked (the text brings sky back)
    assert targets[3].tolist() == [0, 0, 0, 0, 1]  # t = 4: sky picked again changes nothing
    assert targets[4].tolist() == [0, 0, 0, 0, 1]  # t = 5: a wrong pick (hill) masks nothing
    assert masked_targets(y, picks[:, :1], cumulative=True)[0].tolist() == [[1, 1, 0, 0, 1]]  # T = 1


def test_released_loss_counts_step_t_only_for_images_with_more_than_t_labels():
    torch.manual_seed(0)
    logits = torch.randn(3, 3, 5)
    y = torch.tensor([[1, 1, 0, 0, 1], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]])
    picks = torch.tensor([[SKY, CLOUD, MAN], [HILL, HILL, DOG], [DOG, SKY, SKY]])
    assert length_mask(y, 3).tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]  # 3, 1 and 0 true labels
    total = 0.0
    for i in range(3):
        for t in range(int(y[i].sum().clamp(max=3))):  # steps t = 0 … |y|-1 only
            for c in range(5):
                target = float(y[i, c]) * (0.0 if c in picks[i, :t].tolist() else 1.0)
                p = torch.sigmoid(logits[i, t, c])
                total -= target * math.log(p) + (1 - target) * math.log(1 - p)
    released = multi_order_loss(logits, y, picks, "released-code")
    assert released.item() == pytest.approx(total / 3, rel=1e-5)  # mean over all images, the empty one included
    assert multi_order_loss(logits, y, picks).item() > released.item()  # the text: every step of every image


def constant_multi_order(variant: str, bias: list[float], steps: int = 3) -> MultiOrderRNN:
    """A Multi-order RNN whose logits are ``bias`` at every step, whatever it reads."""
    model = MultiOrderRNN(len(bias), hidden=4, embedding=2, steps=steps, variant=variant)
    last = model.decoder.output if variant == "paper-text" else model.decoder.output[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor(bias))
    return model


def test_released_inference_picks_distinct_labels():
    bias = [2.0, 3.0, -1.0, 0.5]
    s_hat = torch.rand(2, 4)
    assert predict_multi_order(constant_multi_order("paper-text", bias), s_hat).sequences.tolist() == [[1, 1, 1]] * 2
    model = constant_multi_order("released-code", bias, steps=4)
    out = predict_multi_order(model, s_hat)
    assert out.sequences.tolist() == [[1, 0, 3, 2]] * 2  # each label once, by falling logit
    np.testing.assert_allclose(out.step_scores, np.broadcast_to(torch.sigmoid(torch.tensor(bias)).numpy(), (2, 4, 4)), rtol=1e-6)
    np.testing.assert_allclose(out.scores, out.step_scores.max(axis=1))  # the raw logits are pooled, not the masked ones
    model.train()
    assert model(s_hat)[1].tolist() == [[1, 1, 1, 1]] * 2  # training feeds back the raw argmax (build_model)
    # build_sampler replaces a picked label's logit by -9: a label below -9 still loses to it
    low = predict_multi_order(constant_multi_order("released-code", [-10.0, 1.0, -12.0, -8.0]), s_hat)
    assert PICKED_LOGIT == -9.0 and low.sequences.tolist() == [[1, 3, 1]] * 2


def test_released_decoder_equals_hand_computation():
    torch.manual_seed(3)
    decoder = ReleasedLabelDecoder(3, hidden=4, embedding=2)
    norm = decoder.norm
    with torch.no_grad():
        for param in decoder.parameters():
            param.copy_(torch.randn_like(param))
        norm.running_mean.copy_(torch.tensor([0.5, 0.2, 0.4]))
        norm.running_var.copy_(torch.tensor([0.04, 0.09, 0.01]))
    decoder.eval()
    s_hat = torch.tensor([[0.9, 0.2, 0.6]])
    with torch.no_grad():
        normed = (s_hat[0] - norm.running_mean) / torch.sqrt(norm.running_var + 1e-3) * norm.weight + norm.bias
        h = torch.tanh(decoder.init_h.weight @ normed + decoder.init_h.bias)
        c = torch.tanh(decoder.init_c.weight @ normed + decoder.init_c.bias)
        h0, c0 = decoder.initial_state(s_hat)
        torch.testing.assert_close(h0[0, 0], h)
        torch.testing.assert_close(c0[0, 0], c)
        logits, _ = decoder.step(torch.tensor([3]), (h0, c0))  # START
        h1, _ = hand_lstm_cell(decoder, 3, h, c)
        w_h, w_out = decoder.output[0], decoder.output[2]
        torch.testing.assert_close(logits[0], w_out.weight @ torch.tanh(w_h.weight @ h1 + w_h.bias) + w_out.bias)  # prev2out=False
    # training: batch statistics (biased variance), moving averages with decay 0.95
    decoder.train()
    batch = torch.tensor([[0.9, 0.2, 0.6], [0.1, 0.8, 0.3], [0.4, 0.4, 0.9]])
    mean, var = batch.mean(0), batch.var(0, unbiased=False)
    before_mean, before_var = norm.running_mean.clone(), norm.running_var.clone()
    with torch.no_grad():
        h0, _ = decoder.initial_state(batch)
        expected = torch.tanh(((batch - mean) / torch.sqrt(var + 1e-3) * norm.weight + norm.bias) @ decoder.init_h.weight.T
                              + decoder.init_h.bias)
    torch.testing.assert_close(h0[0], expected)
    torch.testing.assert_close(norm.running_mean, 0.95 * before_mean + 0.05 * mean)
    torch.testing.assert_close(norm.running_var, 0.95 * before_var + 0.05 * var)
    decoder.initial_state(batch[:1])  # one image (a last batch of one): allowed, as in TF


def test_released_initialisation_follows_the_release():
    torch.manual_seed(0)
    c, h, m = 81, 512, 256
    decoder = ReleasedLabelDecoder(c, hidden=h, embedding=m)

    def spans(weight: torch.Tensor, bound: float) -> bool:
        return weight.abs().max() <= bound and weight.abs().max() > 0.98 * bound

    assert spans(decoder.embedding.weight, 1.0)  # U(-1, 1)
    for layer, fans in [(decoder.init_h, c + h), (decoder.init_c, c + h), (decoder.output[0], h + m), (decoder.output[2], m + c)]:
        assert spans(layer.weight, math.sqrt(6 / fans)) and (layer.bias == 0).all()  # Xavier-uniform, zero bias
    lstm = decoder.lstm
    for weight in (lstm.weight_ih_l0, lstm.weight_hh_l0):
        assert spans(weight, math.sqrt(6 / (m + h + 4 * h)))  # BasicLSTMCell's (M + H) x 4H kernel
    assert lstm.bias_ih_l0.tolist() == [0.0] * h + [1.0] * h + [0.0] * 2 * h and (lstm.bias_hh_l0 == 0).all()  # forget_bias 1
    assert (decoder.norm.weight == 1).all() and (decoder.norm.bias == 0).all()
    assert decoder.norm.momentum == pytest.approx(0.05) and decoder.norm.eps == 1e-3  # decay 0.95, TF's epsilon


@pytest.mark.parametrize("name, lr", [("nuswide-m3", 1e-4), ("coco-multi-order", 1e-4), ("demo", 2e-3)])
def test_rmsprop_settings_of_each_variant_reach_torch(name, lr):
    settings = load_profile(name).rnn
    assert settings.variant == "released-code"
    param = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = build_optimizer(param, fit_config(settings, seed=0))
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.RMSprop)  # config.py: decay 0.9, momentum 0.9, epsilon 1.0, lr 1e-4 (the demo's own)
    assert (group["lr"], group["alpha"], group["momentum"], group["eps"], group["weight_decay"]) == (lr, 0.9, 0.9, 1.0, 0.0)
    text = variant_settings(settings, "paper-text")  # the other variant, and the baselines
    group = build_optimizer(param, fit_config(text, seed=0)).param_groups[0]
    assert (group["lr"], group["alpha"], group["momentum"], group["eps"], group["weight_decay"]) == (1e-4, 0.99, 0.9, 1e-8, 0.0)
    assert text.variant == "paper-text" and text.seeds == () and variant_settings(settings, "released-code") is settings
    assert (text.hidden, text.embedding, text.steps, text.epochs, text.batch_size) == \
        (settings.hidden, settings.embedding, settings.steps, settings.epochs, settings.batch_size)


def test_variant_is_a_checked_setting():
    choices = next(f for f in dataclasses.fields(RNNSettings) if f.name == "variant").metadata["choices"]
    assert set(choices) == set(VARIANTS)
    table = {"epochs": 1, "batch_size": 2, "lr": 0.1}
    assert build(RNNSettings, table, "x.toml", "rnn").variant == "paper-text"  # a section without it: as before
    with pytest.raises(ProfileError, match="variant"):
        build(RNNSettings, {**table, "variant": "released"}, "x.toml", "rnn")
    with pytest.raises(ProfileError, match="rmsprop_eps"):
        build(RNNSettings, {**table, "rmsprop_eps": 0.0}, "x.toml", "rnn")
    with pytest.raises(ValueError, match="variant"):
        MultiOrderRNN(3, variant="released")


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
    assert history.metrics[-1]["val_loss"] < history.metrics[0]["val_loss"]
    assert (tmp_path / "rnn" / "multi_order_rnn_paper_text" / "final.pt").exists()
    pred = multi_order_predictions(model, s_hat[200:], np.arange(200, 240))
    assert pred.model == MULTI_ORDER_PAPER_TEXT and pred.step_scores.shape == (40, 3, 6) and pred.sequences.shape == (40, 3)
    assert pred.meta["variant"] == "paper-text"

    released_settings = dataclasses.replace(settings, variant="released-code", rmsprop_alpha=0.9, rmsprop_eps=1.0, lr=2e-2)
    released, released_history = train_multi_order(s_hat[:200], y[:200], released_settings, 0, tmp_path)
    assert released_history.train_loss[-1] < 0.7 * released_history.train_loss[0]
    assert (tmp_path / "rnn" / "multi_order_rnn" / "final.pt").exists()  # its own run folder
    released_pred = multi_order_predictions(released, s_hat[200:], np.arange(200, 240))
    assert released_pred.model == MULTI_ORDER and released_pred.meta["variant"] == "released-code"
    assert all(len(set(seq.tolist())) == 3 for seq in released_pred.sequences)

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
    assert list(top1.index) == ["CNN-RNN (rare-first)", "Multi-order RNN (released code)"]
    assert TABLE1_ROWS[MULTI_ORDER_PAPER_TEXT] == "Multi-order RNN (paper text)"

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
    assert settings.variant == "released-code"
    assert settings.with_epochs(2).epochs == 2 and settings.with_epochs(None) is settings
    assert not hasattr(settings, "baseline_epochs")  # the baselines train exactly as long as the Multi-order RNN
    assert load_profile("demo", seed=7).seed == 7


@pytest.mark.slow
def test_every_decoder_trains_alike_and_a_second_process_gives_the_same_predictions(tmp_path):
    s_hat, y = synthetic_problem()
    settings = RNNSettings(hidden=16, embedding=8, steps=3, lr=1e-3, epochs=2, batch_size=32, max_length=4)
    data = DecoderData(s_hat[:160], y[:160], s_hat[160:200], y[160:200], s_hat[200:], np.arange(200, 240),
                       tuple(f"label{j}" for j in range(6)))
    jobs = [(model, settings, seed, 0, data, tmp_path / "a") for model in ("released-code", "rare_first") for seed in (0, 3)]
    in_process = run_jobs(train_decoder, jobs, workers=1)
    names = [p.model for p, _ in in_process]
    assert names == ["multi_order_rnn", "multi_order_rnn@seed3", "cnn_rnn_rare_first", "cnn_rnn_rare_first@seed3"]
    assert all(len(h.epoch) == settings.epochs and "val_loss" in h.metrics[-1] for _, h in in_process)  # same epochs, curve on validation
    assert (tmp_path / "a" / "seeds" / "seed3" / "rnn" / "cnn_rnn_rare_first" / "final.pt").exists()
    spawned = run_jobs(train_decoder, [(*job[:5], tmp_path / "b") for job in jobs], workers=2)
    for (mine, _), (theirs, _) in zip(in_process, spawned):
        np.testing.assert_array_equal(mine.scores, theirs.scores)
