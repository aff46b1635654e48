"""Data preparation for a profile: generate the demo data if needed,
verify, write the prepared index."""

from __future__ import annotations

import argparse
import dataclasses
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from annokit import paths
from annokit.cli import add_debug_flag, called_as, run_cli
from annokit.data.index import IndexOptions, PreparedIndex, build_index
from annokit.data.manifest_file import Manifest, load_manifest
from annokit.profile import Profile, load_profile
from annokit.profile.load import profile_argument

DEMO_PROFILES = ("demo", "demo-coco", "demo-multi-order", "demo-coco-multi-order")


@dataclass(frozen=True)
class Prepared:
    """What preparing a profile produced."""

    profile: Profile
    data_root: Path
    index_dir: Path
    index: PreparedIndex
    rebuilt: bool

    def summary(self) -> str:
        """One line: profile, split counts, vocabularies and what happened to the index."""
        counts = self.index.meta["counts"]
        state = "written" if self.rebuilt else "up to date, reused"
        if self.rebuilt and self.index.meta.get("deep_checked"):
            state += ", every image decoded"
        return (
            f"{self.profile.name}: {self.profile.dataset} / {self.profile.split_rule} split, "
            f"{counts['train']} train + {counts['test']} test images, "
            f"{len(self.index.label_names)} labels, {len(self.index.tag_names)} tags; index "
            f"{state} at {self.index_dir}"
        )


def index_dir(profile: Profile, work_dir: Path | None = None) -> Path:
    """Where a profile's prepared index lives."""
    return profile.run_dir(work_dir) / "index"


def ensure_demo_data(profile: Profile) -> Path:
    """Generate the demo dataset (all layouts) for a demo profile unless it is already there."""
    from annokit.demo import DemoConfig, generate_demo

    root = profile.resolved_data_root()
    generate_demo(root.parent, DemoConfig(**dataclasses.asdict(profile.demo)))
    return root


def prepare(
    profile: Profile,
    work_dir: Path | None = None,
    on_missing: str = "stop",
    force: bool = False,
    manifest: Manifest | None = None,
    deep: bool | None = None,
) -> Prepared:
    """Verify the profile's data root against its manifest and write (or reuse) its prepared index.

    ``deep`` decodes every image while verifying; by default only on the demo profiles
    (seconds there, hours on real data). ``work_dir`` moves everything under the work folder: the
    index and the generated demo data.
    """
    with paths.working_in(work_dir) if work_dir else nullcontext():
        return _prepare(profile, work_dir, on_missing, force, manifest, deep)


def _prepare(
    profile: Profile,
    work_dir: Path | None,
    on_missing: str,
    force: bool,
    manifest: Manifest | None,
    deep: bool | None,
) -> Prepared:
    """``prepare`` with the work folder in place."""
    root = (
        ensure_demo_data(profile)
        if profile.is_demo and profile.data_root is None
        else profile.resolved_data_root()
    )
    folder = index_dir(profile, work_dir)
    index, rebuilt = build_index(
        folder,
        root,
        manifest or load_manifest(profile.manifest),
        profile=profile.name,
        options=IndexOptions(
            profile.tag_vocab_size, profile.seed, deep=profile.is_demo if deep is None else deep
        ),
        on_missing=on_missing,
        force=force,
    )
    return Prepared(profile=profile, data_root=root, index_dir=folder, index=index, rebuilt=rebuilt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=called_as("python -m annokit.prepare"),
        description="Verify a dataset against its manifest and write the prepared index.",
    )
    parser.add_argument(
        "--profile",
        action="append",
        type=profile_argument,
        help="profile(s) to prepare: a shipped profile's name or the path of your own profile "
        "file (mine.toml); default: the four demo profiles",
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="dataset root (real-data profiles); relative: from the current folder",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help=f"work folder: index, demo data, weights (default {paths.work_dir()})",
    )
    parser.add_argument(
        "--on-missing",
        choices=("stop", "skip"),
        default="stop",
        help="missing (and, with --deep, undecodable) images: stop, or leave them out of the index",
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild the index even when it is up to date"
    )
    parser.add_argument(
        "--deep",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="decode every image to find truncated or corrupt files (default: on for the demo "
        "profiles only)",
    )
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    for name in args.profile or DEMO_PROFILES:
        prepared = prepare(
            load_profile(name, data_root=args.data_root and args.data_root.resolve()),
            args.work_dir and args.work_dir.expanduser().resolve(),
            args.on_missing,
            args.force,
            deep=args.deep,
        )
        print(prepared.summary())
        for warning in prepared.index.meta.get("warnings", []):
            print(f"  warning: {warning}")
    return 0


if __name__ == "__main__":
    run_cli(main, prog="python -m annokit.prepare")
