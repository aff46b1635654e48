"""Partial labels (Durand et al. 2019): label masking, the classifier, the curriculum and the
sweep."""

from __future__ import annotations

import numpy as np
import pytest
from torch.utils.data import Subset

from annokit.artifacts.run import Run
from annokit.methods.partial_curriculum import (
    Curriculum,
    StrategyComparison,
    compare_strategies,
    train_with_curriculum,
)
from annokit.methods.partial_labels import (
    LOSSES,
    NEGATIVE,
    POSITIVE,
    UNKNOWN,
    ClassifierTraining,
    PartialData,
    evaluate,
    inputs_digest,
    mask_labels,
    predict_probabilities,
    train_classifier,
)
from annokit.methods.partial_strategies import Strategy
from annokit.methods.partial_sweep import SweepGrid, beside_reported, reported_results, sweep
from annokit.profile import Training, load_profile
from annokit.training.fit import FitConfig

PROPORTIONS = [0.1, 0.3, 0.5, 0.7, 0.9, 1.0]

# Masking.


@pytest.mark.parametrize("proportion", PROPORTIONS + [0.0, 0.37])
def test_masking_keeps_the_requested_proportion_of_every_image(proportion):
    labels = np.random.default_rng(0).random((4000, 25)) < 0.12
    targets = mask_labels(labels, proportion, seed=7)
    assert targets.dtype == np.int8 and set(np.unique(targets)) <= {NEGATIVE, UNKNOWN, POSITIVE}
    kept = (targets != UNKNOWN).sum(axis=1)
    target = proportion * 25
    # per image: p·C rounded down or up
    assert set(np.unique(kept)) <= {np.floor(target), np.ceil(target)}
    assert kept.mean() == pytest.approx(target, abs=0.05)  # on average: exactly p·C
    known = targets != UNKNOWN
    # known labels are the true ones
    np.testing.assert_array_equal(targets[known] == POSITIVE, labels[known])
    if 0 < proportion < 1:  # positives and negatives are hidden alike
        assert known[labels].mean() == pytest.approx(proportion, abs=0.03)
        assert known[~labels].mean() == pytest.approx(proportion, abs=0.01)


def test_masking_is_reproducible_from_its_seed_and_nested_in_p():
    labels = np.random.default_rng(1).random((300, 25)) < 0.2
    first, again = mask_labels(labels, 0.3, 11), mask_labels(labels, 0.3, 11)
    other = mask_labels(labels, 0.3, 12)
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()
    smaller = mask_labels(labels, 0.1, 11) != UNKNOWN
    assert np.all((first != UNKNOWN)[smaller])  # the labels known at 10 % are known at 30 %
    with pytest.raises(ValueError):
        mask_labels(labels, 1.5, 0)


# Curriculum.


