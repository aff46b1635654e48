"""Learning with partial labels (Durand, Mehrasa, Mori, CVPR 2019), on cached CNN features.

- ``mask_labels``: keep a proportion p of every training image's labels, the rest unknown.
- ``LOSSES``: the losses compared: BCE with unknown = negative, BCE on known labels, partial-BCE.
- ``train_classifier``: a linear multi-label classifier (one fc layer) fitted with ``annokit.training.fit.fit``.
- ``score_threshold_labels`` / ``train_with_curriculum``: the paper's curriculum learning with
  the score-threshold strategy (the model labels the unknown entries it is confident about).
- ``sweep`` and ``plot_against_proportion``: the p × loss grid and the paper's headline plot.

Targets are int8 matrices with ``POSITIVE`` = 1, ``NEGATIVE`` = −1 and ``UNKNOWN`` = 0.
"""

from __future__ import annotations

import contextlib
import copy
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from annokit import paths
from annokit.artifacts.digest import array_digest
from annokit.evaluation.decision import threshold
from annokit.evaluation.metrics import annotation_scores, mean_average_precision
from annokit.models.losses import (
    PARTIAL_BCE_GAMMA,
    bce_ignore_unknown,
    bce_unknown_as_negative,
    partial_bce,
)
from annokit.training.fit import SMALL_MODEL_THREADS, FitConfig, FitOptions, History, fit

POSITIVE, UNKNOWN, NEGATIVE = 1, 0, -1
REPORTED_CSV = "durand2019_partial_labels.csv"


@dataclass(frozen=True)
class PartialLoss:
    """A loss of the comparison: its key (file names), its title (plots) and ``fn(logits, targets)``."""

    key: str
    title: str
    fn: Callable[[Tensor, Tensor], Tensor]


LOSSES: dict[str, PartialLoss] = {
    loss.key: loss
    for loss in (
        PartialLoss("bce_negative", "BCE, unknown = negative", bce_unknown_as_negative),
        PartialLoss("bce_ignore", "BCE, known labels only", bce_ignore_unknown),
        PartialLoss("partial_bce", f"partial-BCE (γ = {PARTIAL_BCE_GAMMA:g})", partial_bce),
    )
}


# Label masking.


def mask_labels(labels: np.ndarray, proportion: float, seed: int) -> np.ndarray:
    """Partial labels from full ones: each image keeps a random share ``proportion`` of its C labels.

    Rule: image i keeps k_i = floor(p·C + u_i) labels with u_i ~ U[0, 1), so k_i is floor(p·C) or
    ceil(p·C) and E[k_i] = p·C exactly (p·C = 2.5 on 25 labels: half the images keep 2, half 3);
    the kept labels are a uniformly random subset of the C labels, positives and negatives alike.
    The draws depend on (seed, N, C) only, not on p, so the known sets grow nested with p.
    Returns int8 (N, C): 1 known positive, −1 known negative, 0 unknown.
    """
    labels = np.asarray(labels, dtype=bool)
    if labels.ndim != 2:
        raise ValueError(f"labels must be a 2-D (images, labels) matrix, got shape {labels.shape}")
    if not 0.0 <= proportion <= 1.0:
        raise ValueError(f"proportion must lie in [0, 1], got {proportion}")
    n, c = labels.shape
    rng = np.random.default_rng(seed)
    ranks = rng.random((n, c)).argsort(axis=1).argsort(axis=1)  # a random order of the labels of each image
    kept = np.floor(round(proportion * c, 9) + rng.random(n)).astype(np.int64)  # round(): 0.7 * 10 is 7.000000000000001
    known = ranks < kept[:, None]
    return np.where(known, np.where(labels, POSITIVE, NEGATIVE), UNKNOWN).astype(np.int8)


def known_proportion(targets: np.ndarray) -> np.ndarray:
    """p_y of each image: the share of its labels that are known."""
    return (np.asarray(targets) != UNKNOWN).mean(axis=1)


