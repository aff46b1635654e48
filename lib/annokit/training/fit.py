"""One fit loop for every stage: checkpoint/resume, AMP, DDP via torchrun.

Modelled on pytorch/vision ``references/classification``. The stage supplies
``loss_fn(model, batch) -> loss``, so the same loop trains a CNN on images, an MLP on tag
vectors or a regressor on cached features::

    config = FitConfig(Training(epochs=10, batch_size=64, lr=0.01))
    history = fit(model, train_set, lambda m, b: bce(m(b[0]), b[1]), config, run_dir)

Resume is the normal path: calling ``fit`` again on the same ``run_dir`` continues from
the newest ``epoch_NNN.pt`` (same batches, same dropout masks, bit-identical on CPU), and
returns at once when ``final.pt`` is there. Multi-GPU (or multi-process CPU)::

    torchrun --standalone --nproc_per_node=4 my_stage.py

``FitConfig.batch_size`` is the *global* batch: each of the W processes gets
``batch_size // W`` samples per step, so a run gives the same updates whatever W is (up
to float rounding, when the dataset size is a multiple of the batch size). One epoch's
steps are ``annokit.training.epoch.train_one_epoch``.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from annokit import __version__
from annokit.training import precision
from annokit.training.checkpoints import FINAL_FILE, load_weights, save_final
from annokit.training.config import FitConfig, build_optimizer, build_scheduler
from annokit.training.device_images import for_device
from annokit.training.distributed import (
    barrier,
    gather_rng_states,
    get_rank,
    get_world_size,
    is_main_process,
    setup_distributed,
)
from annokit.training.epoch import train_one_epoch
from annokit.training.resume import (
    RESUME_MAY_DIFFER,
    History,
    RunRecord,
    Steppers,
    resume,
    save_epoch,
)

__all__ = [
    "SMALL_MODEL_THREADS",
    "FitConfig",
    "FitOptions",
    "History",
    "fit",
    "resolve_device",
    "seed_everything",
]

# Models on cached vectors (heads, RNN decoders, the partial-label classifiers) are small: one
# CPU thread beats two busy ones (20 epochs of the demo classifier: 1.1 s against 7 s on a loaded
# 2-core machine).
SMALL_MODEL_THREADS = 1


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when there is a GPU, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass(frozen=True)
class FitOptions:
    """How one fit runs and what it records, beside its ``FitConfig``.

    ``stage``: the stage's own settings, compared on resume like the config. ``device``: where it
    trains. ``eval_fn(model)`` runs after every ``eval_every``-th epoch (0: never) on rank 0 only,
    on the unwrapped model in eval mode under ``torch.no_grad()``. ``params``: what to optimise
    (default: the parameters with ``requires_grad``; also parameter-group dicts). ``threads``: CPU
    threads for this fit (small models train faster on one thread than on two busy ones; a run may
    resume with another value). ``progress``: per-batch bars (off for the many tiny fits of a
    sweep). ``record``: the run's resolved profile, stored in every checkpoint's ``meta``, not
    compared.
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
    """Train ``model`` on ``train_set`` for ``config.epochs``, resuming from ``run_dir``.

    ``loss_fn(model, batch)`` gets the batch on the device and must call ``model(...)`` itself (not
    a submodule) so DDP can synchronise gradients.
    """
    options = options or FitOptions()
    previous = torch.get_num_threads()
    if options.threads:
        torch.set_num_threads(options.threads)
    try:
        return _fit(model, train_set, loss_fn, config, Path(run_dir), options)
    finally:
        torch.set_num_threads(previous)


