"""Prediction files and cached arrays: round trip, and clear errors for missing or damaged files."""

import numpy as np
import pytest

from annokit.artifacts.features import CachedArrays, load_cached, save_cached
from annokit.artifacts.predictions import (
    Predictions,
    available_predictions,
    load_predictions,
    save_predictions,
)


def test_prediction_file_round_trip_keeps_every_array(make_tiny_run, tmp_path):
    # a file records the run's prepared index, so the run needs one
    run_dir, index = make_tiny_run(tmp_path)
    rng = np.random.default_rng(0)
    scores = rng.random((4, 3)).astype(np.float32)
    original = Predictions(
        "multi_order_rnn",
        index.rows("test")[[5, 2, 9, 1]],
        scores,
        scores > 0.5,
        "max-pool, threshold 0.5",
        counts=np.array([1.2, 2.6, 0.4, 3.0]),
        step_scores=rng.random((4, 2, 3)),
        sequences=np.array([[0, 2], [1, -1], [2, 0], [0, 1]]),
        meta={"profile": "demo"},
    )
    path = save_predictions(original, run_dir)
    loaded = load_predictions(path)
    recorded = {"index_fingerprint": index.meta["fingerprint"], "splits": {"rows": "test"}}
    assert (
        loaded.model == "multi_order_rnn"
        and loaded.rule == "max-pool, threshold 0.5"
        and loaded.meta == {"profile": "demo", **recorded}
    )
    for name in ("rows", "scores", "annotation", "counts", "step_scores", "sequences"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
    assert available_predictions(run_dir) == ["multi_order_rnn"]
    assert not list((run_dir / "predictions").glob(".*")), "no temporary file is left behind"


def test_a_file_is_named_as_its_model_whatever_its_meta_says(make_tiny_run, tmp_path):
    """An extra seed's file (``cnn@seed1``) loads as that model, not as the model it repeats."""
    run_dir, index = make_tiny_run(tmp_path)
    scores = np.full((2, 3), 0.6, dtype=np.float32)
    rows = index.rows("test")[:2]
    seed = Predictions("cnn@seed1", rows, scores, scores > 0.5, "top-3", meta={"model": "cnn"})
    loaded = load_predictions(save_predictions(seed, run_dir))
    assert loaded.model == "cnn@seed1" and available_predictions(run_dir) == ["cnn@seed1"]


def test_mismatched_arrays_are_rejected():
    with pytest.raises(ValueError, match="counts has 1 rows for 2 images"):
        Predictions(
            "m", np.arange(2), np.zeros((2, 3)), np.zeros((2, 3), bool), "top-3", counts=np.ones(1)
        )


def test_missing_and_damaged_files_name_the_file_and_the_fix(make_tiny_run, tmp_path):
    run_dir, index = make_tiny_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="run the notebook"):
        load_predictions(run_dir / "predictions" / "cnn.npz")
    rows = index.rows("test")[:2]
    path = save_predictions(
        Predictions("cnn", rows, np.zeros((2, 3)), np.zeros((2, 3), bool), "top-3"), run_dir
    )
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RuntimeError, match="cnn.npz is unreadable"):
        load_predictions(path)
    with pytest.raises(FileNotFoundError, match="01_cnn_finetune"):
        load_cached(run_dir, "cnn_scores")


def test_cached_arrays_round_trip(make_tiny_run, tmp_path):
    run_dir, index = make_tiny_run(tmp_path)
    train, test = index.rows("train")[:3], index.rows("test")[:2]
    cached = CachedArrays(
        "cnn_scores",
        np.ones((3, 2), np.float32),
        np.zeros((2, 2), np.float32),
        train,
        test,
        {"model": "cnn"},
    )
    save_cached(cached, run_dir)
    loaded = load_cached(run_dir, "cnn_scores")
    np.testing.assert_array_equal(loaded.train, cached.train)
    np.testing.assert_array_equal(loaded.test_rows, cached.test_rows)
    assert loaded.meta == {
        "model": "cnn",
        "index_fingerprint": index.meta["fingerprint"],
        "splits": {"train_rows": "train", "test_rows": "test"},
    }
