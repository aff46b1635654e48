"""Tests for annokit.evaluation.metrics: scikit-learn cross-checks plus hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_fscore_support

from annokit.evaluation.metrics import (
    ANNOTATION_KEYS,
    PAPER_COLUMNS,
    annotation_scores,
    average_precision_per_class,
    label_quantity_accuracy,
    label_quantity_mse,
    mean_average_precision,
    per_class_scores,
    top1_accuracy,
)


def harmonic(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def random_case(shape: tuple[int, int], density: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random truth/predictions with an empty truth column, an empty
    prediction row and an all-empty row."""
    rng = np.random.default_rng(seed)
    y_true = rng.random(shape) < density
    # Predictions agree with the truth more often than chance, so P/R are not all ~density.
    y_pred = np.where(rng.random(shape) < 0.7, y_true, rng.random(shape) < density)
    y_true[:, 0] = False  # a class with no ground truth (recall 0/0)
    y_pred[:, 1] = False  # a class never predicted (precision 0/0)
    y_pred[0] = False  # an image with no prediction
    y_true[1] = False  # an image with no truth
    y_true[2] = y_pred[2] = False  # an image with neither
    return y_true, y_pred


SHAPES = [(50, 5), (200, 20), (1000, 81)]
DENSITIES = [0.05, 0.5]
CASES = [(s, d) for s in SHAPES for d in DENSITIES]


# The 3-image x 4-class example, worked by hand:
#   image 0: truth {0,1}, pred {0,2} -> correct {0}   : 1 correct, 2 predicted, 2 true
#   image 1: truth {1,2}, pred {1,2} -> correct {1,2} : 2 correct, 2 predicted, 2 true
#   image 2: truth {0,3}, pred {3}   -> correct {3}   : 1 correct, 1 predicted, 2 true
# Per class (correct / predicted, correct / true):
#   class 0: P 1/1, R 1/2   class 1: P 1/1, R 1/2   class 2: P 1/2, R 1/1   class 3: P 1/1, R 1/1
HAND_TRUE = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 1]])
HAND_PRED = np.array([[1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]])
C_P = (1 + 1 + 0.5 + 1) / 4  # 0.875
C_R = (0.5 + 0.5 + 1 + 1) / 4  # 0.75
C_F1 = 21 / 26  # 2 * 0.875 * 0.75 / 1.625
O_P = 4 / 5  # (1 + 2 + 1) / (2 + 2 + 1)
O_R = 4 / 6  # (1 + 2 + 1) / (2 + 2 + 2)
O_F1 = 8 / 11  # 2 * (4/5) * (2/3) / (22/15)
S_P = (1 / 2 + 1 + 1) / 3  # 5/6
S_R = (1 / 2 + 1 + 1 / 2) / 3  # 2/3
S_F1 = 20 / 27  # 2 * (5/6) * (2/3) / (3/2)
H_F1 = 336 / 439  # 2 * (21/26) * (8/11) / (21/26 + 8/11)


# ---- annotation_scores against scikit-learn --------------------------------------------


@pytest.mark.parametrize(("shape", "density"), CASES)
def test_precision_recall_match_sklearn(shape, density):
    y_true, y_pred = random_case(shape, density, seed=shape[0] + int(100 * density))
    labels = list(range(shape[1]))
    ours = annotation_scores(y_true, y_pred)
    for family, average in (("C", "macro"), ("O", "micro"), ("S", "samples")):
        p, r, _, _ = precision_recall_fscore_support(
            y_true, y_pred, average=average, labels=labels, zero_division=0
        )
        assert ours[f"{family}-P"] == pytest.approx(p, abs=1e-12), family
        assert ours[f"{family}-R"] == pytest.approx(r, abs=1e-12), family
        # Paper definition: F1 is the harmonic mean of the averaged P and R.
        assert ours[f"{family}-F1"] == pytest.approx(harmonic(p, r), abs=1e-12), family
    assert ours["H-F1"] == pytest.approx(harmonic(ours["C-F1"], ours["O-F1"]), abs=1e-12)


