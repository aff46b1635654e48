"""Partial labels (Durand et al. 2019): the three losses and g(p) against the paper's formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from annokit.methods.partial_labels import (
    LOSSES,
    NEGATIVE,
    POSITIVE,
    UNKNOWN,
    known_proportion,
    mask_labels,
)
from annokit.models.losses import (
    bce_ignore_unknown,
    bce_unknown_as_negative,
    partial_bce,
    partial_bce_coefficients,
    partial_bce_normalisation,
    sigmoid_cross_entropy,
)


def random_problem(n: int = 16, c: int = 7, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    gen = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(n, c, generator=gen, dtype=torch.float64)
    labels = np.random.default_rng(seed).random((n, c)) < 0.3
    return logits, labels


def as_targets(array: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(array, dtype=torch.int8)


# Losses.


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_loss_is_plain_bce_when_every_label_is_known(name):
    logits, labels = random_problem()
    targets = as_targets(mask_labels(labels, 1.0, seed=0))
    assert (targets != UNKNOWN).all()
    expected = F.binary_cross_entropy_with_logits(
        logits, torch.as_tensor(labels, dtype=logits.dtype)
    )
    torch.testing.assert_close(LOSSES[name].fn(logits, targets), expected)
    # The kit's M3 loss sums over labels; these divide by C, as the paper's partial-BCE does.
    torch.testing.assert_close(
        LOSSES[name].fn(logits, targets),
        sigmoid_cross_entropy(logits, torch.as_tensor(labels)) / labels.shape[1],
    )


@pytest.mark.parametrize("loss", [partial_bce, bce_ignore_unknown])
def test_unknown_labels_contribute_nothing_to_the_loss_nor_its_gradient(loss):
    logits, labels = random_problem(seed=1)
    targets = as_targets(mask_labels(labels, 0.4, seed=3))
    unknown = targets == UNKNOWN
    assert unknown.any() and (~unknown).any()

    x = logits.clone().requires_grad_(True)
    value = loss(x, targets)
    value.backward()
    assert torch.all(x.grad[unknown] == 0)  # exactly zero, not just small
    assert torch.all(x.grad[~unknown] != 0)

    moved = logits.clone()
    # any score at unknown entries
    moved[unknown] = torch.randn(int(unknown.sum()), dtype=logits.dtype) * 50
    torch.testing.assert_close(loss(moved, targets), value.detach(), rtol=0, atol=0)


def test_partial_bce_follows_the_formula_of_the_paper():
    logits, labels = random_problem(n=9, c=5, seed=2)
    targets = mask_labels(labels, 0.5, seed=4)
    alpha, beta = partial_bce_coefficients(1.0)
    per_image = []
    for x, y in zip(logits.numpy(), targets):
        p_y = np.mean(y != 0)
        s = sum(
            np.log(1 / (1 + np.exp(-xc)))
            if yc == 1
            else np.log(1 - 1 / (1 + np.exp(-xc)))
            if yc == -1
            else 0.0
            for xc, yc in zip(x, y)
        )
        per_image.append(-(alpha * p_y + beta) / len(y) * s)
    torch.testing.assert_close(
        partial_bce(logits, as_targets(targets)),
        torch.tensor(np.mean(per_image), dtype=logits.dtype),
    )


def test_partial_bce_at_a_fixed_proportion_is_the_ignoring_bce_times_g():
    logits, labels = random_problem(n=20, c=10, seed=5)
    # 3 known labels for every image (p·C is whole)
    targets = as_targets(mask_labels(labels, 0.3, seed=0))
    assert np.allclose(known_proportion(targets.numpy()), 0.3)
    g = partial_bce_normalisation(torch.tensor(0.3))
    torch.testing.assert_close(
        partial_bce(logits, targets), g.to(logits.dtype) * bce_ignore_unknown(logits, targets)
    )


def test_the_naive_loss_is_bce_with_unknown_taken_as_negative():
    logits, labels = random_problem(seed=6)
    targets = mask_labels(labels, 0.3, seed=1)
    as_negative = np.where(targets == UNKNOWN, NEGATIVE, targets)
    expected = F.binary_cross_entropy_with_logits(
        logits, torch.as_tensor(as_negative == POSITIVE, dtype=logits.dtype)
    )
    torch.testing.assert_close(bce_unknown_as_negative(logits, as_targets(targets)), expected)
    torch.testing.assert_close(
        bce_unknown_as_negative(logits, as_targets(targets)),
        partial_bce(logits, as_targets(as_negative)),
    )


@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_stay_finite_for_extreme_scores(name):
    x = torch.tensor([[200.0, -200.0, 30.0, -30.0]], requires_grad=True)
    targets = torch.tensor([[-1, 1, 1, 0]], dtype=torch.int8)
    value = LOSSES[name].fn(x, targets)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()
    assert value.item() > 50  # the two confidently wrong labels cost about 200 each (over C = 4)


def test_normalisation_has_the_published_values():
    alpha, beta = partial_bce_coefficients()  # γ = 1, the paper's default
    assert alpha == pytest.approx(-40 / 9) and beta == pytest.approx(49 / 9)
    assert round(alpha, 2) == -4.44 and round(beta, 2) == 5.44
    p = torch.tensor([1.0, 0.1, 0.5, 0.0])
    g = partial_bce_normalisation(p)
    torch.testing.assert_close(g[:2], torch.tensor([1.0, 5.0]))
    assert g[2].item() == pytest.approx(alpha * 0.5 + beta)
    assert g[3].item() == 0.0  # an image without known labels adds nothing
    for gamma in (-1.0, 0.5, 2.0, 3.0):
        g = partial_bce_normalisation(p, gamma)
        torch.testing.assert_close(g[:2], torch.tensor([1.0, 5.0]))
        assert torch.isfinite(g).all()
    with pytest.raises(ValueError, match="constant"):
        partial_bce_coefficients(0.0)
