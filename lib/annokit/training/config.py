"""What a stage is trained with: ``FitConfig`` (stored in every checkpoint), built from a profile
section by ``fit_config``, and the optimiser and learning-rate schedule it asks for."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from annokit.profile import LoaderSettings, PrecisionSettings, Training
from annokit.profile.sections import AMP_SETTINGS, OPTIMIZERS
from annokit.training.optimizers import TFRMSprop

LR_SCHEDULES = ("constant", "step")


# Small models on cached vectors (heads, decoders) train in float32 unless a profile says otherwise:
# their cost is negligible and an RNN decoder feeds its argmax back, where bfloat16 could flip a
# pick.
FLOAT32 = PrecisionSettings(amp="off", channels_last=False)
NO_WORKERS = LoaderSettings(workers=0)


@dataclass(frozen=True)
class FitConfig:
    """What decides a stage's training, stored in every checkpoint: the optimiser part of the
    stage's profile section (``Training``), the seed, and the machine's ``[loader]`` and
    ``[precision]``."""

    training: Training
    seed: int = 0
    loader: LoaderSettings = NO_WORKERS  # settings of the machine: a run may resume with others
    precision: PrecisionSettings = FLOAT32  # CUDA only; the CPU always computes in float32
    lr_schedule: str = "constant"  # "constant" | "step" (x0.1 every step_epochs)
    step_epochs: int = 0
    # drop each epoch's short last batch (the Multi-order RNN's release never sees one); recorded
    # in checkpoints only when True, so those written before the field existed still match
    drop_last: bool = False

    def __post_init__(self) -> None:
        t = self.training
        if t.epochs < 1 or t.batch_size < 1 or not t.lr > 0:
            raise ValueError(f"FitConfig needs epochs >= 1, batch_size >= 1 and lr > 0, got {t}")
        if t.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {t.optimizer!r} unknown: use one of {OPTIMIZERS}")
        if self.precision.amp not in AMP_SETTINGS:
            raise ValueError(f"amp {self.precision.amp!r} unknown: use one of {AMP_SETTINGS}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule {self.lr_schedule!r} unknown: use one of {LR_SCHEDULES}")
        if self.lr_schedule == "step" and self.step_epochs < 1:
            raise ValueError("lr_schedule='step' needs step_epochs >= 1")

    @property
    def epochs(self) -> int:
        return self.training.epochs

    @property
    def batch_size(self) -> int:
        """The global batch: split evenly across DDP processes."""
        return self.training.batch_size

    @property
    def lr(self) -> float:
        return self.training.lr

    def with_epochs(self, epochs: int) -> FitConfig:
        """The same training for another number of epochs (a replay up to a chosen epoch)."""
        return replace(self, training=replace(self.training, epochs=int(epochs)))

    def workers(self, device_type: str) -> int:
        """Loader processes for a device (``[loader] workers``, -1: automatic)."""
        return self.loader.worker_count(device_type)


def training_part(section: Training, epochs: int | None = None) -> Training:
    """The ``Training`` fields of a stage's section (optimiser, epochs, batch), nothing else.

    A checkpoint records only these, so a finished fit is reused when an unrelated setting of its
    section changes (the partial-label grid, the decoder's beam, the extra seeds).
    """
    values = {f.name: getattr(section, f.name) for f in fields(Training)}
    values["seeds"] = ()
    if epochs is not None:
        values["epochs"] = int(epochs)
    return Training(**values)


def fit_config(
    section: Training,
    seed: int,
    epochs: int | None = None,
    *,
    loader: LoaderSettings = NO_WORKERS,
    precision: PrecisionSettings = FLOAT32,
    drop_last: bool = False,
) -> FitConfig:
    """A stage's ``FitConfig`` from its profile section; ``epochs`` (None: the section's) and
    ``seed`` per run.

    Image stages pass the profile's ``[loader]`` and ``[precision]``; models on cached vectors keep
    the defaults: no loader processes, float32. ``drop_last``: no short last batch in an epoch.
    """
    return FitConfig(
        training_part(section, epochs),
        seed=int(seed),
        loader=loader,
        precision=precision,
        drop_last=bool(drop_last),
    )


def build_optimizer(params: list, config: FitConfig) -> torch.optim.Optimizer:
    """The optimiser ``config`` names, with its momentum, weight decay and (RMSProp, PyTorch's
    or TensorFlow 1's) ``rmsprop_alpha``/``rmsprop_eps``."""
    t = config.training
    if t.optimizer == "sgd":
        return torch.optim.SGD(params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    if t.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            params,
            lr=t.lr,
            alpha=t.rmsprop_alpha,
            eps=t.rmsprop_eps,
            momentum=t.momentum,
            weight_decay=t.weight_decay,
        )
    if t.optimizer == "rmsprop_tf":
        return TFRMSprop(
            params,
            lr=t.lr,
            decay=t.rmsprop_alpha,
            eps=t.rmsprop_eps,
            momentum=t.momentum,
            weight_decay=t.weight_decay,
        )
    return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: FitConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per epoch."""
    if config.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_epochs, gamma=0.1)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def loader_options(loader: LoaderSettings, device: torch.device | str) -> dict[str, Any]:
    """``FitConfig``'s loader fields from a profile's ``[loader]``, for the stage's device."""
    return {
        "num_workers": loader.worker_count(torch.device(device).type),
        "prefetch_factor": loader.prefetch,
        "pin_memory": loader.pin_memory,
    }
