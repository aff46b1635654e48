"""The epoch of a trained baseline, chosen on the validation split: train, score after every
epoch, keep the best.

``fit_best_epoch`` runs the kit's one fit loop with a validation score after each epoch and returns
the model as it was after the best-scoring epoch (the earliest on ties). That epoch's weights are
kept in memory while training and written to ``<run>/chosen.pt``, so a finished run reloads them.
When they are missing (a run resumed after its best epoch, or the file deleted), the fit is
replayed for that many epochs in ``<run>/replay_epoch<e>``: the batches are a function of the seed
and the epoch, so the replay reaches exactly that epoch's weights. The test split plays no part in
any of this.
"""

from __future__ import annotations

import contextlib
import copy
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from annokit.atomic import atomic_torch_save
from annokit.training.fit import (
    SMALL_MODEL_THREADS,
    FitConfig,
    FitOptions,
    History,
    fit,
    seed_everything,
)

VALIDATION = "validation"  # key of the per-epoch validation score in the fit history
CHOSEN = "chosen.pt"


@dataclass
class ChosenEpoch:
    """A model at its chosen epoch, that epoch (from 1) and the validation score of every epoch."""

    model: nn.Module
    epoch: int
    scores: list[float]
    history: History


@dataclass(frozen=True)
class Trainable:
    """What ``fit_best_epoch`` trains: ``build()`` makes the untrained model, ``loss_fn(model,
    batch)`` trains it on ``train_set``, ``validate(model)`` scores an epoch (higher is better),
    and ``stage`` is what its checkpoints must agree with."""

    build: Callable[[], nn.Module]
    train_set: Dataset
    loss_fn: Callable[[nn.Module, Any], torch.Tensor]
    validate: Callable[[nn.Module], float]
    stage: dict | None = None


def best_epoch(scores: list[float]) -> int:
    """The epoch (from 1) with the highest validation score; the earliest of equal ones (a NaN
    score never wins)."""
    if not scores:
        raise ValueError("no validation scores: the fit recorded none")

    def rank(i: int) -> tuple[float, int]:
        return (scores[i] if scores[i] == scores[i] else float("-inf"), -i)

    return max(range(len(scores)), key=rank) + 1


def fit_best_epoch(
    trainable: Trainable,
    config: FitConfig,
    run_dir: Path,
    *,
    device: str | torch.device = "cpu",
    retrain: bool = False,
    quiet: bool = True,
) -> ChosenEpoch:
    """Fit ``trainable.build()`` for ``config.epochs`` epochs and return it at the epoch whose
    ``trainable.validate(model)`` is highest.

    The model is built after seeding with ``config.seed``; ``retrain`` deletes ``run_dir``.
    ``quiet`` keeps fit's per-epoch lines out of the notebook (they stay in
    ``run_dir/history.json``).
    """
    run_dir = Path(run_dir)
    if retrain and run_dir.exists():
        shutil.rmtree(run_dir)
    seed_everything(config.seed)
    model = trainable.build()
    kept: dict[str, Any] = {"calls": 0, "score": float("-inf"), "call": -1, "state": None}

    def eval_fn(m: nn.Module) -> dict[str, float]:
        score = float(trainable.validate(m))
        if score > kept["score"]:
            kept.update(score=score, call=kept["calls"], state=copy.deepcopy(m.state_dict()))
        kept["calls"] += 1
        return {VALIDATION: score}

    options = FitOptions(
        stage=trainable.stage, device=device, threads=SMALL_MODEL_THREADS, progress=False
    )
    history = _fit(model, trainable, config, run_dir, replace(options, eval_fn=eval_fn), quiet)
    scores = [m[VALIDATION] for m in history.metrics]
    chosen = best_epoch(scores)
    # the epochs scored in this process are the last ``calls``
    first_call_epoch = len(scores) - kept["calls"] + 1
    saved = {}
    if (run_dir / CHOSEN).exists():
        saved = torch.load(run_dir / CHOSEN, map_location="cpu", weights_only=True)
    state = None
    if chosen == len(scores):
        state = model.state_dict()
    elif kept["state"] is not None and first_call_epoch + kept["call"] == chosen:
        state = kept["state"]
    elif saved.get("epoch") == chosen:
        state = saved["model"]
    if state is None:  # replay: the same seed and batches for ``chosen`` epochs reach its weights
        seed_everything(config.seed)
        replayed = trainable.build()
        replay_dir = run_dir / f"replay_epoch{chosen:03d}"
        _fit(replayed, trainable, config.with_epochs(chosen), replay_dir, options, quiet)
        state = replayed.state_dict()
    model.load_state_dict(state)
    if saved.get("epoch") != chosen:
        weights = {k: v.detach().cpu() for k, v in state.items()}
        atomic_torch_save({"epoch": chosen, "model": weights}, run_dir / CHOSEN)
    return ChosenEpoch(model.eval(), chosen, scores, history)


def _fit(
    model: nn.Module,
    trainable: Trainable,
    config: FitConfig,
    run_dir: Path,
    options: FitOptions,
    quiet: bool,
) -> History:
    """The kit's fit loop with ``options``, its lines silenced when ``quiet``."""
    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        return fit(model, trainable.train_set, trainable.loss_fn, config, run_dir, options)
