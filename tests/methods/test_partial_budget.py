"""Labelling strategies at an equal annotation budget (Durand et al. 2019, Sec. 4.1): the pair
counts on hand-made label matrices, and the comparison reusing the sweep's fits."""

from __future__ import annotations

import numpy as np
import pytest

from annokit.artifacts.run import Run
from annokit.methods.partial_budget import (
    LabellingGrid,
    annotated_pairs,
    clean_pairs,
    compare_labellings,
    complete_image_labels,
    noisy_labels,
)
from annokit.methods.partial_labels import (
    NEGATIVE,
    POSITIVE,
    UNKNOWN,
    ClassifierTraining,
    PartialData,
    mask_labels,
)
from annokit.methods.partial_sweep import SweepGrid, sweep
from annokit.profile import Training, load_profile
from annokit.training.fit import FitConfig

LABELS = np.array(
    [
        [1, 0, 0, 1],
        [0, 1, 0, 0],
        [0, 0, 0, 0],
        [1, 1, 1, 1],
        [0, 0, 1, 0],
    ],
    dtype=bool,
)


def test_pair_counts_on_a_hand_made_matrix():
    targets = np.array([[1, 0, -1, 0], [0, 0, 0, 0], [-1, 1, 0, 0]], dtype=np.int8)
    truth = np.array([[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]], dtype=bool)
    assert annotated_pairs(targets) == 4
    assert clean_pairs(targets, truth) == 3  # (2, 0) says negative, the image has the label


@pytest.mark.parametrize("pairs", [0, 3, 4, 9, 20])
def test_complete_labels_spend_exactly_the_budget_on_whole_images(pairs):
    targets = complete_image_labels(LABELS, pairs, seed=0)
    assert annotated_pairs(targets) == pairs == clean_pairs(targets, LABELS)
    per_image = (targets != UNKNOWN).sum(axis=1)
    whole, rest = divmod(pairs, 4)
    assert (per_image == 4).sum() == whole  # whole images first
    assert sorted(per_image[per_image < 4][per_image[per_image < 4] > 0]) == (
        [rest] if rest else []
    )
    known = targets != UNKNOWN
    np.testing.assert_array_equal(targets[known] == POSITIVE, LABELS[known])
    with pytest.raises(ValueError):
        complete_image_labels(LABELS, 21, seed=0)


def test_noisy_labels_annotate_everything_and_are_right_on_the_partial_budget():
    labels = np.random.default_rng(0).random((200, 10)) < 0.3
    for p in (0.1, 0.5, 1.0):
        partial = mask_labels(labels, p, seed=4)
        noisy = noisy_labels(labels, p, seed=4)
        assert annotated_pairs(noisy) == labels.size
        assert clean_pairs(noisy, labels) == annotated_pairs(partial)  # the same budget
        known = partial != UNKNOWN
        np.testing.assert_array_equal(noisy[known], partial[known])  # right where partial knows
        flipped = np.where(labels, NEGATIVE, POSITIVE)[~known]
        np.testing.assert_array_equal(noisy[~known], flipped)  # wrong everywhere else


def test_the_three_labellings_have_equal_budgets_and_reuse_the_sweep(tmp_path):
    rng = np.random.default_rng(5)
    labels = rng.random((250, 6)) < 0.3
    features = (labels @ rng.normal(size=(6, 16)) + 0.3 * rng.normal(size=(250, 16))).astype(
        np.float32
    )
    data = PartialData(features[:200], labels[:200], features[200:], labels[200:], np.arange(50))
    training = ClassifierTraining(FitConfig(Training(epochs=2, batch_size=50, lr=0.5)))
    run = Run(load_profile("demo", seed=0), tmp_path, None, tmp_path, tmp_path, tmp_path)
    sweep(run, data, SweepGrid((0.1, 1.0), ("partial_bce",)), training)
    before = {p.parent.name for p in (tmp_path / "partial").rglob("final.pt")}
    table = compare_labellings(run, data, training, LabellingGrid((0.1, 1.0), (0,)))
    after = {p.parent.name for p in (tmp_path / "partial").rglob("final.pt")}
    assert after - before == {"partial_complete_p010", "partial_noisy_p010"}
    at = table.set_index(["proportion", "labelling"])
    budget = at.loc[(0.1, "partial"), "annotated_pairs"]
    assert at.loc[(0.1, "complete"), "annotated_pairs"] == budget
    assert at.loc[(0.1, "noisy"), "clean_pairs"] == budget
    assert at.loc[(0.1, "noisy"), "annotated_pairs"] == labels[:200].size
    assert at.loc[(0.1, "complete"), "images_used"] == -(-budget // 6)  # whole images + 1
    assert set(at.loc[1.0, "fit"]) == {"partial_partial_bce_p100"}  # one fit at 100 %
    assert at.loc[1.0, "mAP"].nunique() == 1