@pytest.mark.parametrize(("shape", "density"), CASES)
def test_per_class_scores_match_sklearn(shape, density):
    y_true, y_pred = random_case(shape, density, seed=7 + shape[1])
    p, r, f, _ = precision_recall_fscore_support(
        y_true, y_pred, average=None, labels=list(range(shape[1])), zero_division=0
    )
    ours = per_class_scores(y_true, y_pred)
    np.testing.assert_allclose(ours["precision"], p, atol=1e-12)
    np.testing.assert_allclose(ours["recall"], r, atol=1e-12)
    np.testing.assert_allclose(ours["f1"], f, atol=1e-12)


def test_accepts_bool_int_and_float_01():
    expected = annotation_scores(HAND_TRUE, HAND_PRED)
    for dtype in (bool, np.int64, np.uint8, np.float32):
        got = annotation_scores(HAND_TRUE.astype(dtype), HAND_PRED.astype(dtype))
        assert got == expected


# ---- hand-computed cases ---------------------------------------------------------------


def test_hand_example_every_key():
    got = annotation_scores(HAND_TRUE, HAND_PRED)
    expected = {
        "C-P": C_P, "C-R": C_R, "C-F1": C_F1,
        "O-P": O_P, "O-R": O_R, "O-F1": O_F1,
        "S-P": S_P, "S-R": S_R, "S-F1": S_F1,
        "H-F1": H_F1,
    }  # fmt: skip
    assert list(got) == list(ANNOTATION_KEYS)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
        assert isinstance(got[key], float)


def test_hand_example_per_class():
    got = per_class_scores(HAND_TRUE, HAND_PRED)
    np.testing.assert_allclose(got["precision"], [1, 1, 0.5, 1])
    np.testing.assert_allclose(got["recall"], [0.5, 0.5, 1, 1])
    np.testing.assert_allclose(got["f1"], [2 / 3, 2 / 3, 2 / 3, 1])


def test_c_f1_is_harmonic_of_means_not_sklearn_macro_f1():
    # Mean of per-class F1 = (2/3 + 2/3 + 2/3 + 1) / 4 = 0.75; paper's C-F1 = 21/26 ~ 0.8077.
    _, _, macro_f1, _ = precision_recall_fscore_support(
        HAND_TRUE, HAND_PRED, average="macro", zero_division=0
    )
    assert macro_f1 == pytest.approx(0.75)
    assert annotation_scores(HAND_TRUE, HAND_PRED)["C-F1"] == pytest.approx(21 / 26)
    assert abs(21 / 26 - macro_f1) > 0.05


def test_s_f1_is_harmonic_of_means_not_sklearn_samples_f1():
    # Mean of per-image F1 = (1/2 + 1 + 2/3) / 3 = 13/18 ~ 0.7222; Dutta's F1_I = 20/27 ~ 0.7407.
    _, _, samples_f1, _ = precision_recall_fscore_support(
        HAND_TRUE, HAND_PRED, average="samples", zero_division=0
    )
    assert samples_f1 == pytest.approx(13 / 18)
    assert annotation_scores(HAND_TRUE, HAND_PRED)["S-F1"] == pytest.approx(20 / 27)


def test_h_f1_when_c_f1_and_o_f1_differ():
    got = annotation_scores(HAND_TRUE, HAND_PRED)
    assert got["C-F1"] != pytest.approx(got["O-F1"])
    # H-F1 lies strictly between the two and is not their arithmetic mean (~0.7675).
    assert got["H-F1"] == pytest.approx(336 / 439)  # ~0.76538
    assert got["H-F1"] != pytest.approx((21 / 26 + 8 / 11) / 2, abs=1e-4)


def test_no_predictions_at_all_gives_zeros():
    y_true = np.array([[1, 0, 1], [0, 1, 0]])
    got = annotation_scores(y_true, np.zeros_like(y_true))
    assert got == {key: 0.0 for key in ANNOTATION_KEYS}


def test_class_with_no_truth_counts_as_zero_in_class_mean():
    # Class 1 has no truth and is never predicted: P = 0, R = 0, still in the mean over 2 classes.
    y_true = np.array([[1, 0], [1, 0]])
    y_pred = np.array([[1, 0], [1, 0]])
    got = annotation_scores(y_true, y_pred)
    assert got["C-P"] == 0.5 and got["C-R"] == 0.5 and got["C-F1"] == 0.5
    assert got["O-P"] == 1.0 and got["O-R"] == 1.0
    assert got["S-P"] == 1.0 and got["S-R"] == 1.0
    assert got["H-F1"] == pytest.approx(2 * 0.5 * 1 / 1.5)  # 2/3


