"""One pass of the fit loop over its loader: forward, loss, backward, optimiser step per batch.

``train_one_epoch`` runs under the stage's autocast dtype and memory format and returns the mean
batch loss, averaged over the processes of a DDP run; ``to_device`` moves a batch to the device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from annokit.training import precision
from annokit.training.config import FitConfig
from annokit.training.device_images import is_uint8_images, normalise_on_device
from annokit.training.distributed import is_distributed, is_main_process


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
    total_dtype = torch.float32 if device.type == "mps" else torch.float64
    total = torch.zeros((), dtype=total_dtype, device=device)
    steps = 0
    shown = progress and is_main_process()
    bar = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", disable=not shown, leave=False)
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
        raise FloatingPointError(
            f"epoch {epoch}: training loss is {mean}; lower lr (now {config.lr}) or check the "
            "inputs"
        )
    return mean


def to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Move tensors inside tuples/lists/dicts to ``device``; leave everything else as is. A uint8
    image batch from the cache (``device_images.for_device``) arrives normalised to float32."""
    if is_uint8_images(batch):  # cached pixels: normalised here, on the device
        batch = normalise_on_device(batch.to(device, non_blocking=True))
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
