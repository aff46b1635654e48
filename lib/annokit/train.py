"""One fit loop for every stage: checkpoint/resume, AMP, DDP via torchrun.

Modelled on pytorch/vision ``references/classification``. The stage supplies
``loss_fn(model, batch) -> loss``, so the same loop trains a CNN on images, an MLP on tag
vectors or a regressor on cached features::

    history = fit(model, train_set, lambda m, b: bce(m(b[0]), b[1]), FitConfig(epochs=10, batch_size=64, lr=0.01), run_dir)

Resume is the normal path: calling ``fit`` again on the same ``run_dir`` continues from
the newest ``epoch_NNN.pt`` (same batches, same dropout masks, bit-identical on CPU), and
returns at once when ``final.pt`` is there. Multi-GPU (or multi-process CPU)::

    torchrun --standalone --nproc_per_node=4 my_stage.py

``FitConfig.batch_size`` is the *global* batch: each of the W processes gets
``batch_size // W`` samples per step, so a run gives the same updates whatever W is (up
to float rounding, when the dataset size is a multiple of the batch size).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from annokit import __version__
from annokit.checkpoints import (
    atomic_write_text,
    epoch_checkpoints,
    epoch_path,
    latest_checkpoint,
    load_checkpoint,
    load_weights,
    rng_state,
    save_checkpoint,
    save_final,
    set_rng_state,
)

OPTIMIZERS = ("sgd", "rmsprop", "adam")
LR_SCHEDULES = ("constant", "step")
# Settings of the machine, not of the experiment: a run may resume with other values.
RESUME_MAY_DIFFER = ("fit.num_workers",)
KEEP_EPOCH_FILES = 2
# Models on cached vectors (heads, RNN decoders, the partial-label classifiers) are small: one CPU
# thread beats two busy ones (20 epochs of the demo classifier: 1.1 s against 7 s on a loaded 2-core machine).
SMALL_MODEL_THREADS = 1


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when there is a GPU, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class FitConfig:
    """Everything that decides a stage's training, stored in every checkpoint."""

    epochs: int
    batch_size: int  # global batch: split evenly across DDP processes
    lr: float
    momentum: float = 0.9  # SGD/RMSprop momentum; Adam keeps its default betas
    weight_decay: float = 0.0
    optimizer: str = "sgd"  # "sgd" | "rmsprop" | "adam"
    seed: int = 0
    num_workers: int = 0
    amp: bool = True  # float16 autocast + GradScaler, CUDA only
    channels_last: bool = True  # CUDA only, 4-D inputs
    lr_schedule: str = "constant"  # "constant" | "step" (x0.1 every step_epochs)
    step_epochs: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"FitConfig needs epochs >= 1, batch_size >= 1 and lr > 0, got {self}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} unknown: use one of {OPTIMIZERS}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule {self.lr_schedule!r} unknown: use one of {LR_SCHEDULES}")
        if self.lr_schedule == "step" and self.step_epochs < 1:
            raise ValueError("lr_schedule='step' needs step_epochs >= 1")


@dataclass
class History:
    """Per-epoch record of a fit: epoch number (from 1), mean train loss, eval metrics, seconds."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def append(self, epoch: int, train_loss: float, metrics: dict[str, float], seconds: float) -> None:
        self.epoch.append(epoch)
        self.train_loss.append(train_loss)
        self.metrics.append(metrics)
        self.seconds.append(seconds)

    def to_dict(self) -> dict[str, list]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls(**{k: list(data.get(k, [])) for k in ("epoch", "train_loss", "metrics", "seconds")})

    def __len__(self) -> int:
        return len(self.epoch)


# Distributed helpers.


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the one that writes files and shows progress."""
    return get_rank() == 0


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def setup_distributed(device: str | torch.device) -> torch.device:
    """Join the torchrun process group when WORLD_SIZE > 1; returns this process's device.

    Under torchrun, ``"cuda"`` means ``cuda:LOCAL_RANK``.
    """
    device = torch.device(device)
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not is_distributed():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


# The loop.


