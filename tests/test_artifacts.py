"""Prediction files and cached arrays: round trip, and clear errors for missing or damaged files."""

import numpy as np
import pytest

from annokit.features import CachedArrays, load_cached, save_cached
from annokit.predictions import Predictions, available_predictions, load_predictions, save_predictions


def test_prediction_file_round_trip_keeps_every_array(tmp_path):
    rng = np.random.default_rng(0)
    scores = rng.random((4, 3)).astype(np.float32)
    original = Predictions("multi_order_rnn", np.array([5, 2, 9, 1]), scores, scores > 0.5, "max-pool, threshold 0.5",
                           counts=np.array([1.2, 2.6, 0.4, 3.0]), step_scores=rng.random((4, 2, 3)),
                           sequences=np.array([[0, 2], [1, -1], [2, 0], [0, 1]]), meta={"profile": "demo"})
    path = save_predictions(original, tmp_path)
    loaded = load_predictions(path)
    assert loaded.model == "multi_order_rnn" and loaded.rule == "max-pool, threshold 0.5" and loaded.meta == {"profile": "demo"}
    for name in ("rows", "scores", "annotation", "counts", "step_scores", "sequences"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
    assert available_predictions(tmp_path) == ["multi_order_rnn"]
    assert not list((tmp_path / "predictions").glob(".*")), "no temporary file is left behind"


def test_mismatched_arrays_are_rejected():
    with pytest.raises(ValueError, match="counts has 1 rows for 2 images"):
        Predictions("m", np.arange(2), np.zeros((2, 3)), np.zeros((2, 3), bool), "top-3", counts=np.ones(1))


def test_missing_and_damaged_files_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the notebook"):
        load_predictions(tmp_path / "predictions" / "cnn.npz")
    path = save_predictions(Predictions("cnn", np.arange(2), np.zeros((2, 3)), np.zeros((2, 3), bool), "top-3"), tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RuntimeError, match="cnn.npz is unreadable"):
        load_predictions(path)
    with pytest.raises(FileNotFoundError, match="01_cnn_finetune"):
        load_cached(tmp_path, "cnn_scores")


def test_cached_arrays_round_trip(tmp_path):
    cached = CachedArrays("cnn_scores", np.ones((3, 2), np.float32), np.zeros((2, 2), np.float32), np.arange(3), np.arange(3, 5), {"model": "cnn"})
    save_cached(cached, tmp_path)
    loaded = load_cached(tmp_path, "cnn_scores")
    np.testing.assert_array_equal(loaded.train, cached.train)
    np.testing.assert_array_equal(loaded.test_rows, cached.test_rows)
    assert loaded.meta == {"model": "cnn"}
