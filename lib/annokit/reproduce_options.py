"""The options of ``reproduce``: its command line, each value checked as it is read, and the
notebook parameters they set."""

from __future__ import annotations

import argparse
import os

from annokit.cli import add_debug_flag
from annokit.profile.load import profile_argument


def at_least_one(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def worker_count(text: str) -> int:
    """An argparse type: loader processes, 0 or more, or -1 for automatic."""
    try:
        value = int(text)
    except ValueError:
        value = -2
    if value < -1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of processes: give 0 or more, or -1 for automatic"
        )
    return value


def default_jobs(device: str = "", cores: int | None = None) -> int:
    """Notebooks side by side by default: two on a CPU of two cores or more (each image stage
    already uses every core; a second notebook fills the gaps of the first: its start-up, its
    plots, its one-thread phases), one on a GPU, where two image stages at once could run out of
    its memory, and one on a single core."""
    if uses_gpu(device):
        return 1
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 1 if (cores or 1) < 2 else 2


def uses_gpu(device: str) -> bool:
    """Whether the notebooks run on a GPU: ``--device cuda…``, or auto with one visible."""
    if device and device != "auto":
        return not device.startswith("cpu")
    import torch  # only here: the runner itself needs no torch

    return torch.cuda.is_available()


def reproduce_parser(prog: str) -> argparse.ArgumentParser:
    """The command line of ``python -m annokit.reproduce`` (``annokit reproduce``)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Execute the notebooks in order for a profile."
    )
    parser.add_argument(
        "--profile",
        default="demo",
        type=profile_argument,
        help="a shipped profile's name (default: demo) or the path of your own profile file",
    )
    parser.add_argument("--data-root", default="", help="dataset root for the real-data profiles")
    parser.add_argument(
        "--work-dir", default="", help="work folder (default: $ANNOKIT_WORK or <repo>/.work)"
    )
    parser.add_argument("--device", default="", help="auto (default), cpu, cuda, cuda:1 …")
    parser.add_argument(
        "--force",
        action="store_true",
        help="rerun notebooks even when their outputs are up to date",
    )
    parser.add_argument(
        "--jobs",
        type=at_least_one,
        default=None,
        help="notebooks run at once, each as soon as the notebooks whose files it reads have "
        "finished (default: 2 on a CPU of 2 cores or more, 1 on a GPU; 1: one after another in "
        "numbered order)",
    )
    parser.add_argument(
        "--workers",
        type=worker_count,
        default=None,
        help="processes that decode images for the image stages (default: the profile's [loader] "
        "workers; -1: automatic)",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a notebook parameter, checked against the type of its default in the notebooks' "
        "parameters cells (true/false for switches, a,b for lists)",
    )
    parser.add_argument(
        "--gpus",
        type=at_least_one,
        default=None,
        help="GPUs for the image-training stages (notebooks 01, 02): N > 1 trains them under "
        "torchrun with NCCL, the same files as one GPU (default: the notebooks' gpus, 1)",
    )
    add_debug_flag(parser)
    return parser


def chain_parameters(args: argparse.Namespace) -> dict:
    """The notebook parameters the command line sets (each notebook gets those it declares)."""
    parameters = {
        k: v
        for k, v in {
            "data_root": args.data_root,
            "work_dir": args.work_dir,
            "device": args.device,
        }.items()
        if v
    }
    if args.workers is not None:
        parameters["workers"] = args.workers  # only the notebooks that declare it get it
    if args.gpus is not None:
        parameters["gpus"] = args.gpus
    return parameters
