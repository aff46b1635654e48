"""Notebook 07 (Wang et al.'s CNN-RNN: both phases, beam search, the table beside the paper's) runs
end to end with papermill on a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import papermill as pm
import pytest
import torch

from annokit.artifacts.features import CachedArrays, save_cached
from annokit.artifacts.predictions import Predictions, load_predictions, save_predictions
from annokit.evaluation.decision import top_k
from annokit.models import build_backbone
from annokit.training.checkpoints import save_final

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "07_cnn_rnn.ipynb"
PROFILE = "demo"


@pytest.fixture(scope="module")
def tiny_run(make_tiny_run, tmp_path_factory) -> Path:
    """A work folder with the tiny demo's index and what notebook 01 leaves: its CNN (random
    weights), cached 512-d features (noisy codes of the labels) and its ``cnn`` prediction file."""
    work = tmp_path_factory.mktemp("nb07-work")
    run_dir, index = make_tiny_run(work, PROFILE)
    train, test = index.rows("train"), index.rows("test")
    labels = index.label_matrix()
    torch.manual_seed(0)
    cnn = build_backbone("resnet18", num_classes=labels.shape[1])
    save_final(run_dir / "cnn" / "final.pt", model_state=cnn.state_dict(), config={}, history={})
    rng = np.random.default_rng(0)
    code = rng.normal(size=(labels.shape[1], 512))

    def features(rows: np.ndarray) -> np.ndarray:
        return (labels[rows] @ code + rng.normal(size=(len(rows), 512))).astype(np.float32)

    save_cached(CachedArrays("cnn_features", features(train), features(test), train, test), run_dir)
    scores = rng.random((len(test), labels.shape[1])).astype(np.float32)
    save_predictions(Predictions("cnn", test, scores, top_k(scores, 3), rule="top-3"), run_dir)
    return work


@pytest.mark.slow
def test_notebook_07_runs_on_a_tiny_run(tiny_run, tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("ANNOKIT_RESULTS", str(results))
    monkeypatch.setenv("ANNOKIT_WORK", str(tiny_run))
    executed = tmp_path / "executed.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(executed),
        cwd=str(NOTEBOOK.parent),
        kernel_name="python3",
        parameters={
            "profile": PROFILE,
            "work_dir": str(tiny_run),
            "epochs": 1,
            "finetune_epochs": 1,
            "seeds": [0, 1],
        },
        progress_bar=False,
    )

    run_dir = tiny_run / "runs" / PROFILE
    n_test = len(load_predictions(run_dir / "predictions" / "cnn.npz").rows)
    for name, seed in (("wang_cnn_rnn", 0), ("wang_cnn_rnn@seed1", 1)):
        p = load_predictions(run_dir / "predictions" / f"{name}.npz")
        assert p.annotation.shape == p.scores.shape and len(p.rows) == n_test
        assert ((p.scores >= 0) & (p.scores <= 1)).all()
        assert p.meta["seed"] == seed and p.meta["settings"]["epochs"] == 1
        assert p.meta["settings"]["finetune"] == "last_conv" and "beam 3" in p.rule
        # the annotation is the label set of the predicted path
        for path, row in zip(p.sequences, p.annotation):
            assert set(path[path >= 0].tolist()) == set(np.flatnonzero(row).tolist())
    for folder in (run_dir, run_dir / "seeds" / "seed1"):
        for phase in ("frozen", "end_to_end"):
            assert (folder / "wang_cnn_rnn" / phase / "final.pt").exists()
    assert (run_dir / "features" / "wang_cnn_rnn_maps.npz").exists()

    out = results / PROFILE
    table = pd.read_csv(out / "tables" / "cnn_rnn_wang.csv", index_col="method")
    assert table.index[0] == "CNN-RNN (paper)" and table.loc["CNN-RNN (paper)", "C-F1"] == 34.7
    assert table.loc["CNN-RNN (top-3)", "seeds"] == 2
    assert table.loc["CNN, notebook 01 (top-3)", "seeds"] == 1
    assert table[["C-F1", "O-F1"]].iloc[1:].apply(lambda c: c.between(0, 100)).all().all()
    assert (out / "figures" / "cnn_rnn_wang.png").stat().st_size > 1000
    cells = json.dumps(json.loads(executed.read_text())["cells"])
    assert "find the same paths" in cells and "step_by_hand and annokit" in cells
