"""Decision rules on hand-made score matrices."""

import numpy as np
import pytest

from annokit.evaluation import decision

SCORES = np.array(
    [
        [0.9, 0.1, 0.6, 0.3],
        [0.2, 0.8, 0.8, 0.4],  # a tie between labels 1 and 2
        [0.1, 0.2, 0.3, 0.55],
    ]
)


def test_threshold_keeps_scores_above_one_half():
    assert decision.threshold(SCORES).astype(int).tolist() == [
        [1, 0, 1, 0],
        [0, 1, 1, 0],
        [0, 0, 0, 1],
    ]


def test_top3_and_ties_go_to_the_lower_index():
    assert decision.top_k(SCORES, 3).astype(int).tolist() == [
        [1, 0, 1, 1],
        [0, 1, 1, 1],
        [0, 1, 1, 1],
    ]
    assert decision.top_k(SCORES, 1).astype(int).tolist() == [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 0, 1],
    ]
    assert decision.top_k(SCORES, 9).all()


def test_top_m_hat_rounds_half_up_and_clamps_to_one_and_c():
    raw = np.array([1.5, 0.2, 7.0])  # -> 2, clamped 0 -> 1, clamped 7 -> 4
    assert decision.predicted_quantity(raw, 4).tolist() == [2, 1, 4]
    assert decision.top_m_hat(SCORES, raw).astype(int).tolist() == [
        [1, 0, 1, 0],
        [0, 1, 0, 0],
        [1, 1, 1, 1],
    ]
    assert decision.predicted_quantity(np.array([2.5, 2.49]), 10).tolist() == [3, 2]


def test_upper_bound_uses_the_true_count():
    truth = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 1]])
    predicted = decision.upper_bound(SCORES, truth)
    assert predicted.sum(axis=1).tolist() == [2, 0, 3]
    assert predicted.astype(int).tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 1, 1]]


def test_bad_counts_are_errors():
    with pytest.raises(ValueError, match="one count per image"):
        decision.top_m(SCORES, np.array([1, 2]))
    with pytest.raises(ValueError, match="counts must lie"):
        decision.top_m(SCORES, np.array([1, 2, 5]))
    with pytest.raises(ValueError, match="2-D"):
        decision.threshold(np.zeros(3))
