"""Distributed helpers of the fit loop: torchrun's process group, rank queries, every rank's RNG.

One process (no ``WORLD_SIZE``) is the normal case; then every helper answers as rank 0 of 1.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from annokit.training.checkpoints import rng_state


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


def gather_rng_states() -> list[dict]:
    """This process's RNG states, or every rank's (rank order) under DDP."""
    state = rng_state()
    if not is_distributed():
        return [state]
    states: list = [None] * get_world_size()
    dist.all_gather_object(states, state)
    return states
