"""One fit loop for every stage: checkpoint/resume, AMP, DDP via torchrun.

Modelled on pytorch/vision ``references/classification``. The stage supplies
``loss_fn(model, batch) -> loss``, so the same loop trains a CNN on images, an MLP on tag
vectors or a regressor on cached features::

    history = fit(model, train_set, lambda m, b: bce(m(b[0]), b[1]), FitConfig(Training(epochs=10, batch_size=64, lr=0.01)), run_dir)

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
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from annokit import __version__
from annokit.atomic import atomic_write_text
from annokit.training import precision
from annokit.training.checkpoints import (
    epoch_checkpoints,
    epoch_path,
    latest_checkpoint,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_final,
    set_rng_state,
)
from annokit.training.config import FitConfig, build_optimizer, build_scheduler
from annokit.training.distributed import (
    barrier,
    gather_rng_states,
    get_rank,
    get_world_size,
    is_distributed,
    is_main_process,
    setup_distributed,
    unwrap,  # noqa: F401  (part of the loop's interface)
)

# Settings of the machine, not of the experiment: a run may resume (or reuse final.pt) with other values.
RESUME_MAY_DIFFER = ("fit.loader.workers", "fit.loader.prefetch", "fit.loader.pin_memory", "fit.precision.amp",
                     "fit.precision.channels_last", "fit.precision.cudnn_benchmark", "fit.precision.compile")
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
    def from_dict(cls, data: dict) -> History:
        return cls(**{k: list(data.get(k, [])) for k in ("epoch", "train_loss", "metrics", "seconds")})

    def __len__(self) -> int:
        return len(self.epoch)


# The loop.


@dataclass(frozen=True)
class FitOptions:
    """How one fit runs and what it records, beside its ``FitConfig``.

    ``stage``: the stage's own settings, compared on resume like the config. ``device``: where it
    trains. ``eval_fn(model)`` runs after every ``eval_every``-th epoch (0: never) on rank 0 only,
    on the unwrapped model in eval mode under ``torch.no_grad()``. ``params``: what to optimise
    (default: the parameters with ``requires_grad``; also parameter-group dicts). ``threads``: CPU
    threads for this fit (small models train faster on one thread than on two busy ones; a run may
    resume with another value). ``progress``: per-batch bars (off for the many tiny fits of a sweep).
    ``record``: the run's resolved profile, stored in every checkpoint's ``meta``, not compared.
    """

    stage: dict = field(default_factory=dict)
    device: str | torch.device = "cpu"
    eval_fn: Callable[[nn.Module], dict] | None = None
    eval_every: int = 1
    params: Iterable[nn.Parameter] | Iterable[dict] | None = None
    threads: int | None = None
    progress: bool = True
    record: dict | None = None


def fit(
    model: nn.Module,
    train_set: Dataset,
    loss_fn: Callable[[nn.Module, Any], Tensor],
    config: FitConfig,
    run_dir: Path,
    options: FitOptions | None = None,
) -> History:
    """Train ``model`` on ``train_set`` for ``config.epochs``, resuming from ``run_dir`` if it holds checkpoints.

    ``loss_fn(model, batch)`` gets the batch on the device and must call ``model(...)`` itself (not a
    submodule) so DDP can synchronise gradients.
    """
    options = options or FitOptions()
    previous = torch.get_num_threads()
    if options.threads:
        torch.set_num_threads(options.threads)
    try:
        return _fit(model, train_set, loss_fn, config, Path(run_dir), options)
    finally:
        torch.set_num_threads(previous)


def _fit(model: nn.Module, train_set: Dataset, loss_fn: Callable[[nn.Module, Any], Tensor], config: FitConfig,
         run_dir: Path, options: FitOptions) -> History:
    """The loop behind ``fit``."""
    device = setup_distributed(options.device)
    rank, world_size = get_rank(), get_world_size()
    if config.batch_size % world_size:
        raise ValueError(f"batch_size={config.batch_size} is the global batch: make it a multiple of the {world_size} processes")
    run_config = {"fit": asdict(config), "stage": options.stage}
    meta = {"annokit_version": __version__, "torch_version": torch.__version__, "world_size": world_size,
            "settings": options.record or {}}
    on_cuda = device.type == "cuda"

    final = run_dir / "final.pt"
    if final.exists():
        done = load_weights(final, model, expected_config=run_config, ignore=RESUME_MAY_DIFFER)
        if is_main_process():
            print(f"{final} exists with this config: loaded its weights, nothing to train")
        return History.from_dict(done["history"])

    # Rank 0 keeps the single-process stream; other ranks get their own dropout masks.
    seed_everything(config.seed + rank)
    precision.apply_kernel_settings(device.type, config.precision.cudnn_benchmark)
    model.to(device)
    if precision.uses_channels_last(device.type, config.precision.channels_last):
        model.to(memory_format=torch.channels_last)
    params = options.params
    params = [p for p in model.parameters() if p.requires_grad] if params is None else list(params)
    optimizer = build_optimizer(params, config)
    scheduler = build_scheduler(optimizer, config)
    dtype = precision.autocast_dtype(device.type, config.precision.amp)
    use_amp = precision.needs_grad_scaler(dtype)
    scaler = precision.grad_scaler(dtype)

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
    train_model = precision.maybe_compile(train_model, config.precision.compile)  # shares the parameters: model.state_dict() is saved

    # The shuffle order is a pure function of (seed, epoch): a resumed run sees the same batches.
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=config.seed)
    workers = config.workers(device.type)
    loader = DataLoader(
        train_set,
        batch_size=config.batch_size // world_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=on_cuda and config.loader.pin_memory,
        persistent_workers=workers > 0,
        prefetch_factor=config.loader.prefetch if workers > 0 else None,
    )

    for epoch in range(start_epoch + 1, config.epochs + 1):
        started = time.perf_counter()
        sampler.set_epoch(epoch - 1)
        train_loss = train_one_epoch(train_model, loader, loss_fn, (optimizer, scaler), config, epoch, options.progress)
        scheduler.step()
        metrics = {}
        every = options.eval_every
        if options.eval_fn is not None and every and epoch % every == 0 and is_main_process():
            model.eval()
            with torch.no_grad():
                metrics = {k: float(v) for k, v in options.eval_fn(model).items()}
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
    steppers: tuple[torch.optim.Optimizer, torch.amp.GradScaler],
    config: FitConfig,
    epoch: int,
    progress: bool = True,
) -> float:
    """One pass over ``loader``; returns the mean batch loss (averaged over processes)."""
    optimizer, scaler = steppers
    device = next(model.parameters()).device
    model.train()
    dtype = precision.autocast_dtype(device.type, config.precision.amp)
    channels_last = precision.uses_channels_last(device.type, config.precision.channels_last)
    total = torch.zeros((), dtype=torch.float32 if device.type == "mps" else torch.float64, device=device)
    steps = 0
    bar = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", disable=not (progress and is_main_process()), leave=False)
    for batch in bar:
        batch = to_device(batch, device, channels_last=channels_last)
        with precision.autocast(device.type, dtype):
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


def seed_everything(seed: int) -> None:
    """Seed every generator a stage draws from, and ask for deterministic kernels: called before a model is built.

    On the CPU a run is then bit-identical from process to process. On CUDA, cuBLAS gets a fixed
    workspace and cuDNN its deterministic algorithms; the few kernels without a deterministic
    version (PyTorch warns about them) may still vary in the last bits.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.manual_seed(seed)  # also seeds every CUDA device
    np.random.seed(seed % 2**32)
    random.seed(seed)
