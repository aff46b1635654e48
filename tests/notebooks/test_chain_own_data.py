"""The whole chain on one's own labelled images: the tiny demo written as a folder + CSV, taken
through the README's three commands (manifest record, prepare, reproduce), every notebook 00–10
on it with one epoch per stage and two notebooks at a time."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from annokit.artifacts.features import load_cached
from annokit.artifacts.predictions import available_predictions, load_predictions, prediction_path
from annokit.chain_graph import READS

PROFILE = "mine"
MINE = """extends = "demo-csv"
description = "The tiny demo as a folder + CSV"
manifest = "mine.json"
data_root = "{root}"
"""
# one epoch per stage; no companion profiles to prepare; the curriculum's rounds are another test's
TINY = {
    "epochs": "1",
    "finetune_epochs": "1",
    "companion_profiles": "",
    "curriculum_rounds": "0",
    "mc_samples": "2",
}


def annokit(*args: str, env: dict[str, str]) -> str:
    """The console command, as a user types it; its output (it must succeed)."""
    command = [str(Path(sys.executable).with_name("annokit")), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def chain(tiny_demo, tmp_path_factory):
    """The tiny demo's csv layout run through the whole chain as a profile file of one's own."""
    base = tmp_path_factory.mktemp("own-data")
    env = {
        **os.environ,
        "ANNOKIT_WORK": str(base / "work"),
        "ANNOKIT_RESULTS": str(base / "results"),
    }
    root = tiny_demo[0] / "csv"
    (base / "mine.toml").write_text(MINE.format(root=root), encoding="utf-8")
    annokit(
        "manifest",
        "record",
        str(root),
        "--dataset",
        "csv",
        "--split-rule",
        "official",
        "--name",
        PROFILE,
        "--out",
        str(base / "mine.json"),
        env=env,
    )
    annokit("prepare", "--profile", str(base / "mine.toml"), env=env)
    parameters = [part for name, value in TINY.items() for part in ("-p", name, value)]
    command = ["reproduce", "--profile", str(base / "mine.toml"), "--jobs", "2", *parameters]
    first = annokit(*command, env=env)
    again = annokit(*command, env=env)
    return base, first, again


@pytest.mark.slow
def test_the_whole_chain_runs_on_a_folder_and_csv_of_ones_own(chain):
    base, first, again = chain
    results = base / "results" / PROFILE
    executed = {p.name.removesuffix(".stamp.json") for p in (results / "executed").glob("*.json")}
    assert executed == set(READS)  # every notebook of the chain ran
    # a second reproduce finds every notebook up to date
    assert again.count("up to date, skipped") == len(READS), again
    tables = {p.stem for p in (results / "tables").glob("*.csv")}
    assert tables >= {
        "dataset_statistics",
        "m3_components",
        "m3_table1",
        "multi_order_table1",
        "partial_labels",
        "partial_labels_budget",
        "cnn_rnn_wang",
        "baselines_reproduced",
        "paper_claims",
    }
    meta = json.loads((base / "work" / "runs" / PROFILE / "index" / "meta.json").read_text())
    assert (meta["dataset"], meta["manifest"]) == ("csv", PROFILE)  # the name recorded


@pytest.mark.slow
def test_the_m3_notebooks_write_every_row_on_it(chain):
    base, _, _ = chain
    tmp_path = base
    tiny_run = base / "work"
    run_dir = tiny_run / "runs" / PROFILE
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
    results = tmp_path / "results" / PROFILE
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
    models = {"CNN (top-3)", "M3 (top-m̂)", "Multi-order RNN"}  # with notebook 05 in the chain
    assert set(effects.index.get_level_values("model")) == models
    # the envelope only raises precision
    assert (
        effects.loc[("CNN (top-3)", "AP: VOC all-point interpolated"), "mAP"]
        >= effects.loc[("CNN (top-3)", "papers: F1 of means, non-interpolated AP (default)"), "mAP"]
    )
    assert (run_dir / "settings.json").exists()  # every result traces back to its resolved settings
    for figure in ("m3_scale_maps",):
        assert (results / "figures" / f"{figure}.png").stat().st_size > 1000
