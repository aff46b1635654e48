"""Notebooks 01–04 and the result tables (06) executed in order by papermill on a tiny run (a few
dozen images, one epoch)."""

import numpy as np
import pandas as pd
import papermill as pm
import pytest

from annokit import paths
from annokit.artifacts.features import load_cached
from annokit.artifacts.predictions import available_predictions, load_predictions, prediction_path

M3_NOTEBOOKS = ("01_cnn_finetune", "02_ms_cnn", "03_tags_mlp", "04_lqp", "09_result_tables")


@pytest.fixture(scope="module")
def tiny_run(make_tiny_run, tmp_path_factory):
    """A work folder holding the tiny demo prepared as the demo profile's index."""
    work = tmp_path_factory.mktemp("tiny-work")
    make_tiny_run(work, "demo")
    return work


@pytest.mark.slow
def test_m3_notebooks_run_in_order_and_write_every_row(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOKIT_RESULTS", str(tmp_path / "results"))
    for name in M3_NOTEBOOKS:
        pm.execute_notebook(
            str(paths.repo_root() / "notebooks" / f"{name}.ipynb"),
            str(tmp_path / f"{name}.ipynb"),
            parameters={"profile": "demo", "work_dir": str(tiny_run), "device": "cpu", "epochs": 1},
            kernel_name="python3",
            cwd=str(paths.repo_root() / "notebooks"),
            progress_bar=False,
        )
    run_dir = tiny_run / "runs" / "demo"
    assert set(available_predictions(run_dir)) >= {
        "cnn",
        "mscnn",
        "tags_mlp",
        "mscnn_lqp",
        "mscnn_tags",
        "mscnn_tags_lqp",
        "upper_bound",
    }
    full = load_predictions(prediction_path(run_dir, "mscnn_tags_lqp"))
    assert full.counts is not None and np.isfinite(full.counts).all()
    assert (full.annotation.sum(axis=1) >= 1).all()  # m̂ is clamped to [1, C]
    cnn_scores = load_cached(run_dir, "cnn_scores")
    assert (
        cnn_scores.train.shape[1] == full.scores.shape[1]
        and ((cnn_scores.test >= 0) & (cnn_scores.test <= 1)).all()
    )
    for stage in ("cnn", "mscnn", "tags_mlp", "classifier_joint", "lqp_joint"):
        assert (run_dir / stage / "final.pt").exists(), stage
    results = tmp_path / "results" / "demo"
    table = pd.read_csv(results / "tables" / "m3_components.csv", index_col=0)
    assert list(table.index) == [
        "upper_bound",
        "mscnn_tags_lqp",
        "mscnn_lqp",
        "mscnn_tags",
        "mscnn",
        "cnn",
    ]
    # same count as the truth
    assert table["O-P"].loc["upper_bound"] == pytest.approx(table["O-R"].loc["upper_bound"])
    for figure in (
        "m3_cnn_training",
        "m3_mscnn_training",
        "m3_tags_mlp_training",
        "m3_lqp_confusion",
        "qualitative_grid",
        "per_class_f1",
        "lqp_counts",
    ):
        assert (results / "figures" / f"{figure}.png").stat().st_size > 1000
    seeds = [p for p in available_predictions(run_dir) if p.startswith("mscnn_tags_lqp@seed")]
    assert len(seeds) == 2  # the demo profile trains the heads with 3 seeds
    table1 = (results / "tables" / "m3_table1.md").read_text()
    # paper value beside ours with its spread
    assert "80.27" in table1 and "±" in table1 and "(3 seeds)" in table1
    for suffix in ("csv", "tex"):
        assert (results / "tables" / f"m3_table1.{suffix}").exists()
    assert "not reproduced by the kit" in (results / "tables" / "m3_table3.md").read_text()
    effects = pd.read_csv(results / "tables" / "metric_conventions.csv", index_col=[0, 1])
    assert set(effects.index.get_level_values("model")) == {"CNN (top-3)", "M3 (top-m̂)"}
    # the envelope only raises precision
    assert (
        effects.loc[("CNN (top-3)", "AP: VOC all-point interpolated"), "mAP"]
        >= effects.loc[("CNN (top-3)", "papers: F1 of means, non-interpolated AP (default)"), "mAP"]
    )
    assert (run_dir / "settings.json").exists()  # every result traces back to its resolved settings
    for figure in ("m3_scale_maps",):
        assert (results / "figures" / f"{figure}.png").stat().st_size > 1000
