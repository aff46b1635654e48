"""Partial labels (Durand et al. 2019): the three losses, g(p), label masking and the curriculum."""

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
    beside_reported,
    evaluate,
    known_proportion,
    mask_labels,
    predict_probabilities,
    reported_results,
    score_threshold_labels,
    sweep,
    train_classifier,
    train_with_curriculum,
)
from annokit.models.losses import (
    bce_ignore_unknown,
    bce_unknown_as_negative,
    partial_bce,
    partial_bce_coefficients,
    partial_bce_normalisation,
    sigmoid_cross_entropy,
)
from annokit.profile import Training
from annokit.training.fit import FitConfig

PROPORTIONS = [0.1, 0.3, 0.5, 0.7, 0.9, 1.0]


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
    expected = F.binary_cross_entropy_with_logits(logits, torch.as_tensor(labels, dtype=logits.dtype))
    torch.testing.assert_close(LOSSES[name].fn(logits, targets), expected)
    # The kit's M3 loss sums over labels; these divide by C, as the paper's partial-BCE does.
    torch.testing.assert_close(LOSSES[name].fn(logits, targets), sigmoid_cross_entropy(logits, torch.as_tensor(labels)) / labels.shape[1])


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
    moved[unknown] = torch.randn(int(unknown.sum()), dtype=logits.dtype) * 50  # any score at unknown entries
    torch.testing.assert_close(loss(moved, targets), value.detach(), rtol=0, atol=0)


def test_partial_bce_follows_the_formula_of_the_paper():
    logits, labels = random_problem(n=9, c=5, seed=2)
    targets = mask_labels(labels, 0.5, seed=4)
    alpha, beta = partial_bce_coefficients(1.0)
    per_image = []
    for x, y in zip(logits.numpy(), targets):
        p_y = np.mean(y != 0)
        s = sum(np.log(1 / (1 + np.exp(-xc))) if yc == 1 else np.log(1 - 1 / (1 + np.exp(-xc))) if yc == -1 else 0.0
                for xc, yc in zip(x, y))
        per_image.append(-(alpha * p_y + beta) / len(y) * s)
    torch.testing.assert_close(partial_bce(logits, as_targets(targets)), torch.tensor(np.mean(per_image), dtype=logits.dtype))


def test_partial_bce_at_a_fixed_proportion_is_the_ignoring_bce_times_g():
    logits, labels = random_problem(n=20, c=10, seed=5)
    targets = as_targets(mask_labels(labels, 0.3, seed=0))  # 3 known labels for every image (p·C is whole)
    assert np.allclose(known_proportion(targets.numpy()), 0.3)
    g = partial_bce_normalisation(torch.tensor(0.3))
    torch.testing.assert_close(partial_bce(logits, targets), g.to(logits.dtype) * bce_ignore_unknown(logits, targets))


def test_the_naive_loss_is_bce_with_unknown_taken_as_negative():
    logits, labels = random_problem(seed=6)
    targets = mask_labels(labels, 0.3, seed=1)
    as_negative = np.where(targets == UNKNOWN, NEGATIVE, targets)
    expected = F.binary_cross_entropy_with_logits(logits, torch.as_tensor(as_negative == POSITIVE, dtype=logits.dtype))
    torch.testing.assert_close(bce_unknown_as_negative(logits, as_targets(targets)), expected)
    torch.testing.assert_close(bce_unknown_as_negative(logits, as_targets(targets)), partial_bce(logits, as_targets(as_negative)))


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


# Masking.


@pytest.mark.parametrize("proportion", PROPORTIONS + [0.0, 0.37])
def test_masking_keeps_the_requested_proportion_of_every_image(proportion):
    labels = np.random.default_rng(0).random((4000, 25)) < 0.12
    targets = mask_labels(labels, proportion, seed=7)
    assert targets.dtype == np.int8 and set(np.unique(targets)) <= {NEGATIVE, UNKNOWN, POSITIVE}
    kept = (targets != UNKNOWN).sum(axis=1)
    target = proportion * 25
    assert set(np.unique(kept)) <= {np.floor(target), np.ceil(target)}  # per image: p·C rounded down or up
    assert kept.mean() == pytest.approx(target, abs=0.05)  # on average: exactly p·C
    known = targets != UNKNOWN
    np.testing.assert_array_equal(targets[known] == POSITIVE, labels[known])  # known labels are the true ones
    if 0 < proportion < 1:  # positives and negatives are hidden alike
        assert known[labels].mean() == pytest.approx(proportion, abs=0.03)
        assert known[~labels].mean() == pytest.approx(proportion, abs=0.01)


