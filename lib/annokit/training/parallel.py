"""Independent fits side by side: one process per CPU core, or one job each on a cluster.

The decoders and heads that train on cached vectors run on one thread (``SMALL_MODEL_THREADS``), so
on a CPU a second core sits idle. ``run_jobs`` starts a pool of fresh (spawned) processes and gives
each job to one; every job seeds itself, so its result does not depend on the process that ran it.
On one GPU, or with one worker, the jobs run one after another in this process; on a machine with
several GPUs (``visible_gpus``) one process per card runs them, each process seeing only its card.

``ANNOKIT_EXECUTOR`` sends the same jobs through submitit instead: ``slurm`` submits them as one
SLURM job array (``ANNOKIT_SLURM`` holds the array's options, e.g.
``partition=gpu,gpus_per_node=1,timeout_min=240``), ``local`` runs them as submitit's local
processes (what the tests use). Every job writes its files into the shared work folder and skips a
fit whose ``final.pt`` is already there, so a finished piece is reused whichever launcher ran it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import torch

from annokit.cpu_share import cpu_share

R = TypeVar("R")
EXECUTOR_VARIABLE = "ANNOKIT_EXECUTOR"
SLURM_VARIABLE = "ANNOKIT_SLURM"
EXECUTORS = ("", "local", "slurm")


def cpu_workers(device: torch.device | str, limit: int | None = None) -> int:
    """Processes for small CPU fits: one per core (at most ``limit``, and at most
    ``ANNOKIT_CPU_WORKERS``, the cores ``reproduce`` leaves each notebook it runs beside others);
    1 on a GPU, which runs them in turn."""
    if torch.device(device).type != "cpu":
        return 1
    cores = cpu_share()
    return max(1, min(cores, limit or cores))


def visible_gpus(device: torch.device | str) -> tuple[str, ...]:
    """The cards independent fits fan out over, as ``CUDA_VISIBLE_DEVICES`` names them: every
    visible one when the stage runs on ``cuda`` (no index) and there are several; none otherwise
    (the CPU, one card, or a card the user named, ``cuda:1``)."""
    device = torch.device(device)
    if device.type != "cuda" or device.index is not None or not torch.cuda.is_available():
        return ()
    count = torch.cuda.device_count()
    listed = [g.strip() for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    names = listed[:count] if len(listed) >= count else [str(k) for k in range(count)]
    return tuple(names) if count > 1 else ()


def _pin_gpu(cards) -> None:
    """A pool process's initializer: take one card from the queue and see only it (``cuda`` is
    then that card), before anything starts CUDA."""
    os.environ["CUDA_VISIBLE_DEVICES"] = cards.get()


def run_jobs(
    fn: Callable[..., R],
    jobs: Sequence[tuple[Any, ...]],
    workers: int,
    gpus: Sequence[str] = (),
) -> list[R]:
    """``[fn(*job) for job in jobs]``, in order, on ``workers`` spawned processes (this one when 1),
    one process per card of ``gpus`` (``visible_gpus``), or through submitit when
    ``ANNOKIT_EXECUTOR`` names an executor.

    ``fn`` must be importable (a module-level function) and its arguments picklable.
    """
    executor = os.environ.get(EXECUTOR_VARIABLE, "")
    if executor:
        return submitit_jobs(fn, jobs, executor)
    workers = len(gpus) if len(gpus) > 1 else workers
    if workers <= 1 or len(jobs) <= 1:
        return [fn(*job) for job in jobs]
    # fork would copy this process's threads and locks
    context = multiprocessing.get_context("spawn")
    pinning = {}
    if len(gpus) > 1:
        cards = context.Queue()
        for card in gpus:
            cards.put(card)
        pinning = {"initializer": _pin_gpu, "initargs": (cards,)}
    size = min(workers, len(jobs))
    with ProcessPoolExecutor(max_workers=size, mp_context=context, **pinning) as pool:
        futures = [pool.submit(fn, *job) for job in jobs]
        return [future.result() for future in futures]


def slurm_options(text: str) -> dict[str, Any]:
    """``ANNOKIT_SLURM``'s ``key=value,key=value`` as submitit parameters (integers where they
    parse), e.g. ``partition=gpu,gpus_per_node=1,timeout_min=240``."""
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"{SLURM_VARIABLE}: {item!r} is not key=value (e.g. partition=gpu,timeout_min=240)"
            )
        options[key.strip()] = int(value) if value.strip().isdigit() else value.strip()
    return options


def submitit_jobs(
    fn: Callable[..., R], jobs: Sequence[tuple[Any, ...]], executor: str, folder: Path | None = None
) -> list[R]:
    """The jobs as one submitit job array (``slurm``) or submitit's local processes (``local``),
    their logs in ``folder`` (default ``<work>/submitit``); results in the jobs' order."""
    if executor not in EXECUTORS[1:]:
        raise ValueError(f"{EXECUTOR_VARIABLE}={executor!r}: use one of {', '.join(EXECUTORS[1:])}")
    try:
        import submitit
    except ImportError:
        raise ImportError(
            f"{EXECUTOR_VARIABLE}={executor} needs submitit: .venv/bin/pip install -e '.[cluster]'"
        ) from None
    from annokit import paths

    folder = Path(folder or paths.work_dir() / "submitit")
    if executor == "local":
        pool = submitit.LocalExecutor(folder=folder)
        pool.update_parameters(timeout_min=24 * 60)
    else:
        pool = submitit.AutoExecutor(folder=folder, cluster="slurm")
        pool.update_parameters(**slurm_options(os.environ.get(SLURM_VARIABLE, "")))
    if not jobs:
        return []
    submitted = pool.map_array(fn, *zip(*jobs))
    return [job.result() for job in submitted]
