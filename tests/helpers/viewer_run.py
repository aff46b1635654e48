"""A tiny prepared run with fake prediction files of four kinds of
model, shared by the viewer's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from annokit.artifacts.predictions import Predictions, save_predictions
from annokit.data.index import build_index
from annokit.data.manifest import record_manifest
from annokit.evaluation import decision

PROFILE = "demo"
STEPS = 5


def write_tiny_run(root: Path, work: Path) -> Path:
    """``<work>/runs/demo``: the tiny demo's index and fake prediction files of four kinds of model.

    Scores put every true label above 0.6 and every other below 0.45, plus noise, so each rule has
    both hits and misses: cnn (top-3), mscnn_tags_lqp (top-m̂ with label counts), multi_order_rnn
    (threshold 0.5 with per-step scores) and tags_mlp, which covers only half the test images, in
    reverse order (a file need not list the split as the index does).
    """
    run_dir = work / "runs" / PROFILE
    manifest = record_manifest(root / "nuswide", "nuswide", "m3", name="tiny_viewer", source="test")
    index, _ = build_index(run_dir / "index", root / "nuswide", manifest, profile=PROFILE)
    rows = index.rows("test")
    truth = index.label_matrix("test")
    rng = np.random.default_rng(0)

    def scores() -> np.ndarray:
        return np.where(truth, 0.6, 0.0) + 0.45 * rng.random(truth.shape, dtype=np.float32)

    s = scores()
    save_predictions(Predictions("cnn", rows, s, decision.top_k(s, 3), "top-3"), run_dir)
    s, counts = scores(), truth.sum(axis=1) + rng.normal(0, 0.8, len(rows))
    save_predictions(
        Predictions(
            "mscnn_tags_lqp",
            rows,
            s,
            decision.top_m_hat(s, counts),
            "top-m̂ (LQP on [f_v, f_t])",
            counts=counts,
        ),
        run_dir,
    )
    steps = (
        0.5 * rng.random((len(rows), STEPS, truth.shape[1])) ** 3 + 0.5 * truth[:, None, :]
    ).astype(np.float32)
    s = steps.max(axis=1)
    save_predictions(
        Predictions(
            "multi_order_rnn",
            rows,
            s,
            decision.threshold(s),
            "max-pool over 5 steps, sigmoid, threshold 0.5",
            step_scores=steps,
            sequences=steps.argmax(axis=2),
        ),
        run_dir,
    )
    half = rows[::2][::-1]
    s = scores()[::2][::-1]
    save_predictions(Predictions("tags_mlp", half, s, decision.top_k(s, 3), "top-3"), run_dir)
    return run_dir