def test_masking_is_reproducible_from_its_seed_and_nested_in_p():
    labels = np.random.default_rng(1).random((300, 25)) < 0.2
    first, again, other = mask_labels(labels, 0.3, 11), mask_labels(labels, 0.3, 11), mask_labels(labels, 0.3, 12)
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()
    smaller = mask_labels(labels, 0.1, 11) != UNKNOWN
    assert np.all((first != UNKNOWN)[smaller])  # the labels known at 10 % are known at 30 %
    with pytest.raises(ValueError):
        mask_labels(labels, 1.5, 0)


# Curriculum.


def test_score_threshold_moves_only_unknown_entries_and_respects_theta():
    targets = np.array([[1, -1, 0, 0, 0, 0, 0]], dtype=np.int8)
    scores = np.array([[0.01, 0.99, 0.95, 0.90, 0.5, 0.10, 0.04]])
    new = score_threshold_labels(scores, targets, theta=0.9)
    np.testing.assert_array_equal(new, [[1, -1, 1, 1, 0, -1, -1]])
    np.testing.assert_array_equal(score_threshold_labels(scores, targets, theta=0.95), [[1, -1, 1, 0, 0, 0, -1]])
    np.testing.assert_array_equal(targets, [[1, -1, 0, 0, 0, 0, 0]])  # the input is not modified
    for bad in (0.5, 0.3, 1.2):
        with pytest.raises(ValueError):
            score_threshold_labels(scores, targets, theta=bad)


def separable_problem(n: int = 400, c: int = 6, d: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.random((n, c)) < 0.3
    features = (labels @ rng.normal(size=(c, d)) + 0.3 * rng.normal(size=(n, d))).astype(np.float32)
    return features, labels


def test_curriculum_rounds_add_labels_to_unknown_entries_only(tmp_path):
    features, labels = separable_problem(n=1000)
    start = mask_labels(labels, 0.3, seed=0)
    config = FitConfig(Training(epochs=5, batch_size=100, lr=0.5))
    run = train_with_curriculum(features, start, "partial_bce", config, tmp_path / "cur", rounds=2, theta=0.8)
    assert len(run.targets) == len(run.weights) == 3
    np.testing.assert_array_equal(run.targets[0], start)
    for before, after in zip(run.targets, run.targets[1:]):
        changed = before != after
        assert changed.any()
        assert np.all(before[changed] == UNKNOWN)  # known labels never move
    added = (run.targets[-1] != UNKNOWN) & (start == UNKNOWN)
    assert ((run.targets[-1] == POSITIVE) == labels)[added].mean() > 0.95  # confident labels are mostly right
    again = train_with_curriculum(features, start, "partial_bce", config, tmp_path / "cur", rounds=2, theta=0.8)
    np.testing.assert_array_equal(again.targets[-1], run.targets[-1])  # reused from final.pt, same labels


def test_a_linear_classifier_learns_from_partial_labels(tmp_path):
    features, labels = separable_problem(seed=1)
    model, history = train_classifier(features, mask_labels(labels, 0.3, 0), "partial_bce", FitConfig(Training(epochs=5, batch_size=50, lr=0.5)),
                                      tmp_path / "run")
    assert history.train_loss[-1] < history.train_loss[0]
    assert evaluate(labels, predict_probabilities(model, features))["mAP"] > 0.9


def test_sweep_table_and_reported_rows(tmp_path):
    features, labels = separable_problem(n=200, seed=2)
    result = sweep(features[:150], labels[:150], features[150:], labels[150:], [0.1, 1.0], list(LOSSES),
                   FitConfig(Training(epochs=2, batch_size=50, lr=0.5)), tmp_path, seed=0)
    assert len(result.table) == 6 and set(result.probabilities) == {
        f"partial_{loss}_p{p}" for loss in LOSSES for p in ("010", "100")}
    assert result.table["mAP"].between(0, 1).all()
    full = result.table[result.table["proportion"] == 1.0]
    assert np.allclose(full["mAP"], full["mAP"].iloc[0])  # the three losses coincide with every label known
    reported = reported_results()
    assert {"dataset", "metric", "value", "kit_key", "source"} <= set(reported.columns)
    assert (reported["value"] > 0).all()
    assert 47.4 in reported["value"].tolist() and 90.0 in reported["value"].tolist() and 77.1 in reported["value"].tolist()
    beside = beside_reported(result.table, reported)
    assert len(beside) == len(reported) and beside["ours"].notna().sum() == reported["kit_key"].notna().sum()


def test_a_subset_of_images_is_fingerprinted_by_its_rows_and_positions():
    from torch.utils.data import Subset

    from annokit.methods.partial_labels import inputs_digest

    class Images:
        rows = np.arange(10, 20)

        def __len__(self):
            return 10

    assert inputs_digest(Subset(Images(), [0, 1, 2])) != inputs_digest(Subset(Images(), [0, 1, 3]))
    assert inputs_digest(Subset(Images(), [0, 1, 2])) == inputs_digest(Subset(Images(), [0, 1, 2]))
