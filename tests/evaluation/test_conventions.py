"""Each metric convention of today's repositories against an independent implementation.

F1 conventions against scikit-learn's ``f1_score``; non-interpolated AP against
``average_precision_score``; VOC all-point interpolated AP against a reference written here
from the textbook definition; ML-GCN's top-3 (score >= 0.5) against a reference written here
from its description (megvii-research/ML-GCN util.py ``overall_topk``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, f1_score

from annokit.evaluation import conventions, decision
from annokit.evaluation.metrics import (
    ANNOTATION_KEYS,
    annotation_scores,
    average_precision_per_class,
    mean_average_precision,
)
from helpers.metric_cases import (
    SEEDS,
    SHAPES,
    binary_case,
    harmonic,
    ml_gcn_top_k_reference,
    score_case,
    voc_ap_reference,
)

# ---- F1 conventions -------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_default_f1_is_of_means(shape, seed):
    y_true, y_pred = binary_case(shape, seed)
    default = annotation_scores(y_true, y_pred)
    assert default == annotation_scores(y_true, y_pred, f1="of-means")
    assert default["C-F1"] == pytest.approx(harmonic(default["C-P"], default["C-R"]), abs=1e-12)
    assert default["S-F1"] == pytest.approx(harmonic(default["S-P"], default["S-R"]), abs=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_mean_of_per_class_f1_matches_sklearn(shape, seed):
    y_true, y_pred = binary_case(shape, seed)
    labels = list(range(shape[1]))
    got = annotation_scores(y_true, y_pred, f1="mean-of-per-class")
    macro = f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0)
    samples = f1_score(y_true, y_pred, average="samples", zero_division=0)
    micro = f1_score(y_true, y_pred, average="micro", zero_division=0)
    assert got["C-F1"] == pytest.approx(macro, abs=1e-12)
    assert got["S-F1"] == pytest.approx(samples, abs=1e-12)
    assert got["O-F1"] == pytest.approx(micro, abs=1e-12)
    assert got["H-F1"] == pytest.approx(harmonic(got["C-F1"], got["O-F1"]), abs=1e-12)
    default = annotation_scores(y_true, y_pred)
    for key in ("C-P", "C-R", "O-P", "O-R", "O-F1", "S-P", "S-R"):
        assert got[key] == default[key], key  # only the F1s built from averages change


def test_mean_of_per_class_f1_hand_example():
    # Per class F1: 2/3, 2/3, 2/3, 1 -> 0.75; per image F1: 1/2, 1, 2/3 -> 13/18.
    y_true = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 1]])
    y_pred = np.array([[1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]])
    got = annotation_scores(y_true, y_pred, f1="mean-of-per-class")
    assert got["C-F1"] == pytest.approx(0.75)
    assert got["S-F1"] == pytest.approx(13 / 18)
    assert got["O-F1"] == pytest.approx(8 / 11)
    assert got["H-F1"] == pytest.approx(harmonic(0.75, 8 / 11))
    assert annotation_scores(y_true, y_pred)["C-F1"] == pytest.approx(21 / 26)


def test_mean_of_per_class_f1_empty_classes_and_images_count_as_zero():
    # Class 1 has no positive and is never predicted; image 1 has no label and no prediction:
    # each has F1 0 and stays in its mean (scikit-learn's zero_division=0, not 1).
    y_true = np.array([[1, 0], [0, 0]])
    y_pred = np.array([[1, 0], [0, 0]])
    got = annotation_scores(y_true, y_pred, f1="mean-of-per-class")
    assert (
        got["C-F1"]
        == 0.5
        == f1_score(y_true, y_pred, average="macro", labels=[0, 1], zero_division=0)
    )
    assert got["S-F1"] == 0.5 == f1_score(y_true, y_pred, average="samples", zero_division=0)
    # the convention we do not use
    assert f1_score(y_true, y_pred, average="samples", zero_division=1) == 1.0


def test_mean_of_per_class_f1_no_prediction_at_all():
    y_true = np.array([[1, 0, 1], [0, 1, 0]])
    got = annotation_scores(y_true, np.zeros_like(y_true), f1="mean-of-per-class")
    assert got == {key: 0.0 for key in ANNOTATION_KEYS}


def test_unknown_f1_convention_lists_both():
    y = np.array([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="'of-means', 'mean-of-per-class'"):
        annotation_scores(y, y, f1="macro")


# ---- AP conventions -------------------------------------------------------------------


@pytest.mark.parametrize("decimals", [None, 1])
@pytest.mark.parametrize("shape", SHAPES[:2])
@pytest.mark.parametrize("seed", SEEDS)
def test_non_interpolated_ap_matches_sklearn(seed, shape, decimals):
    y_true, scores = score_case(shape, seed, decimals)
    ap = average_precision_per_class(y_true, scores, interpolation="none")
    np.testing.assert_array_equal(ap, average_precision_per_class(y_true, scores))
    assert np.isnan(ap[0])  # no positive: undefined
    for j in range(1, shape[1]):
        if y_true[:, j].any():
            assert ap[j] == pytest.approx(
                average_precision_score(y_true[:, j], scores[:, j]), abs=1e-12
            ), j
    has_pos = y_true.any(axis=0)
    expected = average_precision_score(y_true[:, has_pos], scores[:, has_pos], average="macro")
    assert mean_average_precision(y_true, scores, interpolation="none") == pytest.approx(
        expected, abs=1e-12
    )
    assert mean_average_precision(y_true, scores) == mean_average_precision(
        y_true, scores, interpolation="none"
    )


@pytest.mark.parametrize("decimals", [None, 1])
@pytest.mark.parametrize("shape", SHAPES[:2])
@pytest.mark.parametrize("seed", SEEDS)
def test_voc_ap_matches_textbook_reference(seed, shape, decimals):
    y_true, scores = score_case(shape, seed, decimals)
    ap = average_precision_per_class(y_true, scores, interpolation="voc")
    assert np.isnan(ap[0])  # no positive: undefined, as for the non-interpolated AP
    expected = [
        voc_ap_reference(y_true[:, j], scores[:, j]) for j in range(shape[1]) if y_true[:, j].any()
    ]
    np.testing.assert_allclose(ap[~np.isnan(ap)], expected, atol=1e-12)
    assert mean_average_precision(y_true, scores, interpolation="voc") == pytest.approx(
        np.mean(expected), abs=1e-12
    )
    # The envelope never lowers a precision: interpolated AP >= non-interpolated AP.
    assert (ap[1:] >= average_precision_per_class(y_true, scores)[1:] - 1e-12).all()


def test_voc_ap_hand_example():
    # Scores 0.9 .. 0.5, truth 1, 0, 0, 1, 1. Operating points (P, R):
    #   (1, 1/3), (1/2, 1/3), (1/3, 1/3), (1/2, 2/3), (3/5, 1)
    # Non-interpolated: 1/3 * 1 + 1/3 * 1/2 + 1/3 * 3/5 = 7/10.
    # Envelope at R = 2/3 is max(1/2, 3/5) = 3/5: 1/3 * 1 + 1/3 * 3/5 + 1/3 * 3/5 = 11/15.
    y_true = np.array([[1], [0], [0], [1], [1]])
    scores = np.array([[0.9], [0.8], [0.7], [0.6], [0.5]])
    assert average_precision_per_class(y_true, scores)[0] == pytest.approx(7 / 10)
    assert average_precision_per_class(y_true, scores, interpolation="voc")[0] == pytest.approx(
        11 / 15
    )


def test_voc_ap_hand_ties():
    # Scores 0.9, 0.8, 0.8, 0.1 with truth 1, 1, 0, 1: tied images enter together.
    # Points (1, 1/3), (2/3, 2/3), (3/4, 1); envelope 1, 3/4, 3/4 -> 1/3 + 1/4 + 1/4 = 5/6.
    y_true = np.array([[1], [1], [0], [1]])
    scores = np.array([[0.9], [0.8], [0.8], [0.1]])
    for order in ([0, 1, 2, 3], [0, 2, 1, 3]):  # not dependent on the order of tied rows
        assert average_precision_per_class(y_true[order], scores[order], interpolation="voc")[
            0
        ] == pytest.approx(5 / 6)
        assert average_precision_per_class(y_true[order], scores[order])[0] == pytest.approx(
            29 / 36
        )


def test_voc_map_leaves_out_classes_without_positive():
    y_true = np.array([[1, 0], [0, 0], [1, 0]])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.3]])
    # Class 0: points (1, 1/2), (1/2, 1/2), (2/3, 1) -> envelope 1,
    # 2/3 -> 1/2 + 1/3; class 1 left out.
    assert mean_average_precision(y_true, scores, interpolation="voc") == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="no class has a positive"):
        mean_average_precision(np.zeros((3, 2), dtype=int), scores, interpolation="voc")


def test_unknown_interpolation_lists_both():
    y_true = np.array([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="'none', 'voc'"):
        mean_average_precision(y_true, np.zeros((2, 2)), interpolation="11-point")


# ---- top-3 with and without ML-GCN's score >= 0.5 -------------------------------------

TIED = np.array([
    [0.9, 0.5, 0.5, 0.49, 0.7],  # tie at exactly 0.5 for the third place: label 1 wins, 0.5 is kept
    [0.6, 0.4, 0.4, 0.4, 0.1],  # three-way tie below 0.5: top-3 takes 1, 2; >= 0.5 keeps only 0
    [0.49, 0.2, 0.3, 0.1, 0.0],  # nothing reaches 0.5: top-3 has 3 labels, ML-GCN's none
    [0.8, 0.8, 0.8, 0.8, 0.3],  # four-way tie above 0.5: still three labels, the lowest indices
    [0.9, 0.8, 0.7, 0.6, 0.55],  # four labels >= 0.5: the fourth is not taken
])  # fmt: skip


def test_top3_hand_ties_straddling_one_half():
    assert decision.top_k(TIED, 3).astype(int).tolist() == [
        [1, 1, 0, 0, 1],
        [1, 1, 1, 0, 0],
        [1, 1, 1, 0, 0],
        [1, 1, 1, 0, 0],
        [1, 1, 1, 0, 0],
    ]
    assert decision.top_k(TIED, 3, min_score=0.5).astype(int).tolist() == [
        [1, 1, 0, 0, 1],
        [1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [1, 1, 1, 0, 0],
    ]
    np.testing.assert_array_equal(
        decision.top_k(TIED, 3, min_score=0.5), ml_gcn_top_k_reference(TIED, 3)
    )


def test_top3_min_score_none_is_todays_rule():
    scores = np.round(np.random.default_rng(0).random((50, 10)), 1)
    np.testing.assert_array_equal(
        decision.top_k(scores, 3, min_score=None), decision.top_k(scores, 3)
    )
    np.testing.assert_array_equal(decision.top_k(scores, 3), decision.top_m(scores, np.full(50, 3)))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_with_min_score_matches_reference(seed, k):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random((100, 8)), 1)  # many ties, some exactly 0.5
    assert (scores == 0.5).any()
    got = decision.top_k(scores, k, min_score=0.5)
    np.testing.assert_array_equal(got, ml_gcn_top_k_reference(scores, k))
    assert (got <= decision.top_k(scores, k)).all()


def test_min_score_on_probabilities_is_ml_gcn_logit_rule():
    # ML-GCN tests logit >= 0; on sigmoid probabilities that is >=
    # 0.5 (logit 0 -> exactly 0.5, kept).
    logits = np.array([[2.0, 0.0, -0.5, -3.0], [-0.1, -0.2, -0.3, 1.0]])
    probabilities = 1 / (1 + np.exp(-logits))
    expected = [[1, 1, 0, 0], [0, 0, 0, 1]]
    assert decision.top_k(probabilities, 3, min_score=0.5).astype(int).tolist() == expected


# ---- the side-by-side table -----------------------------------------------------------


def test_convention_effects_with_scores():
    y_true, scores = score_case((200, 12), seed=5, decimals=2)
    annotation = decision.threshold(scores, 0.8)
    table = conventions.convention_effects(y_true, scores, annotation)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["C-F1", "S-F1", "mAP", "used by"]
    assert list(table.index) == [
        conventions.DEFAULT_ROW,
        conventions.MEAN_F1_ROW,
        conventions.VOC_ROW,
        "top-3",
        "top-3, score ≥ 0.5",
    ]
    default, mean_f1, voc = (table.loc[name] for name in table.index[:3])
    labels = list(range(y_true.shape[1]))
    papers = annotation_scores(y_true, annotation)
    assert default["C-F1"] == pytest.approx(100 * papers["C-F1"]) and default[
        "S-F1"
    ] == pytest.approx(100 * papers["S-F1"])
    assert mean_f1["C-F1"] == pytest.approx(
        100 * f1_score(y_true, annotation, average="macro", labels=labels, zero_division=0)
    )
    assert mean_f1["S-F1"] == pytest.approx(
        100 * f1_score(y_true, annotation, average="samples", zero_division=0)
    )
    has_pos = y_true.any(axis=0)
    assert default["mAP"] == pytest.approx(
        100 * average_precision_score(y_true[:, has_pos], scores[:, has_pos])
    )
    expected_voc = np.mean(
        [voc_ap_reference(y_true[:, j], scores[:, j]) for j in np.flatnonzero(has_pos)]
    )
    assert voc["mAP"] == pytest.approx(100 * expected_voc)
    top3 = annotation_scores(y_true, decision.top_k(scores, 3))
    ml_gcn = annotation_scores(y_true, ml_gcn_top_k_reference(scores, 3))
    assert table.loc["top-3", "C-F1"] == pytest.approx(100 * top3["C-F1"])
    assert table.loc["top-3, score ≥ 0.5", "S-F1"] == pytest.approx(100 * ml_gcn["S-F1"])
    # A metric the row's convention does not touch is left empty.
    assert np.isnan(mean_f1["mAP"]) and np.isnan(voc["C-F1"]) and np.isnan(voc["S-F1"])
    assert table.loc[["top-3", "top-3, score ≥ 0.5"], "mAP"].isna().all()
    used_by = " ".join(table["used by"])
    for repository in (
        "megvii-research/ML-GCN",
        "Alibaba-MIIL/ASL",
        "SlongLiu/query2labels",
        "multi-order-rnn",
    ):
        assert repository in used_by


def test_convention_effects_without_scores():
    y_true, y_pred = binary_case((40, 6), seed=1)
    table = conventions.convention_effects(y_true, None, y_pred)
    assert list(table.index) == [conventions.DEFAULT_ROW, conventions.MEAN_F1_ROW]
    assert table["mAP"].isna().all()
    assert table.loc[conventions.MEAN_F1_ROW, "C-F1"] == pytest.approx(
        100 * f1_score(y_true, y_pred, average="macro", labels=list(range(6)), zero_division=0)
    )
