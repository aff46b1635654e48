"""What a stage is trained with: ``FitConfig`` (stored in every checkpoint), built from a profile
section by ``fit_config``, and the optimiser and learning-rate schedule it asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from annokit.profile import LoaderSettings, Training
from annokit.profile.sections import AMP_SETTINGS, OPTIMIZERS

LR_SCHEDULES = ("constant", "step")


@dataclass
class FitConfig:
    """Everything that decides a stage's training, stored in every checkpoint."""

    epochs: int
    batch_size: int  # global batch: split evenly across DDP processes
    lr: float
    momentum: float = 0.9  # SGD/RMSprop momentum; Adam keeps its default betas
    weight_decay: float = 0.0
    optimizer: str = "sgd"  # "sgd" | "rmsprop" | "adam"
    rmsprop_alpha: float = 0.99  # RMSprop's squared-gradient decay (TF's ``decay``); PyTorch's default
    rmsprop_eps: float = 1e-8  # RMSprop's epsilon, added to the root; PyTorch's default
    seed: int = 0
    num_workers: int = 0  # the loader's: settings of the machine (``[loader]``), a run may resume with others
    prefetch_factor: int = 2
    pin_memory: bool = True  # CUDA only
    amp: str = "auto"  # CUDA autocast: auto (bfloat16 where the card has it, else float16 + GradScaler), bf16, fp16, off
    channels_last: bool = True  # CUDA only, 4-D inputs
    cudnn_benchmark: bool = False  # CUDA only: cuDNN times its (deterministic) algorithms once per shape
    compile: bool = False  # torch.compile the model being trained
    lr_schedule: str = "constant"  # "constant" | "step" (x0.1 every step_epochs)
    step_epochs: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"FitConfig needs epochs >= 1, batch_size >= 1 and lr > 0, got {self}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} unknown: use one of {OPTIMIZERS}")
        if self.amp not in AMP_SETTINGS:
            raise ValueError(f"amp {self.amp!r} unknown: use one of {AMP_SETTINGS}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule {self.lr_schedule!r} unknown: use one of {LR_SCHEDULES}")
        if self.lr_schedule == "step" and self.step_epochs < 1:
            raise ValueError("lr_schedule='step' needs step_epochs >= 1")


def fit_config(settings: Training, seed: int, epochs: int | None = None, **machine: Any) -> FitConfig:
    """A stage's ``FitConfig`` from its profile section; ``epochs`` (None: the section's) and ``seed`` per run.

    ``machine``: settings of the machine, not of the experiment (``num_workers``, ``prefetch_factor``, ``pin_memory``
    and the ``[precision]`` fields of ``precision.fit_options``: ``amp``, ``channels_last``, ``cudnn_benchmark``, ``compile``).
    """
    return FitConfig(epochs=settings.epochs if epochs is None else int(epochs), batch_size=settings.batch_size,
                     lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay,
                     optimizer=settings.optimizer, rmsprop_alpha=settings.rmsprop_alpha, rmsprop_eps=settings.rmsprop_eps,
                     seed=int(seed), **machine)


def build_optimizer(params: list, config: FitConfig) -> torch.optim.Optimizer:
    """The optimiser ``config`` names, with its momentum, weight decay and (RMSprop) ``rmsprop_alpha``/``rmsprop_eps``."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, alpha=config.rmsprop_alpha, eps=config.rmsprop_eps,
                                   momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, config: FitConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per epoch."""
    if config.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_epochs, gamma=0.1)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def loader_options(loader: LoaderSettings, device: torch.device | str) -> dict[str, Any]:
    """``FitConfig``'s loader fields from a profile's ``[loader]`` section, for the device the stage runs on."""
    return {"num_workers": loader.worker_count(torch.device(device).type), "prefetch_factor": loader.prefetch,
            "pin_memory": loader.pin_memory}
