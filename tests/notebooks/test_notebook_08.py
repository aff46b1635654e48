"""Notebook 08 (the reproduced baselines) runs end to end with papermill on a tiny run with fake
cached CNN outputs; its table has the eight methods with their spread over seeds, and the annotation
viewer opens their files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import papermill as pm
import pytest

from annokit.artifacts.features import CachedArrays, save_cached
from annokit.artifacts.predictions import available_predictions, load_predictions, prediction_path
from annokit.artifacts.stamps import writer_notebook
from annokit.data.index import load_index
from annokit.methods.baselines.registry import METHODS
from annokit.viewer.browse import Browser
from annokit.viewer.store import ViewerData

REPO = Path(__file__).resolve().parents[2]
PROFILE = "demo"
METRICS = ["C-P", "C-R", "C-F1", "O-P", "O-R", "O-F1", "S-P", "S-R", "S-F1", "mAP"]


@pytest.fixture(scope="module")
def executed(make_tiny_run, tmp_path_factory) -> tuple[Path, Path, Path]:
    """The tiny demo's index, CNN features and scores that carry the labels (plus noise), and
    notebook 08 run on them."""
    work, results = tmp_path_factory.mktemp("nb07-work"), tmp_path_factory.mktemp("nb07-results")
    run_dir, index = make_tiny_run(work, PROFILE)
    labels = index.label_matrix().astype(np.float32)
    rng = np.random.default_rng(0)
    mixed = 2 * labels @ rng.normal(size=(labels.shape[1], 32))
    features = np.maximum(0, mixed + rng.normal(size=(len(labels), 32)))
    logits = np.where(labels > 0, 1.0, -2.5) + rng.normal(0, 1.0, size=labels.shape)
    scores = 1 / (1 + np.exp(-logits))
    train, test = index.rows("train"), index.rows("test")
    for name, values in (("cnn_features", features), ("cnn_scores", scores)):
        save_cached(
            CachedArrays(
                name,
                values[train].astype(np.float32),
                values[test].astype(np.float32),
                train,
                test,
                {"fake": "the labels through a random map plus noise"},
            ),
            run_dir,
        )
    mp = pytest.MonkeyPatch()
    mp.setenv("ANNOKIT_WORK", str(work))  # the kernel and its worker processes inherit both
    mp.setenv("ANNOKIT_RESULTS", str(results))
    try:
        pm.execute_notebook(
            str(REPO / "notebooks" / "08_baselines.ipynb"),
            str(results / "08_baselines.ipynb"),
            parameters={"profile": PROFILE, "work_dir": str(work)},
            kernel_name="python3",
            cwd=str(REPO / "notebooks"),
            progress_bar=False,
        )
    finally:
        mp.undo()
    return work, run_dir, results / PROFILE


@pytest.mark.slow
def test_the_table_has_every_method_with_its_seeds_and_spread(executed):
    _, _, results = executed
    table = pd.read_csv(results / "tables" / "baselines_reproduced.csv")
    assert table["method"].tolist() == [m.name for m in METHODS.values()]
    assert list(table.columns[:14]) == ["method", "rule", *METRICS, "seeds", "C-P spread"]
    assert table[METRICS].apply(lambda c: c.between(0, 100)).all().all()
    by_name = table.set_index("method")
    trained = [m.name for m in METHODS.values() if m.trained]
    neighbours = [m.name for m in METHODS.values() if not m.trained]
    assert (by_name.loc[trained, "seeds"] == 3).all()  # the demo's [classifier] seeds
    assert (by_name.loc[neighbours, "seeds"] == 1).all()
    assert (by_name.loc[neighbours, "C-F1 spread"] == 0).all()
    assert by_name.loc["CNN+WARP", "rule"] == "top-3"
    assert by_name.loc["LSEP", "rule"].startswith("top-k̂")
    assert by_name.loc["Order-free RNN", "rule"].startswith("beam search (beam 3) until END")
    assert by_name.loc["TagProp", "chosen on validation"].startswith("K ")
    assert (results / "figures" / "baselines_f1.png").stat().st_size > 1000


def test_every_seed_has_its_prediction_file_chosen_on_validation(executed):
    _, run_dir, _ = executed
    files = [f for f in available_predictions(run_dir) if f.startswith("baseline_")]
    assert len(files) == 5 * 3 + 3
    assert all(writer_notebook(f) == "08_baselines" for f in files)
    lsep = load_predictions(prediction_path(run_dir, "baseline_lsep@seed1"))
    assert lsep.counts is not None
    assert (lsep.annotation.sum(axis=1) == np.minimum(lsep.counts, lsep.scores.shape[1])).all()
    assert 1 <= lsep.meta["chosen"]["epoch"] <= 30 and lsep.meta["seed"] == 1
    order_free = load_predictions(prediction_path(run_dir, "baseline_order_free_rnn"))
    assert order_free.sequences is not None and order_free.step_scores is not None
    tagprop = load_predictions(prediction_path(run_dir, "baseline_tagprop"))
    assert (tagprop.annotation.sum(axis=1) == 3).all() and tagprop.meta["seed"] is None
    n_train = len(load_index(run_dir / "index").rows("train"))
    n_fit = n_train - round(0.1 * n_train)
    # K capped at the other fit images
    assert set(tagprop.meta["chosen"]["validation mAP"]) == {"10", "20", str(n_fit - 1)}


def test_the_viewer_opens_the_baselines(executed):
    work, run_dir, _ = executed
    index = load_index(run_dir / "index")
    data = ViewerData.from_folder(PROFILE, index, Path(index.meta["data_root"]), run_dir)
    assert {m.file for m in METHODS.values()} <= set(data.models)
    browser = Browser(data, model="baseline_order_free_rnn")
    panel = browser.panel(0)
    assert panel is not None and data.models["baseline_tag_knn"].rule == "top-3"