def test_class_with_no_truth_but_predicted():
    # Class 1: predicted once, never true -> P = 0/1 = 0, R = 0/0 -> 0.
    y_true = np.array([[1, 0], [1, 0]])
    y_pred = np.array([[1, 1], [1, 0]])
    got = per_class_scores(y_true, y_pred)
    np.testing.assert_array_equal(got["precision"], [1.0, 0.0])
    np.testing.assert_array_equal(got["recall"], [1.0, 0.0])


def test_image_with_no_truth_counts_as_zero_in_image_mean():
    # Image 1 has no truth but one prediction: P = 0/1 = 0, R = 0/0 -> 0.
    y_true = np.array([[1, 0], [0, 0]])
    y_pred = np.array([[1, 0], [0, 1]])
    got = annotation_scores(y_true, y_pred)
    assert got["S-P"] == 0.5 and got["S-R"] == 0.5
    assert got["O-P"] == 0.5  # 1 correct of 2 predicted
    assert got["O-R"] == 1.0  # 1 correct of 1 true
    assert got["C-P"] == 0.5 and got["C-R"] == 0.5


def test_image_with_neither_truth_nor_prediction_counts_as_zero():
    y_true = np.array([[1, 0], [0, 0]])
    y_pred = np.array([[1, 0], [0, 0]])
    got = annotation_scores(y_true, y_pred)
    assert got["S-P"] == 0.5 and got["S-R"] == 0.5 and got["S-F1"] == 0.5
    assert got["O-P"] == 1.0 and got["O-R"] == 1.0


# ---- input validation ------------------------------------------------------------------


@pytest.mark.parametrize("func", [annotation_scores, per_class_scores])
def test_bad_binary_input_raises(func):
    good = np.array([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="shape"):
        func(good, np.array([[1, 0, 0], [0, 1, 0]]))
    with pytest.raises(ValueError, match="0/1"):
        func(good, np.array([[2, 0], [0, 1]]))
    with pytest.raises(ValueError, match="0/1"):
        func(np.array([[0.5, 0], [0, 1]]), good)
    with pytest.raises(ValueError, match="2-D"):
        func(np.array([1, 0]), np.array([1, 0]))
    with pytest.raises(ValueError, match="0/1"):
        func(good, np.array([[np.nan, 0], [0, 1]]))


# ---- mean average precision ------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("decimals", [None, 1])
def test_average_precision_matches_sklearn(shape, decimals):
    rng = np.random.default_rng(shape[1] + (decimals or 0))
    y_true = rng.random(shape) < 0.2
    scores = rng.random(shape) + 0.5 * y_true  # informative but imperfect
    if decimals is not None:
        scores = np.round(scores, decimals)  # many ties
        assert len(np.unique(scores)) <= 16  # values 0.0 .. 1.5
    y_true[:, 0] = False  # a class with no positive: excluded from the mean
    ap = average_precision_per_class(y_true, scores)
    assert np.isnan(ap[0])
    for j in range(1, shape[1]):
        if y_true[:, j].any():
            assert ap[j] == pytest.approx(
                average_precision_score(y_true[:, j], scores[:, j]), abs=1e-12
            ), j
    has_pos = y_true.any(axis=0)
    expected = average_precision_score(y_true[:, has_pos], scores[:, has_pos], average="macro")
    assert mean_average_precision(y_true, scores) == pytest.approx(expected, abs=1e-12)


def test_average_precision_hand_ties():
    # Scores 0.9, 0.8, 0.8, 0.1 with truth 1, 1, 0, 1. Thresholds at distinct scores:
    #   >= 0.9: 1 TP of 1 predicted  -> P 1,   R 1/3
    #   >= 0.8: 2 TP of 3 predicted  -> P 2/3, R 2/3   (tied 0.8 images enter together)
    #   >= 0.1: 3 TP of 4 predicted  -> P 3/4, R 1
    # AP = 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/4 = 29/36 (ranking ties positive-first would give 11/12).
    y_true = np.array([[1], [1], [0], [1]])
    scores = np.array([[0.9], [0.8], [0.8], [0.1]])
    assert average_precision_per_class(y_true, scores)[0] == pytest.approx(29 / 36)
    # Same ties in the other row order: the result must not depend on the order of tied images.
    assert average_precision_per_class(y_true[[0, 2, 1, 3]], scores[[0, 2, 1, 3]])[
        0
    ] == pytest.approx(29 / 36)


def test_map_perfect_ranking_is_one():
    y_true = np.array([[1, 0], [0, 1], [0, 0]])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.3]])
    assert mean_average_precision(y_true, scores) == 1.0


