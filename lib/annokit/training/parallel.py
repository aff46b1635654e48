"""Independent small fits side by side: one process per CPU core, each training on one thread.

The decoders and heads that train on cached vectors run on one thread (``SMALL_MODEL_THREADS``), so
on a CPU a second core sits idle. ``run_jobs`` starts a pool of fresh (spawned) processes and gives
each job to one; every job seeds itself, so its result does not depend on the process that ran it.
On a GPU, or with one worker, the jobs run one after another in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import torch

R = TypeVar("R")


def cpu_workers(device: torch.device | str, limit: int | None = None) -> int:
    """Processes for small CPU fits: one per core (at most ``limit``); 1 on a GPU, which runs them
    in turn."""
    if torch.device(device).type != "cpu":
        return 1
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
    return max(1, min(cores, limit or cores))


def run_jobs(fn: Callable[..., R], jobs: Sequence[tuple[Any, ...]], workers: int) -> list[R]:
    """``[fn(*job) for job in jobs]``, in order, on ``workers`` spawned processes (this one when 1).

    ``fn`` must be importable (a module-level function) and its arguments picklable.
    """
    if workers <= 1 or len(jobs) <= 1:
        return [fn(*job) for job in jobs]
    # fork would copy this process's threads and locks
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        futures = [pool.submit(fn, *job) for job in jobs]
        return [future.result() for future in futures]
