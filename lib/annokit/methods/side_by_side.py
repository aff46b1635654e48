"""Independent jobs of a stage side by side: one process per CPU core or per GPU, or in turn with a
bar.

``annokit.training.parallel.run_jobs`` starts the processes; ``run_side_by_side`` adds the bar a
student sees when the jobs run one after another (on a GPU, or on a single core).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch
from tqdm.auto import tqdm

from annokit.training.parallel import EXECUTOR_VARIABLE, run_jobs, visible_gpus

R = TypeVar("R")


def run_side_by_side(
    fn: Callable[..., R],
    jobs: Sequence[tuple],
    workers: int,
    desc: str,
    device: torch.device | str = "cpu",
) -> list[R]:
    """``[fn(*job) for job in jobs]`` in order: on ``workers`` processes, or one per card when the
    jobs train on ``device`` ``cuda`` of a machine with several GPUs (``run_jobs``), or in this
    process with a progress bar when neither applies and no cluster executor is set
    (``parallel.EXECUTOR_VARIABLE``)."""
    if not fans_out(workers, device):
        return [fn(*job) for job in tqdm(jobs, desc=desc, unit="job")]
    return run_jobs(fn, jobs, workers, visible_gpus(device))


def fans_out(workers: int, device: torch.device | str = "cpu") -> bool:
    """Whether jobs leave this process: several CPU workers, several cards, or a cluster executor
    (``parallel.EXECUTOR_VARIABLE``)."""
    return workers > 1 or bool(visible_gpus(device)) or bool(os.environ.get(EXECUTOR_VARIABLE))
