"""The Multi-order RNN against the paper (Dutta et al. 2020, Eq. 1-7) and the authors' released
code: masked targets, the loss, inference and the decoders computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from annokit.models.multi_order_rnn import (
    PICKED_LOGIT,
    VARIANTS,
    MultiOrderRNN,
    length_mask,
    masked_targets,
    multi_order_loss,
    predict_multi_order,
)
from annokit.models.rnn_decoder import LabelDecoder, ReleasedLabelDecoder

# Fig. 2 of the paper: vocabulary {sky, cloud, hill, dog, man}, ground truth {sky, cloud, man}.
SKY, CLOUD, HILL, DOG, MAN = range(5)

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
    checked = [
        ("E", decoder.embedding.weight),
        ("W_h", decoder.init_h.weight),
        ("W_c", decoder.init_c.weight),
        ("LSTM input", decoder.lstm.weight_ih_l0),
        ("LSTM recurrent", decoder.lstm.weight_hh_l0),
    ]
    if variant == "paper-text":
        checked.append(("output W", decoder.output.weight))
    else:
        checked += [
            ("BN gamma", decoder.norm.weight),
            ("W_h of the head", decoder.output[0].weight),
            ("W_out", decoder.output[2].weight),
        ]
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
            np.testing.assert_allclose(
                out.step_scores[n], torch.sigmoid(steps).numpy(), rtol=1e-5, atol=1e-6
            )
            np.testing.assert_allclose(
                out.scores[n], torch.sigmoid(steps.max(dim=0).values).numpy(), rtol=1e-5
            )
    assert (out.annotation == (out.scores > 0.5)).all()
    assert out.sequences[0].tolist() == [2, 1, 2, 1]  # the argmax fed back changes the next step


# The released code (model/lstm/sem_multi_order.py): cumulative masks, the length mask, distinct
# picks, BN, the head.


def test_released_targets_mask_every_earlier_pick():
    y = torch.tensor([[1, 1, 0, 0, 1]])
    picks = torch.tensor([[SKY, CLOUD, SKY, HILL, MAN]])
    targets = masked_targets(y, picks, cumulative=True)[0]
    assert targets[0].tolist() == [1, 1, 0, 0, 1]  # t = 1: every true label
    assert targets[1].tolist() == [0, 1, 0, 0, 1]  # t = 2: sky picked
    # t = 3: sky and cloud picked (the text brings sky back)
    assert targets[2].tolist() == [0, 0, 0, 0, 1]
    assert targets[3].tolist() == [0, 0, 0, 0, 1]  # t = 4: sky picked again changes nothing
    assert targets[4].tolist() == [0, 0, 0, 0, 1]  # t = 5: a wrong pick (hill) masks nothing
    # T = 1
    assert masked_targets(y, picks[:, :1], cumulative=True)[0].tolist() == [[1, 1, 0, 0, 1]]


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
    # mean over all images, the empty one included
    assert released.item() == pytest.approx(total / 3, rel=1e-5)
    # the text: every step of every image
    assert multi_order_loss(logits, y, picks).item() > released.item()


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
    assert (
        predict_multi_order(constant_multi_order("paper-text", bias), s_hat).sequences.tolist()
        == [[1, 1, 1]] * 2
    )
    model = constant_multi_order("released-code", bias, steps=4)
    out = predict_multi_order(model, s_hat)
    assert out.sequences.tolist() == [[1, 0, 3, 2]] * 2  # each label once, by falling logit
    np.testing.assert_allclose(
        out.step_scores,
        np.broadcast_to(torch.sigmoid(torch.tensor(bias)).numpy(), (2, 4, 4)),
        rtol=1e-6,
    )
    # the raw logits are pooled, not the masked ones
    np.testing.assert_allclose(out.scores, out.step_scores.max(axis=1))
    model.train()
    # training feeds back the raw argmax (build_model)
    assert model(s_hat)[1].tolist() == [[1, 1, 1, 1]] * 2
    # build_sampler replaces a picked label's logit by -9: a label below -9 still loses to it
    low = predict_multi_order(
        constant_multi_order("released-code", [-10.0, 1.0, -12.0, -8.0]), s_hat
    )
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
        normed = (s_hat[0] - norm.running_mean) / torch.sqrt(
            norm.running_var + 1e-3
        ) * norm.weight + norm.bias
        h = torch.tanh(decoder.init_h.weight @ normed + decoder.init_h.bias)
        c = torch.tanh(decoder.init_c.weight @ normed + decoder.init_c.bias)
        h0, c0 = decoder.initial_state(s_hat)
        torch.testing.assert_close(h0[0, 0], h)
        torch.testing.assert_close(c0[0, 0], c)
        logits, _ = decoder.step(torch.tensor([3]), (h0, c0))  # START
        h1, _ = hand_lstm_cell(decoder, 3, h, c)
        w_h, w_out = decoder.output[0], decoder.output[2]
        # prev2out=False
        torch.testing.assert_close(
            logits[0], w_out.weight @ torch.tanh(w_h.weight @ h1 + w_h.bias) + w_out.bias
        )
    # training: batch statistics (biased variance), moving averages with decay 0.95
    decoder.train()
    batch = torch.tensor([[0.9, 0.2, 0.6], [0.1, 0.8, 0.3], [0.4, 0.4, 0.9]])
    mean, var = batch.mean(0), batch.var(0, unbiased=False)
    before_mean, before_var = norm.running_mean.clone(), norm.running_var.clone()
    with torch.no_grad():
        h0, _ = decoder.initial_state(batch)
        expected = torch.tanh(
            ((batch - mean) / torch.sqrt(var + 1e-3) * norm.weight + norm.bias)
            @ decoder.init_h.weight.T
            + decoder.init_h.bias
        )
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
    for layer, fans in [
        (decoder.init_h, c + h),
        (decoder.init_c, c + h),
        (decoder.output[0], h + m),
        (decoder.output[2], m + c),
    ]:
        # Xavier-uniform, zero bias
        assert spans(layer.weight, math.sqrt(6 / fans)) and (layer.bias == 0).all()
    lstm = decoder.lstm
    for weight in (lstm.weight_ih_l0, lstm.weight_hh_l0):
        assert spans(weight, math.sqrt(6 / (m + h + 4 * h)))  # BasicLSTMCell's (M + H) x 4H kernel
    # forget_bias 1
    assert (
        lstm.bias_ih_l0.tolist() == [0.0] * h + [1.0] * h + [0.0] * 2 * h
        and (lstm.bias_hh_l0 == 0).all()
    )
    assert (decoder.norm.weight == 1).all() and (decoder.norm.bias == 0).all()
    # decay 0.95, TF's epsilon
    assert decoder.norm.momentum == pytest.approx(0.05) and decoder.norm.eps == 1e-3
