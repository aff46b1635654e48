"""Several GPUs for the image-training stages: M3's CNN or MS-CNN under torchrun (DDP).

A notebook runs in one kernel, so a stage given ``gpus > 1`` is trained by a torchrun subprocess
(``annokit.methods.stage_worker``) with one process per GPU; rank 0 writes
``<run>/<stage>/final.pt``. The stage's own call in the notebook then finds that file with its own
config and loads it, and the features and predictions are written exactly as with one GPU::

    cnn, history = train_cnn(run, epochs=epochs, monitor=monitor, gpus=gpus)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import torch

from annokit.artifacts.run import Run, open_run

STAGES = ("cnn", "mscnn")  # the stages a torchrun launch trains
BACKENDS = ("nccl", "gloo")
# "gloo": the processes train on the CPU instead of GPUs (tests, machines without CUDA).
BACKEND_VARIABLE = "ANNOKIT_DDP_BACKEND"
LOG_NAME = "torchrun.log"
# at most one progress-bar line per bar this often: the log (and notebook) stays short
PROGRESS_SECONDS = "30"
WORKER_ERROR = re.compile(r"stage_worker: error: (.*)$")
PYTHON_ERROR = re.compile(r"^\w+(Error|Exception): .*$")


class StageLaunchFailed(RuntimeError):
    """The torchrun processes of a stage failed; the message names the stage, the error, the log."""


def train_on_gpus(
    run: Run,
    stage: str,
    gpus: int,
    *,
    epochs: int | None = None,
    monitor: bool = True,
    backend: str | None = None,
) -> Path | None:
    """Train ``stage`` ("cnn" or "mscnn") of ``run`` on ``gpus`` GPUs under torchrun; returns
    ``<run>/<stage>/final.pt``.

    ``gpus <= 1`` does nothing (the stage trains in the calling process) and returns None; so does
    a finished stage, whose ``final.pt`` the caller loads. ``backend`` (default:
    $ANNOKIT_DDP_BACKEND, else ``"nccl"``): ``"gloo"`` runs the ``gpus`` processes on the CPU. The
    processes open the run from its profile, data root and work folder, with its loader workers.
    """
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} cannot be trained on several GPUs: use one of {STAGES}")
    gpus = int(gpus)
    if gpus <= 1:
        return None
    backend = resolve_backend(backend)
    if backend == "nccl":
        check_visible_gpus(gpus)
    check_reopens(run)
    final = run.run_dir / stage / "final.pt"
    if final.exists():
        print(f"{final} exists: the notebook loads it, nothing to launch")
        return None
    device = "cuda" if backend == "nccl" else "cpu"
    command = [
        *(sys.executable, "-m", "torch.distributed.run", "--standalone"),
        f"--nproc_per_node={gpus}",
        *("-m", "annokit.methods.stage_worker", stage, *worker_arguments(run)),
        *("--device", device),
        *(["--epochs", str(int(epochs))] if epochs is not None else []),
        *([] if monitor else ["--no-monitor"]),
    ]
    log = final.parent / LOG_NAME
    processes = "GPUs (NCCL)" if device == "cuda" else "CPU processes (gloo)"
    print(f"training {stage} on {gpus} {processes}; log: {log}", flush=True)
    code = stream(command, log, worker_environment(gpus))
    if code != 0 or not final.exists():
        reason = failure_reason(log)
        raise StageLaunchFailed(
            f"{stage} stage failed under torchrun on {gpus} processes (exit status {code})"
            f"{': ' + reason if reason else ''}; full log: {log}"
        )
    return final


def worker_arguments(run: Run) -> list[str]:
    """What a worker opens the run with: its profile, data root, work folder and loader workers."""
    data_root = run.profile.data_root
    return [
        *("--profile", run.source or run.profile.name),
        *(["--data-root", str(data_root)] if data_root is not None else []),
        *("--work-dir", str(run.work_dir)),
        *("--workers", str(int(run.profile.loader.workers))),
    ]


def check_reopens(run: Run) -> None:
    """The workers open the run again from its profile: refuse a run whose settings differ from
    it (other than the loader workers, which they are given)."""
    data_root = run.profile.data_root
    opened = open_run(run.source or run.profile.name, str(data_root or ""), str(run.work_dir))
    if replace(opened.profile, loader=run.profile.loader) != run.profile:
        raise ValueError(
            f"the run of {run.profile.name} was opened with settings its profile file does not "
            "hold: train it with gpus=1, or put the settings in a profile"
        )


def resolve_backend(backend: str | None) -> str:
    """The argument, else $ANNOKIT_DDP_BACKEND, else NCCL."""
    chosen = backend or os.environ.get(BACKEND_VARIABLE) or "nccl"
    if chosen not in BACKENDS:
        raise ValueError(
            f"DDP backend {chosen!r} unknown: use one of {BACKENDS} (argument backend or "
            f"${BACKEND_VARIABLE})"
        )
    return chosen


def check_visible_gpus(gpus: int) -> None:
    """Fewer CUDA devices than asked for is an error before anything starts."""
    visible = torch.cuda.device_count()
    if visible < gpus:
        shown = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise RuntimeError(
            f"gpus={gpus} asks for {gpus} GPUs but this machine shows {visible} CUDA device(s)"
            f"{f' (CUDA_VISIBLE_DEVICES={shown})' if shown is not None else ''}: "
            f"give gpus={max(visible, 1)} or fewer (1 trains in the notebook's own process)"
        )


def worker_environment(processes: int) -> dict[str, str]:
    """Unbuffered output (epoch lines as they come), few progress-bar lines, shared-out cores."""
    threads = str(max(1, (os.cpu_count() or 1) // processes))
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "TQDM_MININTERVAL": PROGRESS_SECONDS,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", threads),
    }


def stream(command: list[str], log: Path, env: dict[str, str]) -> int:
    """Run ``command``, copying its output (stdout and stderr) line by line to ours and to ``log``;
    its exit status."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(log, "w", encoding="utf-8") as out,
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1
        ) as process,
    ):
        try:
            for line in process.stdout:
                out.write(line)
                if line.strip():  # a progress bar clearing itself is a blank line
                    sys.stdout.write(line)
                    sys.stdout.flush()
            return process.wait()
        except BaseException:
            # an interrupted notebook stops the processes too (torchrun passes the signal on)
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
            raise


def failure_reason(log: Path) -> str:
    """The workers' own one-line error from the log, else the last Python exception line in it."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []
    for pattern in (WORKER_ERROR, PYTHON_ERROR):
        found = [m for line in lines if (m := pattern.search(line.strip()))]
        if found:
            return (found[-1].group(1) if pattern is WORKER_ERROR else found[-1].group(0)).strip()
    return ""
