"""One image-training stage of M3 (the CNN of notebook 01, the MS-CNN of notebook 02) in every
process of a torchrun launch.

``train_cnn(run, gpus=N)`` starts it through ``annokit.methods.launch.train_on_gpus``; by hand::

    python -m torch.distributed.run --standalone --nproc_per_node 4 \\
        -m annokit.methods.stage_worker cnn --profile nuswide-m3

Every rank trains the same ``m3.train_cnn``/``m3.train_mscnn`` under DistributedDataParallel (NCCL
on CUDA, gloo on the CPU) with the run and settings the notebook opens, so the ``final.pt`` that
rank 0 writes carries the config the notebook's own call expects, and is loaded there.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace

import torch
import torch.distributed as dist

from annokit.artifacts.run import Run, open_run
from annokit.cli import add_debug_flag, run_cli
from annokit.methods import m3
from annokit.methods.launch import STAGES
from annokit.training.distributed import get_world_size, is_distributed, setup_distributed


def train_stage(run: Run, stage: str, epochs: int | None, monitor: bool) -> None:
    """The notebook's training call of ``stage``, in this process."""
    if stage == "cnn":
        m3.train_cnn(run, epochs=epochs, monitor=monitor)
    else:
        m3.train_mscnn(run, m3.load_finetuned_cnn(run), epochs=epochs, monitor=monitor)


def with_workers(run: Run, workers: int | None, device: torch.device) -> Run:
    """``workers`` image-decoding processes per rank (None: the profile's); the automatic setting
    (-1) gets this rank's share of the cores."""
    loader = run.profile.loader
    chosen = replace(loader, workers=loader.workers if workers is None else int(workers))
    if chosen.workers < 0:
        cpus = max(1, (os.cpu_count() or 1) // get_world_size())
        chosen = replace(chosen, workers=chosen.worker_count(device.type, cpus=cpus))
    return replace(run, profile=replace(run.profile, loader=chosen))


def parser() -> argparse.ArgumentParser:
    """The command line of a worker: the stage and how to open its run."""
    parser = argparse.ArgumentParser(
        prog="python -m annokit.methods.stage_worker",
        description="Train an image stage in each process of a torchrun launch.",
    )
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--data-root", default="")
    parser.add_argument("--work-dir", default="")
    parser.add_argument(
        "--device",
        default="cuda",
        choices=("cuda", "cpu"),
        help="cuda: one GPU per rank, NCCL; cpu: gloo",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="default: the profile's for this stage"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="image-decoding processes per rank"
    )
    parser.add_argument(
        "--no-monitor", dest="monitor", action="store_false", help="no validation mAP curve"
    )
    add_debug_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    device = setup_distributed(args.device)
    run = open_run(args.profile, args.data_root, args.work_dir)
    run = with_workers(run, args.workers, device).on(device)
    train_stage(run, args.stage, args.epochs, args.monitor)
    if is_distributed():
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    run_cli(main, prog="annokit.methods.stage_worker")
