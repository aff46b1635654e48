"""``annokit viewer``: a run's annotation gallery as one HTML file, without Jupyter.

The same panels as notebook 10's static gallery: a seeded sample of test images, every model at
its own decision rule, the images embedded, so the file opens in any web browser.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    """Write the gallery of ``--profile``'s run and print where it is."""
    from annokit.artifacts.run import open_run
    from annokit.cli import add_debug_flag
    from annokit.viewer.browse import Browser
    from annokit.viewer.html import write_gallery
    from annokit.viewer.store import ViewerData

    parser = argparse.ArgumentParser(prog="annokit viewer", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", help="the run's profile (default: demo)")
    parser.add_argument("--work-dir", default="", help="the work folder (default: .work)")
    parser.add_argument("--out", type=Path, help="the HTML file (default: the run's figures/)")
    parser.add_argument("--size", type=positive, default=24, help="images in the gallery")
    parser.add_argument("--seed", type=int, default=0, help="which sample of test images")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    run = open_run(args.profile, work_dir=args.work_dir)
    out = args.out or run.results / "figures" / "annotation_gallery.html"
    gallery = write_gallery(Browser(ViewerData.from_run(run)), out, size=args.size, seed=args.seed)
    print(f"{gallery} ({gallery.stat().st_size / 1e6:.1f} MB)")
    return 0


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
