"""Tests for VOC 2007's AP conventions in annokit.evaluation.metrics: the 11-point interpolated AP
against a reference computed by hand, the all-point variants against scikit-learn, and the
ignore mask that leaves difficult-only labels out of a class's ranking."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from annokit.evaluation.metrics import average_precision_per_class, mean_average_precision

# One class, five images ranked by score: positive, negative, positive, negative, positive.
TRUTH = np.array([[1], [0], [1], [0], [1]])
SCORES = np.array([[0.9], [0.8], [0.7], [0.6], [0.5]])


def test_eleven_point_ap_matches_the_hand_computed_reference():
    # Operating points (recall, precision): (1/3, 1), (1/3, 1/2), (2/3, 2/3), (2/3, 1/2), (1, 3/5).
    # Envelope at r = 0 .. 0.3: 1 (four levels); r = 0.4 .. 0.6: 2/3 (three); r = 0.7 .. 1.0:
    # 3/5 (four).
    expected = (4 * 1 + 3 * (2 / 3) + 4 * (3 / 5)) / 11
    assert mean_average_precision(TRUTH, SCORES, interpolation="voc11") == pytest.approx(expected)


def test_eleven_point_ap_counts_zero_where_a_recall_level_is_never_reached():
    # A tie at the bottom merges the second positive with two negatives: recall 1/2 at
    # precision 1, then recall 1 at precision 1/2, and no point in between.
    truth = np.array([[1], [1], [0], [0]])
    scores = np.array([[0.9], [0.1], [0.1], [0.1]])
    expected = (6 * 1 + 5 * 0.5) / 11  # r = 0 .. 0.5 reach precision 1, r = 0.6 .. 1.0 only 1/2
    assert average_precision_per_class(truth, scores, "voc11")[0] == pytest.approx(expected)


def test_a_perfect_ranking_has_eleven_point_ap_one():
    assert mean_average_precision(TRUTH, TRUTH * 1.0, interpolation="voc11") == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_all_point_ap_matches_scikit_learn_and_the_envelope_bounds_it(seed):
    rng = np.random.default_rng(seed)
    truth = rng.random((60, 4)) < 0.3
    truth[0] = True  # every class has a positive
    scores = np.round(rng.random((60, 4)), 2)  # rounded: ties are merged alike
    plain = average_precision_per_class(truth, scores)
    reference = [average_precision_score(truth[:, j], scores[:, j]) for j in range(4)]
    np.testing.assert_allclose(plain, reference)
    envelope = average_precision_per_class(truth, scores, "voc")
    assert (envelope >= plain - 1e-12).all()


def test_the_ignore_mask_leaves_entries_out_of_their_class_ranking():
    truth = np.array([[1, 0], [1, 1], [0, 0], [1, 0]])
    scores = np.array([[0.9, 0.2], [0.8, 0.1], [0.7, 0.8], [0.1, 0.7]])
    ignore = np.zeros_like(truth, dtype=bool)
    ignore[3, 0] = True  # a difficult-only positive ranked last: VOC leaves it out
    ignore[2, 1] = True  # an ignored negative ranked first: no longer counts against the class
    # Class 0 ranks P, P, N, P: (1 + 1 + 3/4) / 3 counted; without image 3 P, P, N: 1.
    # Class 1 ranks N, N, N, P: 1/4 counted; without image 2 N, N, P: 1/3.
    counted = average_precision_per_class(truth, scores)  # difficult counts as positive
    np.testing.assert_allclose(counted, [(1 + 1 + 3 / 4) / 3, 1 / 4])
    ignored = average_precision_per_class(truth, scores, ignore=ignore)
    np.testing.assert_allclose(ignored, [1.0, 1 / 3])
    assert mean_average_precision(truth, scores, ignore=ignore) == pytest.approx((1 + 1 / 3) / 2)


def test_a_class_whose_every_positive_is_ignored_has_no_ap():
    truth = np.array([[1, 1], [0, 1], [0, 0]])
    scores = np.array([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]])
    ignore = np.array([[False, True], [False, True], [False, False]])
    ap = average_precision_per_class(truth, scores, "voc11", ignore=ignore)
    assert ap[0] == pytest.approx(1.0) and np.isnan(ap[1])
    assert mean_average_precision(truth, scores, "voc11", ignore=ignore) == pytest.approx(1.0)


def test_a_bad_ignore_mask_or_interpolation_is_refused():
    with pytest.raises(ValueError, match="ignore has shape"):
        mean_average_precision(TRUTH, SCORES, ignore=np.zeros((5, 2), dtype=bool))
    with pytest.raises(ValueError, match="interpolation"):
        mean_average_precision(TRUTH, SCORES, interpolation="voc12")
