"""The four losses of the CNN baselines on hand-made scores: values computed by hand, WARP's sampled
rank, LSEP against a plain double loop, and the linear heads' training on the fit images only."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from annokit.methods.baselines.linear_heads import count_classes, standardize
from annokit.models.baseline_losses import (
    harmonic_weights,
    logistic_loss,
    lsep_loss,
    softmax_loss,
    warp_loss,
    warp_rank_weights,
)

# One image, four labels: scores f and true labels {0, 1}.
F = torch.tensor([[2.0, 0.5, 0.0, 1.2]])
Y = torch.tensor([[1.0, 1.0, 0.0, 0.0]])


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_logistic_loss_by_hand():
    expected = -(
        math.log(sigmoid(2.0))
        + math.log(sigmoid(0.5))
        + math.log(1 - sigmoid(0.0))
        + math.log(1 - sigmoid(1.2))
    )
    assert float(logistic_loss(F, Y)) == pytest.approx(expected, rel=1e-6)


def test_softmax_loss_against_the_normalised_label_vector_by_hand():
    z = sum(math.exp(v) for v in (2.0, 0.5, 0.0, 1.2))
    # p̄ = (1/2, 1/2, 0, 0)
    expected = -(0.5 * math.log(math.exp(2.0) / z) + 0.5 * math.log(math.exp(0.5) / z))
    assert float(softmax_loss(F, Y)) == pytest.approx(expected, rel=1e-6)
    # an image without labels adds 0 but counts in the batch mean
    both = softmax_loss(torch.cat([F, F]), torch.cat([Y, torch.zeros_like(Y)]))
    assert float(both) == pytest.approx(expected / 2, rel=1e-6)


def test_harmonic_weights_are_l_of_r():
    assert harmonic_weights(4).tolist() == pytest.approx([0.0, 1.0, 1.5, 11 / 6])


def test_warp_loss_by_hand_with_its_sampled_rank():
    # Label 1 (f = 0.5) is violated by both negatives (1 - 0.5 + 0 > 0, 1 - 0.5 + 1.2 > 0): the
    # first draw violates, s = 1, r = floor(3 / 1) = 3, weight L(3) = 11/6; hinges 0.5 and 1.7.
    # Label 0 (f = 2) is violated by label 3 only (hinge 0.2): drawn first (s = 1, L(3) = 11/6) or
    # second (s = 2, r = 1, L(1) = 1), each with probability 1/2.
    first, second = 11 / 6 * (0.2 + 0.5 + 1.7), 1.0 * 0.2 + 11 / 6 * (0.5 + 1.7)
    generator = torch.Generator().manual_seed(0)
    values = Counter(round(float(warp_loss(F, Y, generator)), 5) for _ in range(4000))
    assert set(values) == {round(first, 5), round(second, 5)}
    assert values[round(first, 5)] / 4000 == pytest.approx(0.5, abs=0.03)


def test_warp_weights_are_constants_and_zero_without_violation():
    # every negative violates the positive label 0: s = 1 always
    f = torch.zeros(1, 4, requires_grad=True)
    y = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    loss = warp_loss(f, y)
    assert float(loss.detach()) == pytest.approx(11 / 6 * 3)  # L(3) · three hinges of 1
    loss.backward()
    # no gradient through L(r̂)
    assert f.grad[0].tolist() == pytest.approx([-11 / 6 * 3, 11 / 6, 11 / 6, 11 / 6])
    clear = torch.tensor([[5.0, 0.0, 0.0, 0.0]])
    assert float(warp_loss(clear, y)) == 0.0
    assert warp_rank_weights(clear, y).tolist() == [[0.0, 0.0, 0.0, 0.0]]


def test_lsep_loss_by_hand_and_stable():
    # pairs (v ∈ Y, u ∉ Y): f_u − f_v = 0 − 2, 1.2 − 2, 0 − 0.5, 1.2 − 0.5
    expected = math.log(1 + math.exp(-2.0) + math.exp(-0.8) + math.exp(-0.5) + math.exp(0.7))
    assert float(lsep_loss(F, Y)) == pytest.approx(expected, rel=1e-6)
    huge = torch.tensor([[1000.0, -1000.0, 900.0, 0.0]])
    # log(1 + e^1900 + …) without overflow
    assert float(lsep_loss(huge, Y)) == pytest.approx(1900.0)
    assert float(lsep_loss(F, torch.ones_like(Y))) == 0.0  # no negative label: log 1


def test_lsep_loss_and_gradient_against_a_double_loop():
    rng = np.random.default_rng(3)
    f = torch.tensor(rng.normal(size=(5, 7)), dtype=torch.float64, requires_grad=True)
    y = torch.tensor(rng.random((5, 7)) < 0.4, dtype=torch.float64)
    looped = []
    for i in range(5):
        terms = [
            torch.exp(f[i, u] - f[i, v])
            for v in range(7)
            for u in range(7)
            if y[i, v] and not y[i, u]
        ]
        looped.append(torch.log(1 + sum(terms, torch.zeros((), dtype=torch.float64))))
    reference = torch.stack(looped).mean()
    (grad_reference,) = torch.autograd.grad(reference, f)
    ours = lsep_loss(f, y)
    (grad_ours,) = torch.autograd.grad(ours, f)
    assert float(ours.detach()) == pytest.approx(float(reference.detach()), rel=1e-12)
    assert torch.allclose(grad_ours, grad_reference)


def test_count_classes_and_standardize_on_the_fit_images_only():
    labels = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 1], [1, 1, 0]])
    # 0 labels -> class of 1; 3 -> "2 or more"
    assert count_classes(labels, 2).tolist() == [0, 0, 1, 1]
    fit, other = np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[1.0, 2.0]])
    z_fit, z_other = standardize(fit, other)
    assert z_fit.mean(axis=0) == pytest.approx([0, 0], abs=1e-6) and z_other.tolist() == [
        [0.0, 0.0]
    ]
