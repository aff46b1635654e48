"""Manifests: what a dataset root and split must contain, and the check of a root against one.

A manifest (``data_manifests/<name>.json``) lists the annotation files (with sha256 and
line counts where known), the expected image counts before and after the split rule, and
the vocabulary sizes. ``verify`` compares a root with it and reports every difference in
one message (with ``deep``, also every image that does not decode); it only reads, never
deletes or rewrites the user's data. ``python -m annokit.data.manifest verify|record`` runs
either from the command line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annokit.data.annotation_table import TEST, TRAIN, AnnotationTable
from annokit.data.csv_layout import DEFAULT_DELIMITER, DEFAULT_TEST_SHARE, LABELS_CSV, CsvLayout
from annokit.data.image_checks import (
    describe_missing,
    describe_undecodable,
    find_missing_images,
    find_undecodable_images,
)
from annokit.data.manifest_file import (
    SPLIT_RULES,
    Manifest,
    check_not_empty,
    load_manifest,
    manifest_path,
    refuse_overwrite,
    save_manifest,
)
from annokit.data.readers import (
    LAYOUT_NAMES,
    annotation_files,
    check_root,
    layout_entry,
    read_dataset,
    recorded_layout,
    resolve_file,
)
from annokit.data.splits import apply_split_rule

MISSING_POLICIES = ("stop", "skip")


class DatasetMismatchError(RuntimeError):
    """A dataset root does not match its manifest (the message lists every difference)."""


@dataclass
class VerifyReport:
    """Outcome of ``verify``: errors stop a run, warnings are shown, missing images per policy."""

    root: Path
    manifest: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)
    # path -> why it cannot be decoded
    undecodable_images: dict[str, str] = field(default_factory=dict)
    deep: bool = False  # whether every image was decoded

    @property
    def ok(self) -> bool:
        return not self.errors

    def message(self) -> str:
        """One readable message naming every problem and the fix."""
        lines = [f"Dataset root {self.root} checked against data_manifests/{self.manifest}.json:"]
        lines += [f"  ERROR   {e}" for e in self.errors]
        lines += [f"  warning {w}" for w in self.warnings]
        if self.errors:
            lines.append(
                "Fix: point data_root at a complete, unmodified copy of the dataset (re-extract "
                "the official archives), or, for the demo, delete the demo folder so it is "
                "generated again."
            )
        elif not self.warnings:
            lines.append("  everything matches" + (", every image decodes" if self.deep else ""))
        return "\n".join(lines)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise DatasetMismatchError(self.message())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def count_lines(path: Path) -> int:
    """Non-empty lines of a text file (real NUS-WIDE files may end with a blank line)."""
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def record_manifest(
    root: Path,
    dataset: str,
    split_rule: str,
    name: str,
    source: str,
    tag_vocab_size: int = 1000,
    seed: int = 0,
) -> Manifest:
    """Describe a root as it is now: checksums, line counts, image
    counts after the rule, vocabularies."""
    return record_layout(
        root, dataset, split_rule, (name, source), CsvLayout(), tag_vocab_size, seed
    )


def record_layout(
    root: Path,
    dataset: str,
    split_rule: str,
    header: tuple[str, str],
    layout: CsvLayout,
    tag_vocab_size: int = 1000,
    seed: int = 0,
) -> Manifest:
    """``record_manifest`` with its name and source as ``header``; a folder + CSV root is read as
    ``layout`` says, which its ``labels.csv`` entry records (a COCO JSON root: its test share)."""
    root = Path(root)
    check_root(root, dataset, f"`record --dataset {dataset}`")
    absent = [
        str(resolve_file(root, rel))
        for rel in annotation_files(root, dataset)
        if not resolve_file(root, rel).is_file()
    ]
    if absent:
        raise FileNotFoundError(
            f"cannot record {root}: {len(absent)} annotation file(s) missing, first "
            f"{', '.join(absent[:3])}; unpack the official annotation archives there first"
        )
    files = {}
    for rel in annotation_files(root, dataset):
        path = resolve_file(root, rel)
        entry = {
            "sha256": sha256_of(path),
            "lines": count_lines(path) if rel.endswith(".txt") else None,
        }
        files[rel] = {**entry, **layout_entry(dataset, layout)}
    table = read_dataset(dataset, root, tag_vocab_size, layout)
    return Manifest(
        name=header[0],
        dataset=dataset,
        split_rule=split_rule,
        source=header[1],
        files=files,
        counts=split_counts(table, apply_split_rule(table, split_rule, seed, layout.test_share)),
        vocabulary={"labels": len(table.label_names), "tags": len(table.tag_names)},
    )


def split_counts(full: AnnotationTable, split: AnnotationTable) -> dict[str, int]:
    """Image counts of a dataset before and after its split rule."""
    return {
        "images": len(full),
        "official_train": int((full.official_split == TRAIN).sum()),
        "official_test": int((full.official_split == TEST).sum()),
        "train": int((split.official_split == TRAIN).sum()),
        "test": int((split.official_split == TEST).sum()),
    }


def check_files(root: Path, manifest: Manifest) -> list[str]:
    """Errors for annotation files that are missing or differ from the manifest."""
    errors = []
    for rel, expected in manifest.files.items():
        path = resolve_file(root, rel)
        if not path.exists():
            errors.append(f"missing file {path}")
            continue
        if expected.get("sha256") and sha256_of(path) != expected["sha256"]:
            errors.append(
                f"{path} differs from the manifest (sha256 {sha256_of(path)[:12]}…, expected "
                f"{expected['sha256'][:12]}…)"
            )
        if expected.get("lines") is not None and path.suffix == ".txt":
            found = count_lines(path)
            if found != expected["lines"]:
                errors.append(f"{path} has {found} lines, expected {expected['lines']}")
    return errors


def check_counts(
    manifest: Manifest, full: AnnotationTable, split: AnnotationTable
) -> tuple[list[str], list[str]]:
    """Errors for counts and vocabulary sizes that differ; warnings for
    differences from the paper's counts."""
    found = split_counts(full, split)
    errors = [
        f"{key}: {found[key]} images, expected {want}"
        for key, want in manifest.counts.items()
        if found.get(key) != want
    ]
    sizes = {"labels": len(full.label_names), "tags": len(full.tag_names)}
    errors += [
        f"{key} vocabulary has {sizes[key]} entries, expected {want}"
        for key, want in manifest.vocabulary.items()
        if sizes.get(key) != want
    ]
    warnings = [
        f"{key}: {found[key]} images where the paper reports {want} (expected where the paper's "
        "copy differs, e.g. dead Flickr links)"
        for key, want in manifest.paper_counts.items()
        if found.get(key) != want
    ]
    return errors, warnings


