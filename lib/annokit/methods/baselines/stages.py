"""One job per baseline and seed: train (or fit), choose on the validation split, predict the test
split.

``baseline_jobs`` lists the jobs of a profile (a trained method once per seed, a neighbour method
once) and ``run_baseline`` runs one ``BaselineJob`` and returns its ``Predictions``, what was chosen
on the validation split in ``meta["chosen"]``. The jobs are independent and seed themselves, so
``run_all`` runs them side by side, one per CPU core (``annokit.methods.side_by_side``); notebook 08
saves the files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from annokit.artifacts.predictions import Predictions
from annokit.artifacts.run import Run
from annokit.methods.baselines.inputs import BaselineData, baseline_data
from annokit.methods.baselines.neighbour_methods import (
    tag_knn_baseline,
    tagprop_baseline,
    two_pass_baseline,
)
from annokit.methods.baselines.registry import (
    HEADS,
    METHODS,
    NEIGHBOURS,
    BaselineJob,
    baseline_seeds,
)
from annokit.methods.baselines.trained_methods import head_baseline, order_free_baseline
from annokit.methods.side_by_side import run_side_by_side
from annokit.profile import Profile
from annokit.training.fit import SMALL_MODEL_THREADS
from annokit.training.parallel import cpu_workers

NEIGHBOUR_METHODS = {
    "tagprop": tagprop_baseline,
    "2pknn": two_pass_baseline,
    "tag_knn": tag_knn_baseline,
}
# the longest jobs first, so that the cores finish together
LONGEST_FIRST = [
    "order_free_rnn",
    "lsep",
    "warp",
    "tagprop",
    "softmax",
    "logistic",
    "tag_knn",
    "2pknn",
]


def baseline_jobs(
    profile: Profile, keys: Sequence[str] | None = None
) -> list[tuple[str, int | None]]:
    """(method, seed) of every job, the longest first; seed None: a deterministic method."""
    keys = list(keys) if keys is not None else list(METHODS)
    seeds = sorted(baseline_seeds(profile), key=lambda s: s != profile.seed)  # the profile's first
    return [
        (key, seed)
        for key in sorted(keys, key=LONGEST_FIRST.index)
        for seed in (seeds if METHODS[key].trained else [None])
    ]


def run_all(
    run: Run,
    data: BaselineData | None = None,
    *,
    retrain: bool = False,
    keys: Sequence[str] | None = None,
) -> list[Predictions]:
    """Every job of ``baseline_jobs`` on a run's ``data`` (None: ``baseline_data(run)``): side by
    side on the CPU cores, one thread each, or one after another on a GPU."""
    data = data if data is not None else baseline_data(run)
    workers = cpu_workers(run.device)
    threads = SMALL_MODEL_THREADS  # in turn or side by side: the same numbers
    common = {
        "profile": run.profile,
        "run_dir": Path(run.run_dir),
        "device": str(run.device),
        "retrain": retrain,
        "threads": threads,
    }
    jobs = [
        (BaselineJob(key=key, seed=seed, **common), data)
        for key, seed in baseline_jobs(run.profile, keys)
    ]
    return run_side_by_side(run_baseline, jobs, workers, desc="baselines", device=run.device)


def run_baseline(job: BaselineJob, data: BaselineData) -> Predictions:
    """Run one job of ``baseline_jobs``; module-level, so ``parallel.run_jobs`` can run it in
    another process."""
    with threadpool_limits(job.threads), _torch_threads(job.threads):
        if job.key in HEADS:
            return head_baseline(job, data)
        if job.key == "order_free_rnn":
            return order_free_baseline(job, data)
        if job.key in NEIGHBOURS:
            return NEIGHBOUR_METHODS[job.key](data, job.profile)
        raise KeyError(f"no baseline {job.key!r}: choose from {', '.join(METHODS)}")


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