def _fit(
    model: nn.Module,
    train_set: Dataset,
    loss_fn: Callable[[nn.Module, Any], Tensor],
    config: FitConfig,
    run_dir: Path,
    options: FitOptions,
) -> History:
    """The loop behind ``fit``."""
    device = setup_distributed(options.device)
    rank, world_size = get_rank(), get_world_size()
    if config.batch_size % world_size:
        raise ValueError(
            f"batch_size={config.batch_size} is the global batch: make it a multiple of the "
            f"{world_size} processes"
        )
    record = run_record(config, options, world_size)
    final = run_dir / FINAL_FILE
    if final.exists():
        done = load_weights(final, model, expected_config=record.config, ignore=RESUME_MAY_DIFFER)
        if is_main_process():
            print(f"{final} exists with this config: loaded its weights, nothing to train")
        return History.from_dict(done["history"])

    # Rank 0 keeps the single-process stream; other ranks get their own dropout masks.
    seed_everything(config.seed + rank)
    precision.apply_kernel_settings(device.type, config.precision)
    steppers = prepare_model(model, device, config, options.params)
    history, start_epoch = resume(run_dir, model, steppers, record, config.epochs)
    train_model = model
    if world_size > 1:
        ids = [device.index] if device.type == "cuda" else None
        train_model = DistributedDataParallel(model, device_ids=ids)
    # compiling shares the parameters: model.state_dict() is what is saved
    train_model = precision.maybe_compile(train_model, config.precision.compile)
    sampler, loader = shuffled_loader(train_set, config, device)

    for epoch in range(start_epoch + 1, config.epochs + 1):
        started = time.perf_counter()
        sampler.set_epoch(epoch - 1)
        train_loss = train_one_epoch(
            train_model,
            loader,
            loss_fn,
            (steppers.optimizer, steppers.scaler),
            config,
            epoch,
            options.progress,
        )
        steppers.scheduler.step()
        metrics = evaluate(model, options, epoch)
        history.append(epoch, train_loss, metrics, time.perf_counter() - started)
        rng = gather_rng_states()
        if is_main_process():
            save_epoch(run_dir, steppers.states(model, rng), history, record)
            shown = [
                f"train loss {train_loss:.4g}",
                *(f"{k} {v:.4g}" for k, v in metrics.items()),
                f"{history.seconds[-1]:.1f} s",
            ]
            print(f"epoch {epoch}/{config.epochs}  " + "  ".join(shown))
        barrier()

    if is_main_process():
        save_final(
            final,
            model_state=model.state_dict(),
            config=record.config,
            history=history.to_dict(),
            meta=record.meta,
        )
    barrier()
    return history


def run_record(config: FitConfig, options: FitOptions, world_size: int) -> RunRecord:
    """The config a resumed or reused fit must agree with; the versions and settings it ran with."""
    meta = {
        "annokit_version": __version__,
        "torch_version": torch.__version__,
        "world_size": world_size,
        "settings": options.record or {},
    }
    fit_record = asdict(config)
    if not config.drop_last:  # a field added later: left out at its default, so that older
        del fit_record["drop_last"]  # checkpoints still match
    return RunRecord(config={"fit": fit_record, "stage": options.stage}, meta=meta)


def prepare_model(
    model: nn.Module, device: torch.device, config: FitConfig, params: Iterable | None
) -> Steppers:
    """The model on ``device`` in the stage's memory format, and what will update its weights."""
    model.to(device)
    if precision.uses_channels_last(device.type, config.precision.channels_last):
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad] if params is None else list(params)
    optimizer = build_optimizer(params, config)
    scheduler = build_scheduler(optimizer, config)
    dtype = precision.autocast_dtype(device.type, config.precision.amp)
    scaler = precision.grad_scaler(dtype)
    return Steppers(optimizer, scheduler, scaler, use_amp=precision.needs_grad_scaler(dtype))


def shuffled_loader(
    train_set: Dataset, config: FitConfig, device: torch.device
) -> tuple[DistributedSampler, DataLoader]:
    """This process's share of each global batch, in an order that is a pure function of
    (seed, epoch): a resumed run sees the same batches. ``config.drop_last``: every batch full."""
    world_size = get_world_size()
    sampler = DistributedSampler(
        train_set,
        num_replicas=world_size,
        rank=get_rank(),
        shuffle=True,
        seed=config.seed,
        drop_last=config.drop_last,
    )
    workers = config.workers(device.type)
    loader = DataLoader(
        for_device(train_set, device),
        batch_size=config.batch_size // world_size,
        sampler=sampler,
        drop_last=config.drop_last,
        num_workers=workers,
        pin_memory=device.type == "cuda" and config.loader.pin_memory,
        persistent_workers=workers > 0,
        prefetch_factor=config.loader.prefetch if workers > 0 else None,
    )
    if config.drop_last and len(loader) == 0:
        raise ValueError(
            f"drop_last: {len(train_set)} samples make no full batch of {config.batch_size}"
        )
    return sampler, loader


def evaluate(model: nn.Module, options: FitOptions, epoch: int) -> dict[str, float]:
    """``options.eval_fn`` after every ``eval_every``-th epoch, on rank 0, in eval mode; else {}."""
    every = options.eval_every
    if options.eval_fn is None or not every or epoch % every or not is_main_process():
        return {}
    model.eval()
    with torch.no_grad():
        return {k: float(v) for k, v in options.eval_fn(model).items()}


def seed_everything(seed: int) -> None:
    """Seed every generator a stage draws from; ask for deterministic kernels. Call before building.

    A run is then bit-identical from process to process on one machine: on CUDA, cuBLAS gets a
    fixed workspace and cuDNN its deterministic algorithms, and an op without a deterministic kernel
    raises instead of varying. ``fit`` then applies the profile's ``[precision] deterministic``
    (``precision.apply_kernel_settings``), which may turn this off for speed.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.manual_seed(seed)  # also seeds every CUDA device
    np.random.seed(seed % 2**32)
    random.seed(seed)
