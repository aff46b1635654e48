"""Notebook 06 (partial labels) runs end to end on a tiny prepared run with fake, informative CNN features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import papermill as pm

from annokit import paths
from annokit.features import CachedArrays, save_cached

PROFILE = "demo"


def tiny_run(make_tiny_run, work: Path) -> Path:
    """``<work>/runs/demo`` with an index of the tiny demo and ``cnn_features`` that carry the labels.

    Notebook 01 writes the real features; here they are the labels through a random projection plus
    noise, so a linear classifier can learn from them.
    """
    run_dir, index = make_tiny_run(work, PROFILE)
    labels = index.label_matrix().astype(np.float32)
    rng = np.random.default_rng(0)
    features = np.maximum(0, 3 * labels @ rng.normal(size=(labels.shape[1], 32)) + rng.normal(size=(len(labels), 32)))
    train, test = index.rows("train"), index.rows("test")
    save_cached(CachedArrays("cnn_features", features[train].astype(np.float32), features[test].astype(np.float32),
                             train, test, {"fake": "labels through a random projection plus noise"}), run_dir)
    return run_dir


def test_notebook_06_runs_on_a_tiny_run(make_tiny_run, tmp_path, monkeypatch):
    work, results = tmp_path / "work", tmp_path / "results"
    run_dir = tiny_run(make_tiny_run, work)
    monkeypatch.setenv("ANNOKIT_WORK", str(work))  # the kernel inherits both: nothing lands in the repository
    monkeypatch.setenv("ANNOKIT_RESULTS", str(results))
    output = tmp_path / "06_partial_labels.ipynb"
    pm.execute_notebook(str(paths.repo_root() / "notebooks" / "06_partial_labels.ipynb"), str(output),
                        parameters={"profile": PROFILE, "work_dir": str(work), "epochs": 8, "curriculum_rounds": 1},
                        kernel_name="python3", cwd=str(paths.repo_root() / "notebooks"), progress_bar=False)

    out = results / PROFILE
    table = pd.read_csv(out / "tables" / "partial_labels.csv")
    assert len(table) == 18
    assert set(table["loss"]) == {"bce_negative", "bce_ignore", "partial_bce"}
    assert sorted(table["proportion"].unique()) == [0.1, 0.3, 0.5, 0.7, 0.9, 1.0]
    assert table["mAP"].between(0, 1, inclusive="right").all()
    assert table[["C-F1", "O-F1"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (table["epochs"] == 8).all()
    full = table[table["proportion"] == 1.0]
    assert np.allclose(full["mAP"], full["mAP"].iloc[0])  # every label known: the three losses are one loss
    assert table.groupby("proportion")["known_share"].first().round(1).tolist() == [0.1, 0.3, 0.5, 0.7, 0.9, 1.0]

    for figure in ("partial_labels_map", "partial_labels_f1"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000
    curriculum = pd.read_csv(out / "tables" / "partial_labels_curriculum.csv")
    assert curriculum["round"].tolist() == [0, 1] and curriculum["test mAP"].between(0, 1).all()
    assert len(list((run_dir / "predictions").glob("partial_*_p*.npz"))) == 18
    cells = json.dumps(json.loads(output.read_text())["cells"])
    assert "47.4" in cells  # the paper's rows are shown beside ours
