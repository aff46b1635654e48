"""Labelling strategies at an equal annotation budget (Durand et al. 2019, Sec. 4.1 and Fig. 1):
with the same number of annotated (image, label) pairs, is it better to label a few labels of
every image, every label of a few images, or every label of every image with some of them wrong?

- partial labels: ``mask_labels`` at proportion p, each image keeps about p·C labels (the sweep's
  partial-BCE fits, reused);
- complete labels on a subset: ``complete_image_labels``, as many pairs spent on whole images;
- noisy labels: ``noisy_labels``, every pair annotated, the same p·N·C of them right (the partial
  mask's known pairs) and the others flipped.

``compare_labellings`` is notebook 06's one call.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from annokit.artifacts.run import Run
from annokit.methods.m3_files import seed_suffix
from annokit.methods.partial_labels import (
    NEGATIVE,
    POSITIVE,
    UNKNOWN,
    ClassifierTraining,
    PartialData,
    evaluate,
    mask_labels,
    predict_probabilities,
    take_images,
    train_classifier,
)
from annokit.methods.partial_sweep import sweep_fit, sweep_fit_name

LABELLINGS = {
    "partial": "partial labels on every image",
    "complete": "complete labels on a subset of images",
    "noisy": "every label of every image, some wrong",
}


def annotated_pairs(targets: np.ndarray) -> int:
    """The (image, label) pairs that carry an annotation (known, right or wrong)."""
    return int((np.asarray(targets) != UNKNOWN).sum())


def clean_pairs(targets: np.ndarray, labels: np.ndarray) -> int:
    """The annotated pairs whose annotation is the true label."""
    targets = np.asarray(targets)
    right = (targets == POSITIVE) == np.asarray(labels, dtype=bool)
    return int((right & (targets != UNKNOWN)).sum())


def complete_image_labels(labels: np.ndarray, pairs: int, seed: int) -> np.ndarray:
    """``pairs`` annotations spent on whole images: ⌊pairs / C⌋ random images with every label
    known, the remainder on random labels of one more image, the rest unknown (int8, like
    ``mask_labels``)."""
    labels = np.asarray(labels, dtype=bool)
    n, c = labels.shape
    if not 0 <= pairs <= n * c:
        raise ValueError(f"{pairs} annotated pairs do not fit {n} images × {c} labels")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    whole, rest = divmod(int(pairs), c)
    known = np.zeros((n, c), dtype=bool)
    known[order[:whole]] = True
    if rest:
        known[order[whole], rng.permutation(c)[:rest]] = True
    return np.where(known, np.where(labels, POSITIVE, NEGATIVE), UNKNOWN).astype(np.int8)


def noisy_labels(labels: np.ndarray, proportion: float, seed: int) -> np.ndarray:
    """Every pair annotated: right on the pairs ``mask_labels(labels, proportion, seed)`` knows,
    flipped on the others (so the right pairs are exactly the partial labels' budget)."""
    labels = np.asarray(labels, dtype=bool)
    known = mask_labels(labels, proportion, seed) != UNKNOWN
    truth = np.where(labels, POSITIVE, NEGATIVE)
    return np.where(known, truth, -truth).astype(np.int8)


@dataclass(frozen=True)
class LabellingGrid:
    """The budgets compared (as proportions p: p·N·C pairs) and the seeds (mask and model)."""

    proportions: tuple[float, ...]
    seeds: tuple[int, ...]


def labelling_fit_name(run: Run, point: tuple[str, float, int]) -> str:
    """The folder of the fit that stands for ``(labelling, proportion, seed)``: the sweep's
    partial-BCE fit for partial labels and wherever every label is known."""
    labelling, p, s = point
    if labelling == "partial" or p >= 1.0:
        return sweep_fit_name(run, (p, "partial_bce", s))
    return f"partial_{labelling}_p{round(100 * p):03d}{seed_suffix(run.profile, s)}"


def labelling_points(grid: LabellingGrid) -> list[tuple[str, float, int]]:
    """The grid's points ``(labelling, proportion, seed)`` in the comparison's order."""
    return [(lab, p, s) for s in grid.seeds for p in grid.proportions for lab in LABELLINGS]


def own_fit_points(grid: LabellingGrid) -> list[tuple[str, float, int]]:
    """The points that train a fit of their own: complete and noisy labels below 100 % (the others
    are the sweep's partial-BCE fits)."""
    return [point for point in labelling_points(grid) if point[0] != "partial" and point[1] < 1.0]


def labelling_fit(
    run: Run,
    data: PartialData,
    training: ClassifierTraining,
    point: tuple[str, float, int],
    *,
    retrain: bool = False,
):
    """The model of one (labelling, proportion, seed): the sweep's partial-BCE fit for partial
    labels and wherever every label is known; else trained in ``<run>/partial/partial_<labelling>
    _p<percent>[@seed<k>]`` on the images that carry an annotation. Returns (model, targets, fit
    name, images used)."""
    labelling, p, s = point
    if labelling not in LABELLINGS:
        raise ValueError(f"labelling {labelling!r}: use one of {', '.join(LABELLINGS)}")
    if labelling == "partial" or p >= 1.0:
        model, _, targets, name = sweep_fit(run, data, training, (p, "partial_bce", s))
        return model, targets, name, len(targets)
    partial = mask_labels(data.train_labels, p, s)
    if labelling == "complete":
        targets = complete_image_labels(data.train_labels, annotated_pairs(partial), s)
        loss = "bce_ignore"  # plain BCE on the labelled images
    else:
        targets, loss = noisy_labels(data.train_labels, p, s), "partial_bce"
    images = np.flatnonzero((targets != UNKNOWN).any(axis=1))
    name = labelling_fit_name(run, point)
    folder = run.run_dir / "partial" / name
    if retrain and folder.exists():
        shutil.rmtree(folder)
    seeded = replace(training, config=replace(training.config, seed=s))
    stage = {"proportion": p, "mask_seed": s, "labelling": labelling}
    model, _ = train_classifier(
        take_images(data.train, images), targets[images], loss, folder, seeded, stage_config=stage
    )
    return model, targets, name, len(images)


def compare_labellings(
    run: Run,
    data: PartialData,
    training: ClassifierTraining,
    grid: LabellingGrid,
    *,
    retrain: bool = False,
) -> pd.DataFrame:
    """One row per (labelling, proportion, seed): the pairs annotated and right, the images used,
    the test scores and the fit (shared rows say the same fit)."""
    rows = []
    points = labelling_points(grid)
    for labelling, p, s in (bar := tqdm(points, desc="labelling strategies", unit="model")):
        bar.set_postfix_str(f"{labelling} p={p:g} seed {s}")
        model, targets, name, images = labelling_fit(
            run, data, training, (labelling, p, s), retrain=retrain
        )
        scores = evaluate(
            data.test_labels, predict_probabilities(model, data.test, training.device)
        )
        rows.append(
            {
                "labelling": labelling,
                "title": LABELLINGS[labelling],
                "proportion": p,
                "seed": s,
                "annotated_pairs": annotated_pairs(targets),
                "clean_pairs": clean_pairs(targets, data.train_labels),
                "all_pairs": int(targets.size),
                "images_used": images,
                **{k: scores[k] for k in ("mAP", "C-F1", "O-F1")},
                "fit": name,
            }
        )
    return pd.DataFrame(rows)