def fit(
    model: nn.Module,
    train_set: Dataset,
    loss_fn: Callable[[nn.Module, Any], Tensor],
    config: FitConfig,
    run_dir: Path,
    *,
    stage_config: dict | None = None,
    device: str | torch.device = "cpu",
    eval_fn: Callable[[nn.Module], dict] | None = None,
    params: Iterable[nn.Parameter] | Iterable[dict] | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` on ``train_set`` for ``config.epochs``, resuming from ``run_dir`` if it holds checkpoints.

    ``threads``: CPU threads for this fit (small models train faster on one thread than on
    two busy ones; not part of the config, so a run may resume with another value).
    ``progress``: per-batch progress bars (off for the many tiny fits of a sweep, whose bars
    would otherwise fill the executed notebook).
    """
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _fit(model, train_set, loss_fn, config, run_dir, stage_config=stage_config, device=device,
                    eval_fn=eval_fn, params=params, progress=progress)
    finally:
        torch.set_num_threads(previous)


def _fit(
    model: nn.Module,
    train_set: Dataset,
    loss_fn: Callable[[nn.Module, Any], Tensor],
    config: FitConfig,
    run_dir: Path,
    *,
    stage_config: dict | None,
    device: str | torch.device,
    eval_fn: Callable[[nn.Module], dict] | None,
    params: Iterable[nn.Parameter] | Iterable[dict] | None,
    progress: bool,
) -> History:
    """The loop behind ``fit``.

    ``loss_fn(model, batch)`` gets the batch on the device and must call ``model(...)``
    itself (not a submodule) so DDP can synchronise gradients. ``eval_fn(model)`` runs
    after each epoch on every process, on the unwrapped model in eval mode under
    ``torch.no_grad()``; rank 0's numbers are recorded. ``params``: what to optimise
    (default: parameters with ``requires_grad``), also parameter-group dicts.
    """
    run_dir = Path(run_dir)
    device = setup_distributed(device)
    rank, world_size = get_rank(), get_world_size()
    if config.batch_size % world_size:
        raise ValueError(f"batch_size={config.batch_size} is the global batch: make it a multiple of the {world_size} processes")
    run_config = {"fit": asdict(config), "stage": stage_config or {}}
    meta = {"annokit_version": __version__, "torch_version": torch.__version__, "world_size": world_size}
    on_cuda = device.type == "cuda"

    final = run_dir / "final.pt"
    if final.exists():
        done = load_weights(final, model, expected_config=run_config)
        if is_main_process():
            print(f"{final} exists with this config: loaded its weights, nothing to train")
        return History.from_dict(done["history"])

    # Rank 0 keeps the single-process stream; other ranks get their own dropout masks.
    seed_everything(config.seed + rank)
    model.to(device)
    if on_cuda and config.channels_last:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad] if params is None else list(params)
    optimizer = build_optimizer(params, config)
    scheduler = build_scheduler(optimizer, config)
    use_amp = config.amp and on_cuda
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    history, start_epoch = History(), 0
    latest = latest_checkpoint(run_dir)
    if latest is not None:
        checkpoint = load_checkpoint(latest, expected_config=run_config, ignore=RESUME_MAY_DIFFER)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        if checkpoint.get("scaler"):
            scaler.load_state_dict(checkpoint["scaler"])
        history, start_epoch = History.from_dict(checkpoint["history"]), checkpoint["epoch"]
        states = checkpoint["rng"]["per_rank"]
        set_rng_state(states[rank % len(states)])
        if is_main_process():
            print(f"resuming {run_dir} after epoch {start_epoch}/{config.epochs} from {latest.name}")

    train_model = model
    if world_size > 1:
        train_model = DistributedDataParallel(model, device_ids=[device.index] if on_cuda else None)

    # The shuffle order is a pure function of (seed, epoch): a resumed run sees the same batches.
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=config.seed)
    loader = DataLoader(
        train_set,
        batch_size=config.batch_size // world_size,
        sampler=sampler,
        num_workers=config.num_workers,
        pin_memory=on_cuda,
        persistent_workers=config.num_workers > 0,
    )

    for epoch in range(start_epoch + 1, config.epochs + 1):
        started = time.perf_counter()
        sampler.set_epoch(epoch - 1)
        train_loss = train_one_epoch(train_model, loader, loss_fn, optimizer, scaler, device, config, epoch, progress)
        scheduler.step()
        metrics = {}
        if eval_fn is not None:
            model.eval()
            with torch.no_grad():
                metrics = {k: float(v) for k, v in eval_fn(model).items()}
        history.append(epoch, train_loss, metrics, time.perf_counter() - started)

        rng = gather_rng_states()
        if is_main_process():
            save_checkpoint(
                epoch_path(run_dir, epoch),
                model_state=model.state_dict(),
                optimizer_state=optimizer.state_dict(),
                scheduler_state=scheduler.state_dict(),
                scaler_state=scaler.state_dict() if use_amp else None,
                epoch=epoch,
                config=run_config,
                history=history.to_dict(),
                rng={"per_rank": rng},
                meta=meta,
            )
            for old in epoch_checkpoints(run_dir)[:-KEEP_EPOCH_FILES]:
                old.unlink(missing_ok=True)
            atomic_write_text(json.dumps({"config": run_config, **history.to_dict()}, indent=1), run_dir / "history.json")
            shown = [f"train loss {train_loss:.4g}", *(f"{k} {v:.4g}" for k, v in metrics.items()), f"{history.seconds[-1]:.1f} s"]
            print(f"epoch {epoch}/{config.epochs}  " + "  ".join(shown))
        barrier()

    if is_main_process():
        save_final(final, model_state=model.state_dict(), config=run_config, history=history.to_dict(), meta=meta)
    barrier()
    return history


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: Callable[[nn.Module, Any], Tensor],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    config: FitConfig,
    epoch: int,
    progress: bool = True,
) -> float:
    """One pass over ``loader``; returns the mean batch loss (averaged over processes)."""
    model.train()
    on_cuda = device.type == "cuda"
    total = torch.zeros((), dtype=torch.float32 if device.type == "mps" else torch.float64, device=device)
    steps = 0
    bar = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", disable=not (progress and is_main_process()), leave=False)
    for batch in bar:
        batch = to_device(batch, device, channels_last=on_cuda and config.channels_last)
        with torch.autocast(device.type, dtype=torch.float16, enabled=config.amp and on_cuda):
            loss = loss_fn(model, batch)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()  # a no-op scale when AMP is off
        scaler.step(optimizer)
        scaler.update()
        total += loss.detach().to(total.dtype)
        steps += 1
        if steps % 10 == 1 or steps == len(loader):  # .item() syncs the GPU: not every step
            bar.set_postfix(loss=f"{total.item() / steps:.4f}", refresh=False)
    stats = torch.stack([total, torch.tensor(float(steps), dtype=total.dtype, device=device)])
    if is_distributed():
        dist.all_reduce(stats)
    mean = (stats[0] / stats[1]).item()
    if not math.isfinite(mean):
        raise FloatingPointError(f"epoch {epoch}: training loss is {mean}; lower lr (now {config.lr}) or check the inputs")
    return mean


def to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Move tensors inside tuples/lists/dicts to ``device``; leave everything else as is."""
    if isinstance(batch, Tensor):
        if channels_last and batch.dim() == 4:
            return batch.to(device, memory_format=torch.channels_last, non_blocking=True)
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(to_device(v, device, channels_last) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
    return batch


def build_optimizer(params: list, config: FitConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, config: FitConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per epoch."""
    if config.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_epochs, gamma=0.1)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)  # also seeds every CUDA device
    np.random.seed(seed % 2**32)
    random.seed(seed)


def gather_rng_states() -> list[dict]:
    """This process's RNG states, or every rank's (rank order) under DDP."""
    state = rng_state()
    if not is_distributed():
        return [state]
    states: list = [None] * get_world_size()
    dist.all_gather_object(states, state)
    return states


def plot_history(history: History | dict, ax=None):
    """Training curve: train loss per epoch, eval losses on the same axis, other metrics on a twin axis."""
    import matplotlib.pyplot as plt

    h = history if isinstance(history, History) else History.from_dict(history)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    ax.plot(h.epoch, h.train_loss, marker="o", label="train loss")
    keys = sorted({k for m in h.metrics for k in m})
    other = None
    for key in keys:
        xs = [e for e, m in zip(h.epoch, h.metrics) if key in m]
        ys = [m[key] for m in h.metrics if key in m]
        if "loss" in key:
            ax.plot(xs, ys, marker="o", label=key)
        else:
            other = other or ax.twinx()
            other.plot(xs, ys, marker="s", linestyle="--", label=key, color=f"C{len(other.lines) + len(ax.lines) + 1}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    if other is not None:
        other.set_ylabel("metric")
        more = other.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(handles, labels, loc="best")
    return fig
