"""The GNN head over labels (Durand et al. 2019, Sec. 3.2) against the linear head, both trained
with partial-BCE on the same partial labels and inputs.

``compare_heads`` is notebook 06's one call: per proportion and seed, the sweep's linear-head fit
(reused) beside a ``GraphHead``, the same ConvNet part with ``annokit.models.label_gnn.LabelGNN``
on its scores, trained end to end in ``<run>/partial/partial_gnn_p<percent>[@seed<k>]``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from annokit.artifacts.run import Run
from annokit.methods.m3_files import seed_suffix
from annokit.methods.partial_labels import (
    ClassifierTraining,
    PartialData,
    evaluate,
    linear_classifier,
    mask_labels,
    predict_probabilities,
    train_classifier,
)
from annokit.methods.partial_sweep import sweep_fit
from annokit.models.label_gnn import GraphHead, LabelGNN

HEAD_LOSS = "partial_bce"


@dataclass(frozen=True)
class HeadGrid:
    """The points compared (proportions × seeds) and the GNN's hidden size and steps T."""

    proportions: tuple[float, ...]
    seeds: tuple[int, ...]
    hidden: int = 512
    steps: int = 3


def gnn_factory(
    training: ClassifierTraining, features: np.ndarray | Dataset, num_labels: int, grid: HeadGrid
) -> Callable[[int], nn.Module]:
    """``make(seed)``: the ConvNet part ``training`` builds (a linear layer on array features when
    it builds none), then a seeded ``LabelGNN`` on its scores."""

    def convnet(seed: int) -> nn.Module:
        if training.make_model is not None:
            return training.make_model(seed)
        return linear_classifier(features.shape[1], num_labels, seed)

    return lambda seed: GraphHead(
        convnet(seed), LabelGNN(num_labels, grid.hidden, grid.steps, seed=seed)
    )


def gnn_fit(
    run: Run,
    data: PartialData,
    training: ClassifierTraining,
    point: tuple[float, int, HeadGrid],
    *,
    retrain: bool = False,
) -> tuple[nn.Module, str]:
    """The GNN-head model of one (proportion, seed) on the sweep's mask; (model, fit name)."""
    p, s, grid = point
    name = f"partial_gnn_p{round(100 * p):03d}{seed_suffix(run.profile, s)}"
    folder = run.run_dir / "partial" / name
    if retrain and folder.exists():
        shutil.rmtree(folder)
    num_labels = data.train_labels.shape[1]
    settings = {
        **training.model_settings,
        "head": "gnn",
        "gnn_hidden": grid.hidden,
        "gnn_steps": grid.steps,
    }
    gnn_training = replace(
        training,
        config=replace(training.config, seed=s),
        make_model=gnn_factory(training, data.train, num_labels, grid),
        model_settings=settings,
    )
    targets = mask_labels(data.train_labels, p, s)
    stage = {"proportion": p, "mask_seed": s}
    model, _ = train_classifier(
        data.train, targets, HEAD_LOSS, folder, gnn_training, stage_config=stage
    )
    return model, name


def compare_heads(
    run: Run,
    data: PartialData,
    training: ClassifierTraining,
    grid: HeadGrid,
    *,
    retrain: bool = False,
) -> pd.DataFrame:
    """One row per (head, proportion, seed): the test scores of the linear head (the sweep's fit)
    and of the GNN head on the same partial labels."""
    rows = []
    points = [(p, s) for s in grid.seeds for p in grid.proportions]
    for p, s in (bar := tqdm(points, desc="GNN head", unit="model")):
        bar.set_postfix_str(f"p={p:g} seed {s}")
        linear, _, _, linear_name = sweep_fit(run, data, training, (p, HEAD_LOSS, s))
        gnn, gnn_name = gnn_fit(run, data, training, (p, s, grid), retrain=retrain)
        for head, model, name in (("linear", linear, linear_name), ("gnn", gnn, gnn_name)):
            probabilities = predict_probabilities(model, data.test, training.device)
            scores = evaluate(data.test_labels, probabilities)
            rows.append(
                {
                    "head": head,
                    "proportion": p,
                    "seed": s,
                    **{k: scores[k] for k in ("mAP", "C-F1", "O-F1")},
                    "fit": name,
                }
            )
    return pd.DataFrame(rows)
