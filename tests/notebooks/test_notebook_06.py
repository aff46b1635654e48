"""Notebook 06 (partial labels) runs end to end on a tiny prepared run, fine-tuning from the
stand-in, never from notebook 01."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import papermill as pm
import pytest
import torch

from annokit import paths
from annokit.data.annotation_table import TRAIN
from annokit.methods.m3_files import image_split
from annokit.methods.partial_finetune import (
    LastBlockClassifier,
    below_last_block,
    inputs_of,
    weights_source,
)
from annokit.models import build_backbone
from annokit.profile import load_profile
from annokit.training.validation import validation_positions

PROFILE = "demo"


@pytest.mark.slow
def test_notebook_06_fine_tunes_from_the_pretrained_weights_on_partial_labels_only(
    make_tiny_run, tmp_path, monkeypatch
):
    work, results = tmp_path / "work", tmp_path / "results"
    run_dir, index = make_tiny_run(work, PROFILE)
    # notebook 01's features are not needed
    assert not (run_dir / "features" / "cnn_features.npz").exists()
    # the kernel inherits both: nothing lands in the repository
    monkeypatch.setenv("ANNOKIT_WORK", str(work))
    monkeypatch.setenv("ANNOKIT_RESULTS", str(results))
    output = tmp_path / "06_partial_labels.ipynb"
    pm.execute_notebook(
        str(paths.repo_root() / "notebooks" / "06_partial_labels.ipynb"),
        str(output),
        parameters={
            "profile": PROFILE,
            "work_dir": str(work),
            "epochs": 1,
            "curriculum_rounds": 1,
            "mc_samples": 3,
        },
        kernel_name="python3",
        cwd=str(paths.repo_root() / "notebooks"),
        progress_bar=False,
    )

    out = results / PROFILE
    table = pd.read_csv(out / "tables" / "partial_labels.csv")
    settings = load_profile(PROFILE).partial
    assert len(table) == 3 * len(settings.proportions) * len(settings.seeds)
    assert set(table["loss"]) == {"bce_negative", "bce_ignore", "partial_bce"}
    assert sorted(table["seed"].unique()) == [0, 1, 2]
    assert sorted(table["proportion"].unique()) == list(settings.proportions)
    assert (table["finetune"] == "last_block").all() and (table["epochs"] == 1).all()
    assert table["mAP"].between(0, 1, inclusive="right").all()
    full = table[table["proportion"] == 1.0]
    for _, same_seed in full.groupby("seed"):
        # every label known: the three losses are one loss, trained once
        assert np.allclose(same_seed["mAP"], same_seed["mAP"].iloc[0])
        assert same_seed["fit"].nunique() == 1
    fits = {p.parent.name for p in (run_dir / "partial").glob("*/final.pt")}
    sweep_fits = set(table["fit"])
    assert len(sweep_fits) == (3 * (len(settings.proportions) - 1) + 1) * len(settings.seeds)
    assert sweep_fits <= fits
    known = table.groupby("proportion")["known_share"].first().round(1)
    assert known.tolist() == list(settings.proportions)

    for figure in ("partial_labels_map", "partial_labels_f1", "partial_labels_budget"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000

    # labelling strategies: equal budgets, the sweep's fits reused for partial labels and at 100 %
    budget = pd.read_csv(out / "tables" / "partial_labels_budget.csv")
    seeds = settings.seeds[:2]
    assert set(budget["labelling"]) == {"partial", "complete", "noisy"}
    assert len(budget) == 3 * len(settings.proportions) * len(seeds)
    for _, point in budget.groupby(["proportion", "seed"]):
        at = point.set_index("labelling")
        assert at.loc["complete", "annotated_pairs"] == at.loc["partial", "annotated_pairs"]
        assert at.loc["noisy", "clean_pairs"] == at.loc["partial", "annotated_pairs"]
    assert set(budget.query("labelling == 'partial'")["fit"]) <= sweep_fits
    assert set(budget.query("proportion == 1.0")["fit"]) <= sweep_fits

    # curriculum: every strategy from the sweep's round 0, one round, the seeds' spread
    curriculum = pd.read_csv(out / "tables" / "partial_labels_curriculum.csv")
    kinds = {"none", "score_threshold", "score_proportion", "positive_only", "ensemble", "bayesian"}
    assert set(curriculum["strategy"]) == kinds and set(curriculum["seed"]) == set(seeds)
    assert len(curriculum) == len(kinds) * len(seeds) * 2
    assert curriculum["test mAP"].between(0, 1).all()
    round0 = curriculum[curriculum["round"] == 0]
    for _, same_seed in round0.groupby("seed"):
        assert same_seed["test mAP"].nunique() == 1  # one round 0 for every strategy
    assert (curriculum.query("strategy == 'none'")["added"] == 0).all()
    assert not list((run_dir / "partial").rglob("round_0"))  # no round 0 of its own
    assert {p.parent.name for p in (run_dir / "partial").rglob("round_1/final.pt")} == {"round_1"}
    thetas = pd.read_csv(out / "tables" / "partial_labels_curriculum_theta.csv")
    assert thetas.groupby(["strategy", "seed"])["chosen"].sum().eq(1).all()

    # GNN head beside the sweep's linear head
    heads = pd.read_csv(out / "tables" / "partial_labels_gnn.csv")
    assert set(heads["head"]) == {"linear", "gnn"} and heads["mAP"].between(0, 1).all()
    assert set(heads.query("head == 'linear'")["fit"]) <= sweep_fits
    files = list((run_dir / "predictions").glob("partial_*_p*.npz"))
    assert len(files) == len(table) and sum("@seed" in f.name for f in files) == 2 * len(table) // 3
    cells = json.dumps(json.loads(output.read_text())["cells"])
    assert "47.4" in cells  # the paper's rows are shown beside ours

    # The cached maps are the stand-in's frozen layers on the training images (no label involved),
    # and the trained block started from the stand-in's last block.
    profile = load_profile(PROFILE)
    standin = build_backbone(
        "resnet18", None, weights_path=paths.weights_dir() / "resnet18-standin.pth"
    )
    train = image_split(index, index.meta["data_root"], TRAIN, profile.image_size)
    maps = inputs_of(
        "last_block",
        standin,
        {TRAIN: train},
        "cpu",
        cache=run_dir / "features" / "partial_inputs.npz",
        source=weights_source(profile, index.meta["fingerprint"]),
    )[TRAIN]
    with torch.no_grad():
        first = below_last_block(standin.eval(), torch.stack([train[0][0], train[1][0]]))
    np.testing.assert_allclose(maps[:2], first.numpy(), rtol=1e-4, atol=1e-5)
    fit_positions, _ = validation_positions(profile, index)
    assert len(fit_positions) < len(train)  # the validation images are left out of training
    head = LastBlockClassifier(standin, 5, seed=0)
    assert torch.equal(head.block.conv1.weight, standin.layer4[-1].conv1.weight)
