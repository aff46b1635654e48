"""Learning with partial labels (Durand, Mehrasa, Mori, CVPR 2019): masks, losses, the classifier.

- ``mask_labels``: keep a proportion p of every training image's labels, the rest unknown.
- ``LOSSES``: the losses compared: BCE with unknown = negative, BCE on known labels, partial-BCE
  (``annokit.models.losses``).
- ``train_classifier``: a classifier (by default one fc layer) fitted on partial labels with
  ``annokit.training.fit.fit``, as ``ClassifierTraining`` says.
- ``annokit.methods.partial_curriculum``: the paper's curriculum learning (score threshold).
- ``annokit.methods.partial_sweep``: the p × loss × seed sweep and the paper's numbers beside it.

Targets are int8 matrices with ``POSITIVE`` = 1, ``NEGATIVE`` = −1 and ``UNKNOWN`` = 0.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

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


@dataclass(frozen=True)
class PartialLoss:
    """A loss of the comparison: its key (file names), title (plots) and ``fn(logits, targets)``."""

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
    """Partial labels from full ones: each image keeps a random share ``proportion`` of its C
    labels.

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
    # a random order of the labels of each image
    ranks = rng.random((n, c)).argsort(axis=1).argsort(axis=1)
    # round(): 0.7 * 10 is 7.000000000000001
    kept = np.floor(round(proportion * c, 9) + rng.random(n)).astype(np.int64)
    known = ranks < kept[:, None]
    return np.where(known, np.where(labels, POSITIVE, NEGATIVE), UNKNOWN).astype(np.int8)


def known_proportion(targets: np.ndarray) -> np.ndarray:
    """p_y of each image: the share of its labels that are known."""
    return (np.asarray(targets) != UNKNOWN).mean(axis=1)


# The classifier.


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z-score both splits with the training mean and std, so one learning rate suits every
    profile's features."""
    mean = train.mean(axis=0, keepdims=True)
    std = train.std(axis=0, keepdims=True) + 1e-6
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def linear_classifier(in_dim: int, num_classes: int, seed: int = 0) -> nn.Linear:
    """The multi-label classifier trained on frozen features: one fc layer (logits; sigmoid in the
    loss)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Linear(in_dim, num_classes)


class WithTargets(Dataset):
    """(input, partial targets) pairs: ``inputs`` is an array of features or maps, or a dataset of
    images."""

    def __init__(self, inputs: np.ndarray | Dataset, targets: np.ndarray) -> None:
        is_array = isinstance(inputs, np.ndarray)
        self.inputs = torch.as_tensor(inputs, dtype=torch.float32) if is_array else inputs
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
    if rows is None:
        return f"dataset of {len(inputs)}"
    return f"images:{array_digest(np.asarray(rows))}"


@dataclass(frozen=True)
class PartialData:
    """What the partial-label models read: inputs (an array of features or maps, or a dataset of
    images) and full labels of the training images they fit on and of the test images."""

    train: np.ndarray | Dataset
    train_labels: np.ndarray
    test: np.ndarray | Dataset
    test_labels: np.ndarray
    test_rows: np.ndarray
    # the validation images held out of training, on which thresholds are chosen (None: none)
    validation: np.ndarray | Dataset | None = None
    validation_labels: np.ndarray | None = None


def take_images(inputs: np.ndarray | Dataset, positions: np.ndarray) -> np.ndarray | Dataset:
    """The images at ``positions`` of an array of inputs or of a dataset of images."""
    positions = np.asarray(positions, dtype=np.int64)
    if isinstance(inputs, np.ndarray):
        return inputs[positions]
    return Subset(inputs, positions.tolist())


@dataclass(frozen=True)
class ClassifierTraining:
    """How the classifiers of a stage train: ``config`` (its seed seeds the new model), the device,
    ``make_model(seed)`` (None: a linear classifier on the inputs), the CPU ``threads`` (None
    keeps torch's setting; one is fastest for a single fc layer), ``quiet``: fit's per-epoch
    lines stay out of the output (they stay in ``history.json``), and ``model_settings``: what
    ``make_model`` builds (e.g. its dropout), recorded with every fit so a change is noticed."""

    config: FitConfig
    device: str | torch.device = "cpu"
    make_model: Callable[[int], nn.Module] | None = None
    threads: int | None = SMALL_MODEL_THREADS
    quiet: bool = True
    model_settings: dict = field(default_factory=dict)

    def new_model(self, features: np.ndarray | Dataset, num_classes: int) -> nn.Module:
        """A fresh model seeded with ``config.seed`` (a linear one sized by the ``features``)."""
        if self.make_model is not None:
            return self.make_model(self.config.seed)
        return linear_classifier(features.shape[1], num_classes, self.config.seed)


def train_classifier(
    features: np.ndarray | Dataset,
    targets: np.ndarray,
    loss: str,
    run_dir: Path,
    training: ClassifierTraining,
    *,
    model: nn.Module | None = None,
    stage_config: dict | None = None,
) -> tuple[nn.Module, History]:
    """Fit ``model`` (None: ``training.new_model``) on partial ``targets`` with ``LOSSES[loss]``.

    ``features``: an array of inputs, or a dataset yielding one image per item. Reuses
    ``run_dir/final.pt`` when it was made with the same settings, inputs and targets.
    """
    fn = LOSSES[loss].fn
    if model is None:
        model = training.new_model(features, targets.shape[1])
    train_set = WithTargets(features, targets)
    stage = {
        "loss": loss,
        "gamma": PARTIAL_BCE_GAMMA,
        "features": inputs_digest(features),
        "targets": array_digest(targets),
        **training.model_settings,
        **(stage_config or {}),
    }
    options = FitOptions(
        stage=stage, device=training.device, threads=training.threads, progress=False
    )

    def loss_fn(m: nn.Module, batch) -> Tensor:
        return fn(m(batch[0]), batch[1])

    silence = contextlib.redirect_stdout(io.StringIO())
    with silence if training.quiet else contextlib.nullcontext():
        history = fit(model, train_set, loss_fn, training.config, run_dir, options)
    return model, history


@torch.no_grad()
def predict_probabilities(
    model: nn.Module,
    features: np.ndarray | Dataset,
    device: str | torch.device = "cpu",
    batch_size: int = 1024,
) -> np.ndarray:
    """σ(model(features)) as float32 (N, C); ``features`` an array or a dataset of images."""
    model.eval().to(device)
    is_array = isinstance(features, np.ndarray)
    x = torch.as_tensor(features, dtype=torch.float32) if is_array else features
    batches = DataLoader(x, batch_size=batch_size)
    out = [torch.sigmoid(model(batch.to(device))).cpu() for batch in batches]
    return torch.cat(out).numpy().astype(np.float32)


def evaluate(
    y_true: np.ndarray, probabilities: np.ndarray, cutoff: float = 0.5
) -> dict[str, float]:
    """mAP of the scores, and the C-/O-/S- scores of the labels above ``cutoff``."""
    annotation = threshold(probabilities, cutoff)
    return {
        "mAP": mean_average_precision(y_true, probabilities),
        **annotation_scores(y_true, annotation),
    }
