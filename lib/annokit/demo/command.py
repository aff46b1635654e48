"""The demo generator's command line: ``python -m annokit.demo --root DIR``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from annokit.cli import add_debug_flag, called_as
from annokit.demo.generate import LAYOUTS, MARKER, generate_demo, is_complete, summary
from annokit.demo.truth import TRUTH_ARRAYS, TRUTH_STRINGS, DemoConfig


def main(argv: list[str] | None = None) -> None:
    """Command line: generate (or reuse) the demo under --root and print what is there."""
    parser = argparse.ArgumentParser(
        prog=called_as("python -m annokit.demo"),
        description="Generate the synthetic demo dataset in the COCO 2014 and NUS-WIDE layouts.",
    )
    defaults = DemoConfig()
    parser.add_argument(
        "--root", type=Path, required=True, help="folder to write coco/ and nuswide/ into"
    )
    parser.add_argument("--n-train", type=int, default=defaults.n_train)
    parser.add_argument("--n-test", type=int, default=defaults.n_test)
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace whatever coco/ and nuswide/ hold"
    )
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    config = DemoConfig(args.n_train, args.n_test, args.image_size, args.seed)
    reused = is_complete(args.root, config) and not args.overwrite
    start = time.perf_counter()
    truth = generate_demo(args.root, config, overwrite=args.overwrite)
    seconds = time.perf_counter() - start
    state = "already there, not regenerated" if reused else f"written in {seconds:.1f} s"
    print(f"demo {config}: {state}")
    for name in LAYOUTS:
        print(f"  {args.root / name}")
    print(f"  {args.root / TRUTH_ARRAYS}, {args.root / TRUTH_STRINGS}, {args.root / MARKER}")
    print("  " + summary(truth).replace("\n", "\n  "))