def verify(
    root: Path,
    manifest: Manifest,
    tag_vocab_size: int = 1000,
    seed: int = 0,
    on_missing: str = "stop",
    deep: bool = False,
    progress: bool = True,
) -> tuple[VerifyReport, AnnotationTable | None]:
    """Check a root against a manifest; returns the report and, when readable, the split table.

    ``deep`` decodes every image of the split (missing and undecodable ones follow ``on_missing``).
    A root that is absent, a file, or holds the other dataset's layout raises at once instead.
    """
    if on_missing not in MISSING_POLICIES:
        raise ValueError(f"on_missing must be one of {MISSING_POLICIES}, not {on_missing!r}")
    check_not_empty(manifest, f"'{manifest.name}'")
    root = Path(root)
    check_root(root, manifest.dataset, f"manifest {manifest.name}")
    report = VerifyReport(root=root, manifest=manifest.name, deep=deep)
    report.errors += check_files(root, manifest)
    unrecorded = [rel for rel, e in manifest.files.items() if not e.get("sha256")]
    if unrecorded:
        report.warnings.append(
            f"{len(unrecorded)} annotation file(s) have no checksum in the manifest (they could "
            "not be recorded without the data); `python -m annokit.data.manifest record` pins "
            "your copy"
        )
    try:
        layout = recorded_layout(manifest.files)
        full = read_dataset(manifest.dataset, root, tag_vocab_size, layout)
        split = apply_split_rule(full, manifest.split_rule, seed, layout.test_share)
    except (FileNotFoundError, ValueError) as error:
        report.errors.append(str(error))
        return report, None
    errors, warnings = check_counts(manifest, full, split)
    report.errors += errors
    report.warnings += warnings
    report.missing_images = find_missing_images(root, split)
    problems = report.errors if on_missing == "stop" else report.warnings
    if report.missing_images:
        problems.append(describe_missing(report.missing_images, on_missing))
    if deep:
        absent = set(report.missing_images)
        present = [p for p in split.paths if p not in absent]
        report.undecodable_images = find_undecodable_images(root, present, progress)
        if report.undecodable_images:
            problems.append(describe_undecodable(report.undecodable_images, on_missing))
    dropped = report.missing_images + list(report.undecodable_images)
    if on_missing == "skip" and dropped:
        split = split.subset(~np.isin(split.paths, dropped))
    return report, split


