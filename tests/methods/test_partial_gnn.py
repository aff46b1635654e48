"""The GNN head against the linear head (Durand et al. 2019, Sec. 3.2): the linear head is the
sweep's fit, reused; the GNN head is a new fit on the same partial labels."""

from __future__ import annotations

import numpy as np

from annokit.artifacts.run import Run
from annokit.methods.partial_gnn import HeadGrid, compare_heads
from annokit.methods.partial_labels import ClassifierTraining, PartialData
from annokit.methods.partial_sweep import SweepGrid, sweep
from annokit.profile import Training, load_profile
from annokit.training.fit import FitConfig


def test_the_gnn_head_trains_on_partial_labels_beside_the_reused_linear_head(tmp_path):
    rng = np.random.default_rng(2)
    labels = rng.random((300, 5)) < 0.3
    features = (labels @ rng.normal(size=(5, 12)) + 0.3 * rng.normal(size=(300, 12))).astype(
        np.float32
    )
    data = PartialData(features[:240], labels[:240], features[240:], labels[240:], np.arange(60))
    training = ClassifierTraining(FitConfig(Training(epochs=4, batch_size=60, lr=0.5)))
    run = Run(load_profile("demo", seed=0), tmp_path, None, tmp_path, tmp_path, tmp_path)
    sweep(run, data, SweepGrid((0.5, 1.0), ("partial_bce",)), training)
    before = {p.parent.name for p in (tmp_path / "partial").rglob("final.pt")}
    grid = HeadGrid(proportions=(0.5, 1.0), seeds=(0,), hidden=8, steps=2)
    heads = compare_heads(run, data, training, grid)
    after = {p.parent.name for p in (tmp_path / "partial").rglob("final.pt")}
    assert after - before == {"partial_gnn_p050", "partial_gnn_p100"}
    linear = heads[heads["head"] == "linear"]
    assert linear["fit"].tolist() == ["partial_partial_bce_p050", "partial_partial_bce_p100"]
    assert (heads[heads["head"] == "gnn"]["mAP"] > 0.8).all()  # it learns through the graph
    again = compare_heads(run, data, training, grid)  # reused, the same numbers
    np.testing.assert_array_equal(again["mAP"], heads["mAP"])
