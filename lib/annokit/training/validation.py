"""The validation split: training images held out with a fixed seed, on which every choice is made.

Epochs, checkpoints, thresholds and neighbour counts are chosen on these images, and training curves
are scored on them; the test split is read once, by the final predictions. The positions refer to
the training split's rows in ``index.rows("train")`` order, which is also the order of every cached
array.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from annokit.data.annotation_table import TRAIN
from annokit.data.index import PreparedIndex
from annokit.evaluation import metrics
from annokit.profile import EvaluationSettings, LoaderSettings, Profile
from annokit.training.extraction import extraction_loader, features_and_scores


def validation_split(n_train: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted positions (fit, validation) of ``n_train`` training images.

    ``round(fraction · n_train)`` are held out. The draw depends on (n_train, seed) only, so every
    stage of a run holds out the same images.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the validation fraction must be in [0, 1), got {fraction}")
    n_validation = int(round(fraction * n_train))
    if n_validation >= n_train:
        raise ValueError(
            f"holding out {n_validation} of {n_train} training images leaves none to train on"
        )
    order = np.random.default_rng(seed).permutation(n_train)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


def split_of(settings: EvaluationSettings, n_train: int) -> tuple[np.ndarray, np.ndarray]:
    """``validation_split`` with a profile's ``[evaluation]`` settings."""
    return validation_split(n_train, settings.validation_fraction, settings.validation_seed)


def curve_subset(n_validation: int, limit: int) -> np.ndarray:
    """The validation positions scored for a training curve: all, or the first ``limit`` (fixed)."""
    return np.arange(min(n_validation, limit))


class StageRun(Protocol):
    """What the helpers below read of a run (``annokit.artifacts.run.Run`` is one)."""

    profile: Profile
    index: PreparedIndex
    device: torch.device

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions (fit, validation) in the training split, from ``validation_positions``."""
        ...


def validation_positions(profile: Profile, index: PreparedIndex) -> tuple[np.ndarray, np.ndarray]:
    """Positions (fit, validation) in the training split: stages train on the first, choose on the
    second (a run's ``validation``)."""
    return split_of(profile.evaluation, len(index.rows(TRAIN)))


def score_monitor(
    dataset: Dataset,
    y_true: np.ndarray,
    device: torch.device,
    input_index: int = 0,
    loader: LoaderSettings | None = None,
) -> Callable[[nn.Module], dict]:
    """An ``eval_fn`` for ``fit``: the validation mAP of ``dataset``, for the training curves. One
    loader serves every epoch, its workers kept alive between passes."""
    batches = extraction_loader(dataset, device, loader)

    def evaluate(model: nn.Module) -> dict:
        _, scores = features_and_scores(model, batches, device, input_index, desc="validation mAP")
        return {"val mAP": metrics.mean_average_precision(y_true, scores)}

    return evaluate


def validation_monitor(
    run: StageRun, train_set: Dataset, input_index: int = 0
) -> Callable[[nn.Module], dict]:
    """``score_monitor`` on the run's fixed validation subset of ``train_set``, a dataset of the
    whole training split, on the run's device."""
    _, validation = run.validation
    shown = validation[curve_subset(len(validation), run.profile.evaluation.limit)]
    y_true = run.index.label_matrix(TRAIN)[shown]
    subset = Subset(train_set, shown.tolist())
    return score_monitor(subset, y_true, run.device, input_index, loader=run.profile.loader)


def fit_subset(run: StageRun, dataset: Dataset) -> Dataset:
    """The items of a whole-training-split ``dataset`` that a stage trains on: the run's validation
    images left out."""
    fit_rows, _ = run.validation
    return Subset(dataset, fit_rows.tolist())


def monitor_every(run: StageRun, monitor: bool = True) -> int:
    """Epochs between validation scores of a training curve (0: none)."""
    return run.profile.evaluation.every if monitor else 0


def lowest_epoch(losses: Sequence[float]) -> int:
    """The epoch (from 1) of the lowest validation loss; the earliest of equal ones (a NaN loss
    never wins). Early stopping keeps this epoch's weights."""
    if not losses:
        raise ValueError("no validation losses: the fit recorded none")

    def rank(i: int) -> tuple[float, int]:
        return (losses[i] if losses[i] == losses[i] else float("inf"), i)

    return min(range(len(losses)), key=rank) + 1


def patience_ran_out(losses: Sequence[float], patience: int) -> bool:
    """Whether ``patience`` epochs have passed since the lowest validation loss of ``losses`` (one
    per epoch so far): early stopping ends the fit there. Patience 0 never stops a fit."""
    return patience > 0 and len(losses) - lowest_epoch(losses) >= patience
