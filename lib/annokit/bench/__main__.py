"""``python -m annokit.bench``: images/s of the loaders and the models on this machine, and
hours per paper profile, notebook by notebook.

python -m annokit.bench --quick --device cpu --json out.json python -m annokit.bench --backbone
resnet101 --image-size 224 --device cuda --json results/bench/bench.json python -m annokit.bench
--device cuda --compile-modes off,default,reduce-overhead
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from annokit.bench.measure import BenchOptions, run_bench
from annokit.bench.printout import render
from annokit.cli import add_debug_flag, called_as, run_cli
from annokit.profile.compile_modes import COMPILE_MODES
from annokit.profile.sections import AMP_SETTINGS, BACKBONES


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (0 is not "the default")."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of at least 1 (leave the option out for the default)"
        )
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def worker_count(text: str) -> int:
    """An argparse type: loader processes, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of processes: give 0 or more (leave the option out for "
            "the [loader] rule)"
        )
    return value


def compile_mode_list(text: str) -> tuple[str, ...]:
    """An argparse type: torch.compile modes, comma-separated (``off,default``), each known once."""
    modes = tuple(dict.fromkeys(mode.strip() for mode in text.split(",") if mode.strip()))
    unknown = [mode for mode in modes if mode not in COMPILE_MODES]
    if unknown or not modes:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of compile modes: give some of {','.join(COMPILE_MODES)}, "
            "comma-separated"
        )
    return modes


def add_compile_options(parser: argparse.ArgumentParser) -> None:
    """--compile [MODE] / --no-compile: the mode of the five rates; --compile-modes: the modes
    measured side by side."""
    parser.add_argument(
        "--compile",
        nargs="?",
        const="default",
        choices=COMPILE_MODES,
        default=None,
        help="torch.compile mode of the five rates and the projection (alone: default; "
        "default: the nuswide-m3 [precision] compile)",
    )
    parser.add_argument(
        "--no-compile", dest="compile", action="store_const", const="off", help="--compile off"
    )
    parser.add_argument(
        "--compile-modes",
        type=compile_mode_list,
        default=(),
        metavar="MODES",
        help="modes whose CNN, MS-CNN, extraction and decoder-stack rates are measured side by "
        f"side, comma-separated, of {','.join(COMPILE_MODES)} (default: the --compile mode alone)",
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=called_as("python -m annokit.bench"), description=__doc__.splitlines()[0].strip("`")
    )
    parser.add_argument("--backbone", default="resnet101", choices=BACKBONES)
    parser.add_argument("--image-size", type=positive_int, default=224)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--workers",
        type=worker_count,
        default=None,
        help="loader processes (default: the [loader] rule: none on the CPU)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="loader and training batch (default: [cnn] batch_size; training steps with --quick on "
        "the CPU: 2)",
    )
    parser.add_argument(
        "--inference-batch",
        type=positive_int,
        default=None,
        help="inference batch (default: 128; --quick on the CPU: 4)",
    )
    parser.add_argument(
        "--images",
        type=positive_int,
        default=None,
        help="images for the loader rates (default: 512; --quick: 64)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short timings: within 3 minutes on a 2-core CPU"
    )
    parser.add_argument(
        "--seconds",
        type=positive_float,
        default=None,
        help="least seconds each rate is timed (default: 3 with --quick, else 10 a loader)",
    )
    parser.add_argument(
        "--amp",
        choices=AMP_SETTINGS,
        default=None,
        help="autocast on CUDA (default: the nuswide-m3 [precision])",
    )
    parser.add_argument(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="deterministic algorithms, as training runs (default); --no-deterministic shows their "
        "cost",
    )
    add_compile_options(parser)
    parser.add_argument(
        "--profile",
        default="",
        help="a prepared profile whose training images replace the synthetic JPEGs",
    )
    parser.add_argument("--data-root", default="")
    parser.add_argument("--work-dir", default="")
    parser.add_argument(
        "--folder",
        type=Path,
        default=None,
        help="keep the JPEGs and the cache here (default: a temporary folder)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="write the results to this JSON file"
    )
    add_debug_flag(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    options = BenchOptions(
        **{k: v for k, v in vars(args).items() if k in {f.name for f in fields(BenchOptions)}}
    )
    result = run_bench(options)
    print(render(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    run_cli(main, prog="python -m annokit.bench")
