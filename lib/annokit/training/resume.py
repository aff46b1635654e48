"""What a fit carries from epoch to epoch and across interruptions.

Its ``History``; the ``Steppers`` (optimiser, schedule, AMP scaler) whose states an epoch
checkpoint stores; the ``RunRecord`` every checkpoint of the fit carries; ``save_epoch`` after each
epoch and ``resume`` from the newest ``epoch_NNN.pt``, so that an interrupted run continues with the
same batches and dropout masks.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from annokit.atomic import atomic_write_text
from annokit.training.checkpoints import (
    TrainingState,
    epoch_checkpoints,
    epoch_path,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
)
from annokit.training.distributed import get_rank, is_main_process

# Settings of the machine, not of the experiment: a run may resume, or reuse final.pt, with others.
RESUME_MAY_DIFFER = (
    "fit.loader.workers",
    "fit.loader.prefetch",
    "fit.loader.pin_memory",
    "fit.precision.amp",
    "fit.precision.channels_last",
    "fit.precision.deterministic",
    "fit.precision.cudnn_benchmark",
    "fit.precision.compile",
)
KEEP_EPOCH_FILES = 2


@dataclass
class History:
    """Per-epoch record of a fit: epoch number (from 1), mean train loss, eval metrics, seconds."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def append(
        self, epoch: int, train_loss: float, metrics: dict[str, float], seconds: float
    ) -> None:
        self.epoch.append(epoch)
        self.train_loss.append(train_loss)
        self.metrics.append(metrics)
        self.seconds.append(seconds)

    def to_dict(self) -> dict[str, list]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(
            **{k: list(data.get(k, [])) for k in ("epoch", "train_loss", "metrics", "seconds")}
        )

    def __len__(self) -> int:
        return len(self.epoch)


@dataclass
class Steppers:
    """What updates the weights: the optimiser, its learning-rate schedule, the AMP loss scaler."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    use_amp: bool  # the scaler's state is saved only when it scales

    def states(self, model: nn.Module, rng: list[dict]) -> TrainingState:
        """What an epoch checkpoint stores to resume from."""
        return TrainingState(
            model=model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            rng={"per_rank": rng},
            scaler=self.scaler.state_dict() if self.use_amp else None,
        )


@dataclass(frozen=True)
class RunRecord:
    """What every checkpoint of a fit records: the config compared on resume, and ``meta``."""

    config: dict
    meta: dict


def resume(
    run_dir: Path, model: nn.Module, steppers: Steppers, record: RunRecord, epochs: int
) -> tuple[History, int]:
    """Restore the newest ``epoch_NNN.pt`` into the model and ``steppers``; its history and epochs
    done, or (an empty history, 0) when there is none."""
    latest = latest_checkpoint(run_dir)
    if latest is None:
        return History(), 0
    checkpoint = load_checkpoint(latest, expected_config=record.config, ignore=RESUME_MAY_DIFFER)
    model.load_state_dict(checkpoint["model"])
    steppers.optimizer.load_state_dict(checkpoint["optimizer"])
    steppers.scheduler.load_state_dict(checkpoint["scheduler"])
    if checkpoint.get("scaler"):
        steppers.scaler.load_state_dict(checkpoint["scaler"])
    history, start_epoch = History.from_dict(checkpoint["history"]), checkpoint["epoch"]
    states = checkpoint["rng"]["per_rank"]
    set_rng_state(states[get_rank() % len(states)])
    if is_main_process():
        print(f"resuming {run_dir} after epoch {start_epoch}/{epochs} from {latest.name}")
    return history, start_epoch


def save_epoch(run_dir: Path, state: TrainingState, history: History, record: RunRecord) -> None:
    """The epoch's checkpoint and ``history.json``; older checkpoints beyond ``KEEP_EPOCH_FILES``
    are removed."""
    epoch = history.epoch[-1]
    save_checkpoint(
        epoch_path(run_dir, epoch),
        state,
        epoch=epoch,
        config=record.config,
        history=history.to_dict(),
        meta=record.meta,
    )
    for old in epoch_checkpoints(run_dir)[:-KEEP_EPOCH_FILES]:
        old.unlink(missing_ok=True)
    text = json.dumps({"config": record.config, **history.to_dict()}, indent=1)
    atomic_write_text(text, run_dir / "history.json", durable=False)
