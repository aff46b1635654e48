"""Notebook 06's independent fits side by side: one process per CPU core, or a SLURM job array.

Every point of the partial-label sweep and of the labelling comparison is a fit of its own, written
to ``<run>/partial/<fit name>/final.pt``; every (strategy, seed) of the curriculum comparison is a
job of its own too, its rounds in ``<run>/partial/curriculum_<kind>_p<percent>[@seed<k>]``.
``fit_side_by_side(stage, kind, points)`` trains the points whose last file is missing as jobs of
``annokit.methods.side_by_side`` (one process per CPU core or per GPU, submitit when
``ANNOKIT_EXECUTOR`` is set); the notebook's own loop then finds every file and loads it, as it
would after any earlier run. A job rebuilds what it trains from the ``PartialStage`` alone (the run
and its ``[partial]`` settings), with the same functions the notebook calls (``stage_training``),
so its files are those the notebook would write itself.

Threads: one process alone keeps torch's threads; W processes on C cores take C // W each. On the
demo a fit's weights are the same bit for bit on one thread or two (``tests/methods``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from annokit.artifacts.run import Run
from annokit.cpu_share import cpu_cores
from annokit.methods.partial_budget import labelling_fit, labelling_fit_name
from annokit.methods.partial_curriculum import strategy_folder, strategy_rounds
from annokit.methods.partial_finetune import fine_tuning, partial_fit_config
from annokit.methods.partial_labels import ClassifierTraining, PartialData
from annokit.methods.partial_sweep import sweep_fit, sweep_fit_name
from annokit.methods.side_by_side import fans_out, run_side_by_side
from annokit.profile import PartialSettings
from annokit.training.checkpoints import FINAL_FILE
from annokit.training.parallel import cpu_workers


def last_round(point: tuple) -> str:
    """The file a curriculum strategy's job leaves last: its last round's ``final.pt``."""
    return f"round_{point[2].rounds}/{FINAL_FILE}"


# kind of point -> (its folder in <run>/partial, the function that trains or loads it, the file in
# that folder that says it is finished)
FITS: dict[str, tuple[Callable[[Run, Any], str], Callable[..., Any], Callable[[tuple], str]]] = {
    "sweep": (sweep_fit_name, sweep_fit, lambda point: FINAL_FILE),
    "labelling": (labelling_fit_name, labelling_fit, lambda point: FINAL_FILE),
    "curriculum": (strategy_folder, strategy_rounds, last_round),
}


@dataclass(frozen=True)
class PartialStage:
    """What a process needs to rebuild notebook 06's models by itself: the run (its device
    included) and the ``[partial]`` settings in force (the notebook's ``epochs`` override
    applied)."""

    run: Run
    settings: PartialSettings


def stage_training(
    stage: PartialStage, threads: int | None = None
) -> tuple[PartialData, ClassifierTraining]:
    """Notebook 06's inputs and ``ClassifierTraining``: the pretrained part ``[partial] finetune``
    names, fitted with ``partial_fit_config``; ``threads`` None keeps torch's setting."""
    run, settings = stage.run, stage.settings
    tuning = fine_tuning(run, part=settings.finetune)
    training = ClassifierTraining(
        config=partial_fit_config(run, settings),
        device=run.device,
        make_model=tuning.make_model,
        threads=threads,
        model_settings=tuning.model_settings,
    )
    return tuning.data, training


# A job's process builds its stage once for every job it runs (the maps below the last block are a
# file read, the models' factory a copy of the pretrained network); the notebook builds its own.
_BUILT: dict[tuple[str, str, str], tuple[PartialData, ClassifierTraining]] = {}


def job_training(
    stage: PartialStage, threads: int | None
) -> tuple[PartialData, ClassifierTraining]:
    """``stage_training`` once per job process, with the job's ``threads``."""
    key = (str(stage.run.run_dir), str(stage.run.device), repr(stage.settings))
    if key not in _BUILT:
        _BUILT[key] = stage_training(stage)
    data, training = _BUILT[key]
    return data, replace(training, threads=threads)


def fit_name(stage: PartialStage, kind: str, point: tuple) -> str:
    """The folder in ``<run>/partial`` of the fit that stands for ``point`` of ``kind``."""
    if kind not in FITS:
        raise ValueError(f"kind of partial-label fit {kind!r}: use one of {', '.join(FITS)}")
    return FITS[kind][0](stage.run, point)


def fit_point(stage: PartialStage, kind: str, point: tuple, threads: int | None = None) -> str:
    """Train (or load) the fit of one point in this process; returns its folder name. The job
    every launcher runs."""
    data, training = job_training(stage, threads)
    FITS[kind][1](stage.run, data, training, point)
    return fit_name(stage, kind, point)


def missing_fits(stage: PartialStage, kind: str, points: Sequence[tuple]) -> list[tuple]:
    """One point per fit whose ``final.pt`` is not there yet, in the points' order."""
    seen, missing = set(), []
    for point in points:
        name = fit_name(stage, kind, point)
        if name in seen:
            continue
        seen.add(name)
        if not (stage.run.run_dir / "partial" / name / FITS[kind][2](point)).is_file():
            missing.append(point)
    return missing


def threads_per_job(workers: int) -> int | None:
    """CPU threads of each of ``workers`` processes: the cores shared out (None: one process,
    torch's own setting)."""
    if workers <= 1:
        return None
    return max(1, cpu_cores() // workers)


def fit_side_by_side(
    stage: PartialStage,
    kind: str,
    points: Sequence[tuple],
    *,
    retrain: bool = False,
    workers: int | None = None,
) -> list[str]:
    """Train every fit of ``points`` that is not finished, as independent jobs; returns the folder
    names trained. ``retrain`` deletes the points' fits first; ``workers`` None: one per CPU core
    (``parallel.cpu_workers``; 1 on a GPU).

    With one worker, one card and no cluster executor nothing is fanned out: the notebook's own
    loop trains the fits in turn, as it would anyway (a job would score them a second time).
    """
    if retrain:
        for name in {fit_name(stage, kind, point) for point in points}:
            shutil.rmtree(stage.run.run_dir / "partial" / name, ignore_errors=True)
    workers = cpu_workers(stage.run.device) if workers is None else workers
    if not fans_out(workers, stage.run.device):
        return []
    todo = missing_fits(stage, kind, points)
    threads = threads_per_job(min(workers, len(todo)))
    jobs = [(stage, kind, point, threads) for point in todo]
    return run_side_by_side(
        fit_point, jobs, workers, desc=f"partial-label fits ({kind})", device=stage.run.device
    )