# The classifier.


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z-score both splits with the training mean and std, so one learning rate suits every profile's features."""
    mean = train.mean(axis=0, keepdims=True)
    std = train.std(axis=0, keepdims=True) + 1e-6
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def linear_classifier(in_dim: int, num_classes: int, seed: int = 0) -> nn.Linear:
    """The multi-label classifier trained on frozen features: one fc layer (logits; sigmoid in the loss)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Linear(in_dim, num_classes)


class WithTargets(Dataset):
    """(input, partial targets) pairs: ``inputs`` is an array of features or maps, or a dataset of images."""

    def __init__(self, inputs: np.ndarray | Dataset, targets: np.ndarray) -> None:
        self.inputs = torch.as_tensor(inputs, dtype=torch.float32) if isinstance(inputs, np.ndarray) else inputs
        self.targets = torch.as_tensor(targets, dtype=torch.int8)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.inputs[i], self.targets[i]


def inputs_digest(inputs: np.ndarray | Dataset) -> str:
    """A fingerprint of what a model reads: the array's content, or the image dataset's rows."""
    if isinstance(inputs, np.ndarray):
        return array_digest(inputs)
    if isinstance(inputs, Subset):  # the training images minus the validation ones
        return f"{inputs_digest(inputs.dataset)}[{array_digest(np.asarray(inputs.indices))}]"
    rows = getattr(getattr(inputs, "images", inputs), "rows", None)
    return f"images:{array_digest(np.asarray(rows))}" if rows is not None else f"dataset of {len(inputs)}"


def train_classifier(features: np.ndarray | Dataset, targets: np.ndarray, loss: str, config: FitConfig, run_dir: Path, *,
                     model: nn.Module | None = None, stage_config: dict | None = None, device: str = "cpu",
                     quiet: bool = True, threads: int | None = SMALL_MODEL_THREADS) -> tuple[nn.Module, History]:
    """Fit a linear classifier (or ``model``, e.g. a block to fine-tune) on partial ``targets`` with ``LOSSES[loss]``.

    ``features``: an array of inputs, or a dataset yielding one image per item.
    Reuses ``run_dir/final.pt`` when it was made with the same settings, inputs and targets.
    ``quiet`` keeps fit's per-epoch lines out of the output (they stay in ``run_dir/history.json``).
    ``threads``: CPU threads while training; one is fastest for a single fc layer, whose tiny matrix
    products cost less than waking a second thread (``None`` keeps torch's setting).
    """
    fn = LOSSES[loss].fn
    model = model if model is not None else linear_classifier(features.shape[1], targets.shape[1], config.seed)
    train_set = WithTargets(features, targets)
    stage = {"loss": loss, "gamma": PARTIAL_BCE_GAMMA, "features": inputs_digest(features),
             "targets": array_digest(targets), **(stage_config or {})}
    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        history = fit(model, train_set, lambda m, batch: fn(m(batch[0]), batch[1]), config, run_dir, FitOptions(stage=stage, device=device, threads=threads, progress=False))
    return model, history


@torch.no_grad()
def predict_probabilities(model: nn.Module, features: np.ndarray | Dataset, device: str = "cpu", batch_size: int = 1024) -> np.ndarray:
    """σ(model(features)) as float32 (N, C); ``features`` an array or a dataset of images."""
    model.eval().to(device)
    x = torch.as_tensor(features, dtype=torch.float32) if isinstance(features, np.ndarray) else features
    out = [torch.sigmoid(model(batch.to(device))).cpu() for batch in DataLoader(x, batch_size=batch_size)]
    return torch.cat(out).numpy().astype(np.float32)


def evaluate(y_true: np.ndarray, probabilities: np.ndarray, cutoff: float = 0.5) -> dict[str, float]:
    """mAP of the scores, and the C-/O-/S- scores of the labels above ``cutoff``."""
    return {"mAP": mean_average_precision(y_true, probabilities), **annotation_scores(y_true, threshold(probabilities, cutoff))}


# Curriculum learning (score threshold strategy).


def score_threshold_labels(probabilities: np.ndarray, targets: np.ndarray, theta: float) -> np.ndarray:
    """New targets: unknown entries with σ(x) ≥ θ become positive, σ(x) ≤ 1 − θ negative; known ones never change.

    The paper thresholds the score x at ±θ; a threshold on σ(x) is the same rule with θ_x = logit(θ).
    """
    if not 0.5 < theta <= 1.0:
        raise ValueError(f"theta must lie in (0.5, 1] so that positive and negative never overlap, got {theta}")
    targets = np.asarray(targets, dtype=np.int8)
    probabilities = np.asarray(probabilities)
    unknown = targets == UNKNOWN
    new = targets.copy()
    new[unknown & (probabilities >= theta)] = POSITIVE
    new[unknown & (1.0 - probabilities >= theta)] = NEGATIVE  # σ ≤ 1 − θ, written so that 0.1 counts at θ = 0.9
    return new


@dataclass
class CurriculumRun:
    """The model after the last round; per round the targets it trained on, its history and its weights."""

    model: nn.Module
    targets: list[np.ndarray] = field(default_factory=list)
    histories: list[History] = field(default_factory=list)
    weights: list[dict[str, Tensor]] = field(default_factory=list)


def train_with_curriculum(features: np.ndarray | Dataset, targets: np.ndarray, loss: str, config: FitConfig, run_dir: Path, *,
                          rounds: int, theta: float, stage_config: dict | None = None, device: str = "cpu",
                          quiet: bool = True, retrain: bool = False, make_model: Callable[[int], nn.Module] | None = None,
                          threads: int | None = SMALL_MODEL_THREADS) -> CurriculumRun:
    """Round 0 trains on the partial targets; each later round first adds the confident predictions of the
    model on the unknown training entries (``score_threshold_labels``), then continues training on them.

    ``rounds`` = 0 is plain training. Round r lives in ``run_dir/round_r``; ``retrain`` deletes ``run_dir`` first.
    ``make_model(seed)``: the model of round 0 (default: a linear classifier).
    """
    if retrain and Path(run_dir).exists():
        shutil.rmtree(run_dir)
    run = CurriculumRun(model=None)  # type: ignore[arg-type]
    current, model = np.asarray(targets, dtype=np.int8), make_model(config.seed) if make_model else None
    for r in range(rounds + 1):
        if r > 0:
            current = score_threshold_labels(predict_probabilities(model, features, device), current, theta)
        stage = {"curriculum_round": r, "theta": theta, **(stage_config or {})}
        model, history = train_classifier(features, current, loss, config, Path(run_dir) / f"round_{r}", model=model,
                                          stage_config=stage, device=device, quiet=quiet, threads=threads)
        run.targets.append(current)
        run.histories.append(history)
        run.weights.append({k: v.detach().clone().cpu() for k, v in model.state_dict().items()})
    run.model = model
    return run


def curriculum_summary(run: CurriculumRun, start: np.ndarray, labels: np.ndarray, test_features: np.ndarray | Dataset,
                       test_labels: np.ndarray, device: str = "cpu") -> pd.DataFrame:
    """Per round: share of known training labels, labels the model added and the share of them that is right,
    and the test scores of that round's weights (round 0 is plain training on the partial labels)."""
    rows, model = [], copy.deepcopy(run.model)
    for r, (targets, weights) in enumerate(zip(run.targets, run.weights)):
        added = (targets != UNKNOWN) & (start == UNKNOWN)
        correct = ((targets == POSITIVE) == labels)[added]
        model.load_state_dict(weights)
        scores = evaluate(test_labels, predict_probabilities(model, test_features, device))
        rows.append({"round": r, "known_share": float((targets != UNKNOWN).mean()), "added": int(added.sum()),
                     "added_correct": float(correct.mean()) if added.any() else float("nan"),
                     **{f"test {k}": scores[k] for k in ("mAP", "C-F1", "O-F1")}})
    return pd.DataFrame(rows)


# The sweep.


def model_name(loss: str, proportion: float, seed_suffix: str = "") -> str:
    """``partial_<loss>_p<percent>[@seed<k>]``: the run folder and prediction file of one point of the sweep."""
    return f"partial_{loss}_p{round(proportion * 100):03d}{seed_suffix}"


@dataclass
class SweepResult:
    """One row per (loss, proportion) in ``table``; the test probabilities of each model by ``model_name``."""

    table: pd.DataFrame
    probabilities: dict[str, np.ndarray]


def sweep(train_features: np.ndarray | Dataset, train_labels: np.ndarray, test_features: np.ndarray | Dataset,
          test_labels: np.ndarray, proportions: list[float], losses: list[str], config: FitConfig, run_dir: Path, *,
          seed: int, seeds: list[int] | None = None, make_model: Callable[[int], nn.Module] | None = None,
          device: str = "cpu", retrain: bool = False, threads: int | None = SMALL_MODEL_THREADS) -> SweepResult:
    """Train one model per (seed, proportion of known labels, loss) and score it on the test split.

    ``make_model(seed)``: the model to train (default: a linear classifier on ``train_features``). With
    seed s, every loss at a given p sees the same mask ``mask_labels(train_labels, p, s)`` and the model
    starts from seed s. ``seeds`` (default: ``[seed]``); the profile's ``seed`` keeps the plain names,
    the others get ``@seed<k>``. Models go to ``run_dir/<model_name>``; ``retrain`` deletes them first.
    """
    rows, probabilities = [], {}
    grid = [(s, p, loss) for s in (seeds or [seed]) for p in proportions for loss in losses]
    for s, p, loss in (bar := tqdm(grid, desc="partial-label sweep", unit="model")):
        name = model_name(loss, p, "" if s == seed else f"@seed{s}")
        bar.set_postfix_str(name)
        folder = Path(run_dir) / name
        if retrain and folder.exists():
            shutil.rmtree(folder)
        targets = mask_labels(train_labels, p, s)
        model, history = train_classifier(train_features, targets, loss, replace(config, seed=s), folder,
                                          model=make_model(s) if make_model else None,
                                          stage_config={"proportion": p, "mask_seed": s}, device=device, threads=threads)
        scores = predict_probabilities(model, test_features, device)
        probabilities[name] = scores
        # No wall time in the table: it must be identical from run to run.
        rows.append({"loss": loss, "title": LOSSES[loss].title, "proportion": p, "seed": s,
                     "known_share": float(known_proportion(targets).mean()), **evaluate(test_labels, scores),
                     "final_train_loss": history.train_loss[-1] if len(history) else float("nan")})
    return SweepResult(pd.DataFrame(rows), probabilities)


def reported_results() -> pd.DataFrame:
    """The paper's own numbers (``results/reported/durand2019_partial_labels.csv``): fine-tuned ResNet-101, real datasets."""
    return pd.read_csv(paths.reported_dir() / REPORTED_CSV)


def beside_reported(table: pd.DataFrame, reported: pd.DataFrame, loss: str = "partial_bce") -> pd.DataFrame:
    """The reported rows with our number of the same kit key (percent) beside them.

    Ours is taken at 10 % known labels for a "10%" row, averaged over our proportions below 100 % for an
    "average over proportions" row, and at 100 % where the row does not state a proportion.
    """
    ours = table[table["loss"] == loss]
    values, taken_at = [], []
    for row in reported.itertuples(index=False):
        key = row.kit_key if isinstance(row.kit_key, str) else ""
        if key not in ours.columns:
            values.append(float("nan"))
            taken_at.append("no kit key")
            continue
        if row.known_labels == "10%":
            chosen, at = ours[np.isclose(ours["proportion"], 0.1)], "10 %"
        elif str(row.known_labels).startswith("average"):
            chosen = ours[ours["proportion"] < 1.0]
            at = "mean of " + ", ".join(f"{100 * p:g}" for p in sorted(chosen["proportion"])) + " %"
        else:
            chosen, at = ours[np.isclose(ours["proportion"], 1.0)], "100 %"
        values.append(100 * float(chosen[key].mean()) if len(chosen) else float("nan"))
        taken_at.append(at)
    out = reported[["dataset", "metric", "kit_key", "known_labels", "value"]].rename(columns={"value": "reported"})
    return out.assign(ours=np.round(values, 1), ours_at=taken_at)
