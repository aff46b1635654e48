"""The curriculum's labelling strategies (Durand et al. 2019, Sec. 3.3) on hand-made cases: the
exact entries each one labels, known labels never moving, θ chosen on validation images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from annokit.methods.partial_curriculum import Curriculum, train_with_curriculum
from annokit.methods.partial_labels import (
    POSITIVE,
    UNKNOWN,
    ClassifierTraining,
    linear_classifier,
    mask_labels,
)
from annokit.methods.partial_strategies import (
    STRATEGY_KINDS,
    LabellingScores,
    Strategy,
    apply_strategy,
    choose_theta,
    dropout_samples,
    most_confident_labels,
    positive_only_labels,
    score_threshold_labels,
    strategy_scores,
)
from annokit.profile import Training
from annokit.training.fit import FitConfig

TARGETS = np.array([[1, -1, 0, 0, 0, 0, 0]], dtype=np.int8)
PROBABILITIES = np.array([[0.01, 0.99, 0.95, 0.90, 0.5, 0.10, 0.04]])


def test_score_threshold_moves_only_unknown_entries_and_respects_theta():
    new = score_threshold_labels(PROBABILITIES, TARGETS, theta=0.9)
    np.testing.assert_array_equal(new, [[1, -1, 1, 1, 0, -1, -1]])
    np.testing.assert_array_equal(
        score_threshold_labels(PROBABILITIES, TARGETS, theta=0.95), [[1, -1, 1, 0, 0, 0, -1]]
    )
    np.testing.assert_array_equal(TARGETS, [[1, -1, 0, 0, 0, 0, 0]])  # the input is not modified
    for bad in (0.5, 0.3, 1.2):
        with pytest.raises(ValueError):
            score_threshold_labels(PROBABILITIES, TARGETS, theta=bad)


def test_positive_only_never_adds_a_negative():
    new = positive_only_labels(PROBABILITIES, TARGETS, theta=0.9)
    np.testing.assert_array_equal(new, [[1, -1, 1, 1, 0, 0, 0]])


def test_score_proportion_labels_the_most_confident_share_of_the_unknown_entries():
    # unknown: 0.95 (0.45 from 0.5), 0.90 (0.40), 0.5 (0), 0.10 (0.40), 0.04 (0.46)
    new = apply_strategy(Strategy("score_proportion", 0.4), LabellingScores(PROBABILITIES), TARGETS)
    np.testing.assert_array_equal(new, [[1, -1, 1, 0, 0, 0, -1]])  # 2 of the 5 unknown entries
    everything = apply_strategy(
        Strategy("score_proportion", 1.0), LabellingScores(PROBABILITIES), TARGETS
    )
    assert (everything != UNKNOWN).all() and everything[0, 0] == 1 and everything[0, 1] == -1
    with pytest.raises(ValueError):
        most_confident_labels(PROBABILITIES, PROBABILITIES > 0.5, TARGETS, 1.5)


def test_bayesian_labels_the_least_uncertain_entries_by_the_sign_of_the_mean():
    variance = np.array([[0.0, 0.0, 0.20, 0.01, 0.02, 0.30, 0.001]])
    scores = LabellingScores(PROBABILITIES, variance)
    new = apply_strategy(Strategy("bayesian", 0.6), scores, TARGETS)  # 3 of the 5 unknown entries
    # variances 0.001, 0.01, 0.02 at entries 6, 3, 4; σ = 0.5 (entry 4) counts as positive
    np.testing.assert_array_equal(new, [[1, -1, 0, 1, 1, 0, -1]])
    with pytest.raises(ValueError):
        apply_strategy(Strategy("bayesian", 0.6), LabellingScores(PROBABILITIES), TARGETS)


def test_no_strategy_adds_nothing_and_a_bad_kind_is_refused():
    new = apply_strategy(Strategy("none"), None, TARGETS)
    np.testing.assert_array_equal(new, TARGETS)
    with pytest.raises(ValueError):
        Strategy("threshold")


@pytest.mark.parametrize("kind", STRATEGY_KINDS)
def test_known_labels_never_change(kind):
    rng = np.random.default_rng(3)
    labels = rng.random((50, 8)) < 0.3
    targets = mask_labels(labels, 0.3, seed=1)
    scores = LabellingScores(rng.random((50, 8)), rng.random((50, 8)))
    theta = 0.7 if kind in ("score_threshold", "positive_only", "ensemble") else 0.5
    new = apply_strategy(Strategy(kind, theta), scores, targets)
    known = targets != UNKNOWN
    np.testing.assert_array_equal(new[known], targets[known])
    assert set(np.unique(new)) <= {-1, 0, 1}


def fixed_model(logits: list[float], dropout: float = 0.0) -> nn.Module:
    """A model that ignores its input: the same logits for every image (a bias-only fc)."""
    fc = nn.Linear(2, len(logits))
    with torch.no_grad():
        fc.weight.zero_()
        fc.bias.copy_(torch.tensor(logits))
    return nn.Sequential(nn.Dropout(dropout), fc) if dropout else fc


def test_the_ensemble_averages_its_members_probabilities():
    features = np.zeros((4, 2), dtype=np.float32)
    first, second = fixed_model([3.0, 0.0]), fixed_model([1.0, -2.0])
    scores = strategy_scores(Strategy("ensemble", 0.8), first, features, ensemble=(second,))
    mean = (torch.sigmoid(torch.tensor([3.0, 0.0])) + torch.sigmoid(torch.tensor([1.0, -2.0]))) / 2
    np.testing.assert_allclose(scores.probabilities, np.tile(mean.numpy(), (4, 1)), rtol=1e-6)
    # σ(3) and σ(1) average 0.843 ≥ 0.8; σ(0) and σ(−2) average 0.30 > 0.2
    new = apply_strategy(Strategy("ensemble", 0.8), scores, np.zeros((4, 2), dtype=np.int8))
    np.testing.assert_array_equal(new, [[1, 0]] * 4)


def test_monte_carlo_dropout_needs_dropout_and_is_seeded():
    features = np.ones((6, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="dropout"):
        dropout_samples(fixed_model([1.0, 2.0]), features, samples=3, seed=0)
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(2, 3))
    drawn = dropout_samples(model, features, samples=5, seed=0)
    assert drawn.shape == (5, 6, 3) and drawn.var(axis=0).max() > 0  # the masks differ
    np.testing.assert_array_equal(drawn, dropout_samples(model, features, samples=5, seed=0))
    assert not model.training and not model[0].training  # left in eval mode


def test_theta_is_the_most_productive_candidate_that_is_accurate_enough():
    labels = np.array([[True, False, True, False]])
    targets = np.zeros((1, 4), dtype=np.int8)
    scores = LabellingScores(np.array([[0.95, 0.3, 0.7, 0.75]]))
    theta, table = choose_theta("score_threshold", scores, targets, labels, (0.6, 0.9), 0.95)
    # θ = 0.6 labels 4 entries, one wrongly (0.75 → positive); θ = 0.9 labels 1, right
    assert theta == 0.9
    assert (
        table["labelled"].tolist() == [4, 1]
        and table["accuracy"].tolist() == [0.75, 1.0]
        and table["chosen"].tolist() == [False, True]
    )
    theta, _ = choose_theta("score_threshold", scores, targets, labels, (0.6, 0.9), 0.5)
    assert theta == 0.6


@pytest.mark.parametrize("kind", STRATEGY_KINDS)
def test_every_strategy_runs_in_the_one_curriculum_loop(tmp_path, kind):
    rng = np.random.default_rng(0)
    labels = rng.random((300, 5)) < 0.3
    weights = rng.normal(size=(5, 12))
    features = (labels @ weights + 0.3 * rng.normal(size=(300, 12))).astype(np.float32)
    start = mask_labels(labels, 0.3, seed=0)

    def with_dropout(seed: int) -> nn.Module:
        return nn.Sequential(nn.Dropout(0.2), linear_classifier(12, 5, seed))

    training = ClassifierTraining(
        FitConfig(Training(epochs=3, batch_size=100, lr=0.5)), make_model=with_dropout
    )
    theta = 0.8 if kind in ("score_threshold", "positive_only", "ensemble") else 0.3
    curriculum = Curriculum(rounds=1, strategy=Strategy(kind, theta), mc_samples=4)
    result = train_with_curriculum(features, start, tmp_path / kind, training, curriculum)
    before, after = result.targets
    changed = before != after
    assert np.all(before[changed] == UNKNOWN)  # known labels never move
    assert changed.any() == (kind != "none")
    if kind == "positive_only":
        assert np.all(after[changed] == POSITIVE)
    assert (tmp_path / kind / "round_1" / "final.pt").exists()