def test_map_bad_input():
    y_true = np.array([[1, 0], [0, 0]])
    with pytest.raises(ValueError, match="no class has a positive"):
        mean_average_precision(np.zeros((3, 2), dtype=int), np.random.default_rng(0).random((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        mean_average_precision(y_true, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        mean_average_precision(y_true, np.array([[np.nan, 0.0], [0.1, 0.2]]))
    with pytest.raises(ValueError, match="0/1"):
        average_precision_per_class(np.array([[2, 0], [0, 1]]), np.zeros((2, 2)))


# ---- label quantity prediction ---------------------------------------------------------


def test_label_quantity_accuracy_rounds_half_up_and_clamps_like_the_annotation():
    true = np.array([3, 2, 1, 0, 2, 4])
    pred = np.array([2.5, 2.49, 1.5, -0.4, 1.5, 7.2])
    # m̂ as Algorithm 2 uses it: rounded half up (3, 2, 2, 0, 2, 7), clamped to [1, C = 4] (3, 2, 2,
    # 1, 2, 4) -> right, right, wrong, wrong (no image gets 0 labels), right, right = 4/6. (np.round
    # would give 2, 2, 2, -0, 2, 7 and no clamp.)
    assert label_quantity_accuracy(true, pred, num_labels=4) == pytest.approx(4 / 6)


def test_label_quantity_mse_uses_raw_predictions():
    true = np.array([3, 2, 1, 0])
    pred = np.array([2.5, 2.49, 1.5, -0.4])
    # (0.5^2 + 0.49^2 + 0.5^2 + 0.4^2) / 4 = (0.25 + 0.2401 + 0.25 + 0.16) / 4 = 0.225025
    # (on rounded predictions it would be (0 + 0 + 1 + 0) / 4 = 0.25)
    assert label_quantity_mse(true, pred) == pytest.approx(0.225025)


def test_label_quantity_bad_input():
    with pytest.raises(ValueError):
        label_quantity_accuracy(np.array([1, 2]), np.array([1.0, 2.0, 3.0]), num_labels=5)
    with pytest.raises(ValueError):
        label_quantity_mse(np.array([[1, 2]]), np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError):
        label_quantity_mse(np.array([]), np.array([]))


# ---- top-1 accuracy --------------------------------------------------------------------


def test_top1_accuracy_with_no_label():
    # Image 0: label 0 is true -> hit; image 1: label 3 is not true -> miss; image 2: -1 -> miss.
    assert top1_accuracy(HAND_TRUE, np.array([0, 3, -1])) == pytest.approx(1 / 3)
    # -1 must not be read as "the last class": class 3 is true for image 2.
    assert top1_accuracy(HAND_TRUE, np.array([1, 1, -1])) == pytest.approx(2 / 3)
    assert top1_accuracy(HAND_TRUE, np.array([1, 1, 3])) == 1.0


def test_top1_bad_input():
    with pytest.raises(ValueError):
        top1_accuracy(HAND_TRUE, np.array([0, 1]))
    with pytest.raises(ValueError):
        top1_accuracy(HAND_TRUE, np.array([0, 1, 4]))
    with pytest.raises(ValueError):
        top1_accuracy(HAND_TRUE, np.array([0, 1, -2]))
    with pytest.raises(ValueError):
        top1_accuracy(HAND_TRUE, np.array([0.0, 1.0, 2.0]))


# ---- paper column mapping --------------------------------------------------------------


def test_paper_columns_map_to_our_keys():
    assert set(PAPER_COLUMNS) == {"m3", "multi_order"}
    for columns in PAPER_COLUMNS.values():
        assert set(columns.values()) <= set(ANNOTATION_KEYS)
    # M3's "I-" metrics pool all images; Dutta's "_I" metrics average per image.
    assert PAPER_COLUMNS["m3"]["I-F1"] == "O-F1"
    assert PAPER_COLUMNS["multi_order"]["F1_I"] == "S-F1"
    assert PAPER_COLUMNS["m3"]["H-F1"] == "H-F1"
