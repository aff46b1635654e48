"""The ``annokit`` command: one entry point for the kit's tools, ``annokit SUBCOMMAND ...``.

Each subcommand is the tool's own command line (``python -m annokit.<module>`` keeps working):
its options, its one-line errors, its exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from annokit import __version__


@dataclass(frozen=True)
class Subcommand:
    """Where a subcommand's ``main(argv)`` lives, the arguments put before the user's, its help."""

    module: str
    help: str
    prefix: tuple[str, ...] = ()  # a subcommand of the tool's own parser (``verify``)
    function: str = "main"

    def main(self) -> Callable[[Sequence[str] | None], int | None]:
        """The tool's ``main``, imported only when it runs (the others stay unloaded)."""
        return getattr(importlib.import_module(self.module), self.function)


SUBCOMMANDS = {
    "reproduce": Subcommand("annokit.reproduce", "run the notebook chain of a profile"),
    "prepare": Subcommand("annokit.prepare", "verify a dataset and build a profile's index"),
    "verify": Subcommand(
        "annokit.data.manifest", "check a dataset root against its manifest", ("verify",)
    ),
    "manifest": Subcommand("annokit.data.manifest", "verify a root, or record a new manifest"),
    "profile": Subcommand(
        "annokit.profile.__main__", "check, show or write the schema of profiles"
    ),
    "demo": Subcommand("annokit.demo.command", "write the synthetic demo dataset"),
    "bench": Subcommand("annokit.bench.__main__", "measure loaders and models, project GPU hours"),
    "viewer": Subcommand(
        "annokit.viewer.static_gallery", "write a run's annotation gallery (HTML)"
    ),
    "annotate": Subcommand(
        "annokit.annotate.__main__", "annotate new images with a finished run's model"
    ),
}


def parser() -> argparse.ArgumentParser:
    """``annokit --help``: the subcommands, one line each."""
    out = argparse.ArgumentParser(
        prog="annokit",
        description="Reproduction kit for large-scale multi-label image annotation.",
        epilog="annokit SUBCOMMAND --help shows a subcommand's options.",
    )
    out.add_argument("--version", action="version", version=f"annokit {__version__}")
    names = out.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    for name, sub in SUBCOMMANDS.items():
        names.add_parser(name, help=sub.help, add_help=False)
    return out


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Dispatch ``annokit NAME ARGS`` to the tool's own command line."""
    from annokit.cli import call_as, run_cli

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUBCOMMANDS:
        parser().parse_args(argv)  # --help, --version, or the error naming the choices
        sys.exit(2)  # not reached: a missing or unknown subcommand is an argparse error
    sub = SUBCOMMANDS[argv[0]]
    call_as("annokit" if sub.prefix else f"annokit {argv[0]}")  # argparse adds the prefix itself
    run_cli(sub.main(), [*sub.prefix, *argv[1:]], prog=f"annokit {argv[0]}")


if __name__ == "__main__":
    main()