def main(argv: list[str] | None = None) -> int:
    """``python -m annokit.data.manifest verify|record``: exit 0 when the root
    matches, 1 with the report when not."""
    import argparse

    from annokit.cli import add_debug_flag, called_as

    parser = argparse.ArgumentParser(
        prog=called_as("python -m annokit.data.manifest"),
        description="Verify a dataset root against a manifest, or record a new manifest from a "
        "root.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="compare a root with data_manifests/<manifest>.json")
    check.add_argument("manifest")
    check.add_argument("root", type=Path)
    check.add_argument(
        "--on-missing",
        choices=MISSING_POLICIES,
        default="stop",
        help="missing (and, with --deep, undecodable) images: stop, or skip them",
    )
    check.add_argument(
        "--deep",
        action="store_true",
        help="also decode every image (finds truncated or corrupt files)",
    )
    rec = sub.add_parser("record", help="write a manifest describing a root as it is now")
    rec.add_argument("root", type=Path)
    rec.add_argument("--dataset", choices=tuple(LAYOUT_NAMES), required=True)
    rec.add_argument("--split-rule", choices=SPLIT_RULES, required=True)
    rec.add_argument("--name", required=True)
    rec.add_argument("--source", default="recorded from a local copy")
    rec.add_argument("--out", type=Path, default=None)
    rec.add_argument(
        "--label-delimiter",
        default=DEFAULT_DELIMITER,
        help=f"csv: what joins an image's labels (and tags) in {LABELS_CSV} (default: a space)",
    )
    rec.add_argument(
        "--test-share",
        type=float,
        default=DEFAULT_TEST_SHARE,
        help=f"csv, cocojson, split rule ratio: the share for test (default {DEFAULT_TEST_SHARE})",
    )
    rec.add_argument(
        "--force", action="store_true", help="overwrite the manifest file when it exists"
    )
    for command in (check, rec):
        add_debug_flag(command)
    args = parser.parse_args(argv)
    if args.command == "verify":
        report, _ = verify(
            args.root, load_manifest(args.manifest), on_missing=args.on_missing, deep=args.deep
        )
        print(report.message())
        return 0 if report.ok else 1
    refuse_overwrite(args.out or manifest_path(args.name), args.force)
    layout = CsvLayout(args.label_delimiter, args.test_share)
    header = (args.name, args.source)
    manifest = record_layout(args.root, args.dataset, args.split_rule, header, layout)
    print(f"wrote {save_manifest(manifest, args.out, force=args.force)}")
    return 0


if __name__ == "__main__":
    from annokit.cli import run_cli

    run_cli(main, prog="python -m annokit.data.manifest")