def separable_problem(n: int = 400, c: int = 6, d: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.random((n, c)) < 0.3
    features = (labels @ rng.normal(size=(c, d)) + 0.3 * rng.normal(size=(n, d))).astype(np.float32)
    return features, labels


def test_curriculum_rounds_add_labels_to_unknown_entries_only(tmp_path):
    features, labels = separable_problem(n=1000)
    start = mask_labels(labels, 0.3, seed=0)
    training = ClassifierTraining(FitConfig(Training(epochs=5, batch_size=100, lr=0.5)))
    curriculum = Curriculum(rounds=2, strategy=Strategy("score_threshold", 0.8))
    result = train_with_curriculum(features, start, tmp_path / "cur", training, curriculum)
    assert len(result.targets) == len(result.weights) == 3
    np.testing.assert_array_equal(result.targets[0], start)
    for before, after in zip(result.targets, result.targets[1:]):
        changed = before != after
        assert changed.any()
        assert np.all(before[changed] == UNKNOWN)  # known labels never move
    added = (result.targets[-1] != UNKNOWN) & (start == UNKNOWN)
    # confident labels are mostly right
    assert ((result.targets[-1] == POSITIVE) == labels)[added].mean() > 0.95
    again = train_with_curriculum(features, start, tmp_path / "cur", training, curriculum)
    np.testing.assert_array_equal(again.targets[-1], result.targets[-1])  # reused from final.pt


def test_a_linear_classifier_learns_from_partial_labels(tmp_path):
    features, labels = separable_problem(seed=1)
    targets = mask_labels(labels, 0.3, 0)
    training = ClassifierTraining(FitConfig(Training(epochs=5, batch_size=50, lr=0.5)))
    model, history = train_classifier(features, targets, "partial_bce", tmp_path / "run", training)
    assert history.train_loss[-1] < history.train_loss[0]
    assert evaluate(labels, predict_probabilities(model, features))["mAP"] > 0.9


def bare_run(run_dir, seed: int = 0) -> Run:
    """A run of the demo profile in ``run_dir`` without an index: the sweep reads only its folder
    and its seed."""
    profile = load_profile("demo", seed=seed)
    return Run(profile, run_dir, None, run_dir, run_dir, run_dir)  # type: ignore[arg-type]


def test_sweep_table_and_reported_rows(tmp_path):
    features, labels = separable_problem(n=200, seed=2)
    data = PartialData(features[:150], labels[:150], features[150:], labels[150:], np.arange(50))
    grid = SweepGrid(proportions=(0.1, 1.0), losses=tuple(LOSSES))
    training = ClassifierTraining(FitConfig(Training(epochs=2, batch_size=50, lr=0.5)))
    result = sweep(bare_run(tmp_path), data, grid, training)
    assert len(result.table) == 6
    expected = {f"partial_{loss}_p{p}" for loss in LOSSES for p in ("010", "100")}
    assert set(result.probabilities) == expected
    assert (tmp_path / "partial" / "partial_bce_ignore_p010" / "final.pt").exists()
    assert result.table["mAP"].between(0, 1).all()
    full = result.table[result.table["proportion"] == 1.0]
    # the three losses coincide with every label known
    assert np.allclose(full["mAP"], full["mAP"].iloc[0])
    reported = reported_results()
    assert {"dataset", "metric", "value", "kit_key", "source"} <= set(reported.columns)
    assert (reported["value"] > 0).all()
    assert {47.4, 90.0, 77.1} <= set(reported["value"].tolist())
    beside = beside_reported(result.table, reported)
    assert len(beside) == len(reported)
    assert beside["ours"].notna().sum() == reported["kit_key"].notna().sum()

    seeded = sweep(bare_run(tmp_path), data, SweepGrid((0.1,), ("partial_bce",), (0, 5)), training)
    assert list(seeded.probabilities) == [
        "partial_partial_bce_p010",
        "partial_partial_bce_p010@seed5",
    ]
    np.testing.assert_array_equal(  # the run's seed: reused, the same model
        seeded.probabilities["partial_partial_bce_p010"],
        result.probabilities["partial_partial_bce_p010"],
    )


def test_a_subset_of_images_is_fingerprinted_by_its_rows_and_positions():
    class Images:
        rows = np.arange(10, 20)

        def __len__(self):
            return 10

    assert inputs_digest(Subset(Images(), [0, 1, 2])) != inputs_digest(Subset(Images(), [0, 1, 3]))
    assert inputs_digest(Subset(Images(), [0, 1, 2])) == inputs_digest(Subset(Images(), [0, 1, 2]))


def fits_in(folder) -> set[str]:
    """The trained models under ``folder``: one ``final.pt`` each."""
    return {str(path.parent.relative_to(folder)) for path in folder.rglob("final.pt")}


def test_identical_fits_are_trained_once(tmp_path):
    features, labels = separable_problem(n=260, seed=3)
    data = PartialData(
        features[:150],
        labels[:150],
        features[150:200],
        labels[150:200],
        np.arange(50),
        validation=features[200:],
        validation_labels=labels[200:],
    )
    training = ClassifierTraining(FitConfig(Training(epochs=2, batch_size=50, lr=0.5)))
    run = bare_run(tmp_path)
    result = sweep(run, data, SweepGrid((0.1, 1.0), tuple(LOSSES)), training)
    # 100 %: the three losses are one loss, trained once and recorded three times
    assert fits_in(tmp_path / "partial") == {
        *(f"partial_{loss}_p010" for loss in LOSSES),
        "partial_partial_bce_p100",
    }
    full = result.table[result.table["proportion"] == 1.0]
    assert len(full) == 3 and set(full["fit"]) == {"partial_partial_bce_p100"}
    assert full["mAP"].nunique() == 1

    comparison = StrategyComparison(
        kinds=("none", "score_threshold"),
        proportion=0.1,
        rounds=1,
        seeds=(0,),
        candidates={"score_threshold": (0.7, 0.9)},
    )
    before = fits_in(tmp_path / "partial")
    rounds, choices = compare_strategies(run, data, training, comparison)
    # round 0 is the sweep's partial-BCE fit: only the rounds after it are new fits
    assert fits_in(tmp_path / "partial") - before == {
        "curriculum_none_p010/round_1",
        "curriculum_score_threshold_p010/round_1",
    }
    sweep_map = result.table.query("loss == 'partial_bce' and proportion == 0.1")["mAP"].item()
    round0 = rounds[rounds["round"] == 0]
    assert np.allclose(round0["test mAP"], sweep_map)
    assert (rounds.query("strategy == 'none'")["added"] == 0).all()
    assert set(choices["theta"]) == {0.7, 0.9} and choices["chosen"].sum() == 1
