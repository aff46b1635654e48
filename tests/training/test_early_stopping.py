"""Early stopping on the validation loss: the epoch kept and when a fit stops, on hand-made
curves."""

from __future__ import annotations

import math

import pytest

from annokit.training.validation import lowest_epoch, patience_ran_out


def test_the_lowest_validation_loss_is_kept_the_earliest_of_equal_ones():
    assert lowest_epoch([3.0, 2.0, 2.5, 1.5, 1.7]) == 4
    assert lowest_epoch([2.0, 1.0, 1.0, 3.0]) == 2  # a tie: the earlier epoch
    assert lowest_epoch([math.nan, 4.0, math.nan]) == 2  # NaN never wins
    assert lowest_epoch([5.0]) == 1
    with pytest.raises(ValueError, match="no validation losses"):
        lowest_epoch([])


def test_a_fit_stops_patience_epochs_after_its_lowest_loss():
    curve = [3.0, 2.0, 2.5, 2.4, 2.2, 2.1]  # lowest at epoch 2
    stops = [patience_ran_out(curve[:e], patience=3) for e in range(1, len(curve) + 1)]
    assert stops == [False, False, False, False, True, True]
    assert not patience_ran_out(curve, patience=0)  # 0: never stop early
    assert not patience_ran_out([3.0, 2.0, 1.0], patience=1)  # still improving
    assert patience_ran_out([3.0, 2.0, 2.0], patience=1)  # an equal loss is no improvement
