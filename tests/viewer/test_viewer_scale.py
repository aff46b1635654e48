"""The viewer opens in seconds on a test split of 50,000 images: nothing is read up front."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from annokit.artifacts.predictions import Predictions, save_predictions
from annokit.artifacts.run import open_run
from annokit.evaluation import decision
from annokit.viewer import Browser
from annokit.viewer.widget import AnnotationViewer
from helpers.viewer_run import PROFILE, STEPS

# 50,000 test images.


def write_large_run(
    work: Path, n_test: int = 50_000, num_labels: int = 81, n_tags: int = 1000
) -> Path:
    """A synthetic run the size of NUS-WIDE's test split: an index written directly
    (four small images shared by every row), seven M3 prediction files and two RNN
    files with (N, 5, C) step scores."""
    rng = np.random.default_rng(0)
    run_dir, images = work / "runs" / PROFILE, work / "images"
    (run_dir / "index").mkdir(parents=True)
    images.mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(images / f"{i}.jpg")
    n_train = 1000
    n = n_train + n_test
    labels = rng.random((n, num_labels)) < 2.5 / num_labels
    tag_lists = np.split(rng.integers(0, n_tags, 6 * n).astype(np.int16), np.arange(6, 6 * n, 6))
    pd.DataFrame(
        {
            "image_id": [f"{i:06d}" for i in range(n)],
            "path": [f"{i % 4}.jpg" for i in range(n)],
            "split": ["train"] * n_train + ["test"] * n_test,
            "labels": [np.flatnonzero(r).astype(np.int16) for r in labels],
            "tags": tag_lists,
        }
    ).to_parquet(run_dir / "index" / "index.parquet", index=False)
    (run_dir / "index" / "vocab.json").write_text(
        json.dumps(
            {
                "labels": [f"label{j:02d}" for j in range(num_labels)],
                "tags": [f"tag{j}" for j in range(n_tags)],
            }
        )
    )
    (run_dir / "index" / "meta.json").write_text(
        json.dumps({"profile": PROFILE, "data_root": str(images), "fingerprint": "large-synthetic"})
    )
    rows, truth = np.arange(n_train, n), labels[n_train:]
    base = np.where(truth, 0.6, 0.0).astype(np.float32)
    for model in (
        "cnn",
        "mscnn",
        "tags_mlp",
        "mscnn_lqp",
        "mscnn_tags",
        "mscnn_tags_lqp",
        "upper_bound",
    ):
        s = base + 0.45 * rng.random(truth.shape, dtype=np.float32)
        extra = (
            {"counts": truth.sum(axis=1) + rng.normal(0, 0.8, n_test)}
            if model.endswith("lqp")
            else {}
        )
        save_predictions(
            Predictions(model, rows, s, decision.threshold(s), "fake", **extra), run_dir
        )
    for model in ("multi_order_rnn", "cnn_rnn_frequent_first"):
        steps = rng.random((n_test, STEPS, num_labels), dtype=np.float32)
        s = steps.max(axis=1)
        save_predictions(
            Predictions(
                model,
                rows,
                s,
                decision.threshold(s),
                "fake",
                step_scores=steps,
                sequences=steps.argmax(axis=2),
            ),
            run_dir,
        )
    return run_dir


def test_viewer_opens_in_under_3_seconds_on_50000_test_images(tmp_path):
    write_large_run(tmp_path)
    start = time.perf_counter()
    run = open_run(PROFILE, work_dir=str(tmp_path))
    viewer = AnnotationViewer(Browser.from_run(run))
    opened = time.perf_counter() - start
    print(f"\nviewer on 50,000 test images: opened and drew the first image in {opened:.2f} s")
    assert opened < 3.0, f"the viewer took {opened:.2f} s to open on 50,000 test images"
    assert "image 1 of 50,000" in viewer.view.value and len(viewer.browser.data.models) == 9
    assert viewer.browser.data.models["multi_order_rnn"].arrays.is_mapped("step_scores")
    assert "ak-steps" in viewer.view.value
    start = time.perf_counter()
    # the first whole-split computation: per-image F1 of the selected model
    viewer.sort.value = "f1_worst"
    viewer.outcome.value = "count_wrong"
    viewer.threshold.value = 0.7
    print(f"sort, filter and re-annotate 50,000 images: {time.perf_counter() - start:.2f} s")
    assert time.perf_counter() - start < 3.0
    assert 0 < len(viewer.browser.order) < 50_000
