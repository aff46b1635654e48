"""Manifests: what a dataset root and split must contain, and the check of a root against one.

A manifest (``data_manifests/<name>.json``) lists the annotation files (with sha256 and
line counts where known), the expected image counts before and after the split rule, and
the vocabulary sizes. ``verify`` compares a root with it and reports every difference in
one message; it only reads, never deletes or rewrites the user's data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from annokit import paths
from annokit.data.readers import annotation_files, read_dataset, resolve_file
from annokit.data.splits import apply_split_rule
from annokit.data.table import TEST, TRAIN, AnnotationTable

MISSING_POLICIES = ("stop", "skip")


class DatasetMismatchError(RuntimeError):
    """A dataset root does not match its manifest (the message lists every difference)."""


@dataclass(frozen=True)
class Manifest:
    """Expected content of one dataset under one split rule."""

    name: str
    dataset: str
    split_rule: str
    source: str
    files: dict[str, dict]  # relative path -> {"sha256": str | None, "lines": int | None}
    counts: dict[str, int]  # checked exactly: images, official_train, official_test, train, test
    vocabulary: dict[str, int]  # labels, tags
    paper_counts: dict[str, int] = field(default_factory=dict)  # reported by the paper: differences warn


@dataclass
class VerifyReport:
    """Outcome of ``verify``: errors stop a run, warnings are shown, missing images per policy."""

    root: Path
    manifest: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)

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
                "Fix: point data_root at a complete, unmodified copy of the dataset (re-extract the "
                "official archives), or, for the demo, delete the demo folder so it is generated again."
            )
        elif not self.warnings:
            lines.append("  everything matches")
        return "\n".join(lines)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise DatasetMismatchError(self.message())


def manifest_path(name: str) -> Path:
    return paths.manifests_dir() / f"{name}.json"


def load_manifest(name: str) -> Manifest:
    """Read ``data_manifests/<name>.json``."""
    path = manifest_path(name)
    if not path.exists():
        raise FileNotFoundError(f"manifest {path} is missing; available: {sorted(p.stem for p in path.parent.glob('*.json'))}")
    return Manifest(**json.loads(path.read_text()))


def save_manifest(manifest: Manifest, path: Path | None = None) -> Path:
    """Write a manifest as indented JSON (``data_manifests/<name>.json`` by default)."""
    path = path or manifest_path(manifest.name)
    path.write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return path


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


def record_manifest(root: Path, dataset: str, split_rule: str, name: str, source: str,
                    tag_vocab_size: int = 1000, seed: int = 0) -> Manifest:
    """Describe a root as it is now: checksums, line counts, image counts after the rule, vocabularies."""
    root = Path(root)
    files = {}
    for rel in annotation_files(root, dataset):
        path = resolve_file(root, rel)
        entry = {"sha256": sha256_of(path), "lines": count_lines(path) if rel.endswith(".txt") else None}
        files[rel] = entry
    table = read_dataset(dataset, root, tag_vocab_size)
    return Manifest(name=name, dataset=dataset, split_rule=split_rule, source=source, files=files,
                    counts=split_counts(table, apply_split_rule(table, split_rule, seed)),
                    vocabulary={"labels": len(table.label_names), "tags": len(table.tag_names)})


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
            errors.append(f"{path} differs from the manifest (sha256 {sha256_of(path)[:12]}…, expected {expected['sha256'][:12]}…)")
        if expected.get("lines") is not None and path.suffix == ".txt":
            found = count_lines(path)
            if found != expected["lines"]:
                errors.append(f"{path} has {found} lines, expected {expected['lines']}")
    return errors


def check_counts(manifest: Manifest, full: AnnotationTable, split: AnnotationTable) -> tuple[list[str], list[str]]:
    """Errors for counts and vocabulary sizes that differ; warnings for differences from the paper's counts."""
    found = split_counts(full, split)
    errors = [f"{key}: {found[key]} images, expected {want}" for key, want in manifest.counts.items() if found.get(key) != want]
    sizes = {"labels": len(full.label_names), "tags": len(full.tag_names)}
    errors += [f"{key} vocabulary has {sizes[key]} entries, expected {want}" for key, want in manifest.vocabulary.items() if sizes.get(key) != want]
    warnings = [
        f"{key}: {found[key]} images where the paper reports {want} (expected where the paper's copy differs, e.g. dead Flickr links)"
        for key, want in manifest.paper_counts.items() if found.get(key) != want
    ]
    return errors, warnings


def find_missing_images(root: Path, table: AnnotationTable) -> list[str]:
    """Paths of the table whose image file is absent under root."""
    return [p for p in table.paths if not (root / p).is_file()]


def describe_missing(missing: list[str], policy: str) -> str:
    first = ", ".join(missing[:5])
    action = "stopping (pass on_missing='skip' to leave them out)" if policy == "stop" else "left out of the index (on_missing='skip')"
    return f"{len(missing)} image file(s) missing, first: {first}; {action}"


def verify(root: Path, manifest: Manifest, tag_vocab_size: int = 1000, seed: int = 0,
           on_missing: str = "stop") -> tuple[VerifyReport, AnnotationTable | None]:
    """Check a root against a manifest; returns the report and, when readable, the split table."""
    if on_missing not in MISSING_POLICIES:
        raise ValueError(f"on_missing must be one of {MISSING_POLICIES}, not {on_missing!r}")
    root = Path(root)
    report = VerifyReport(root=root, manifest=manifest.name)
    if not root.is_dir():
        report.errors.append(f"the dataset root {root} does not exist")
        return report, None
    report.errors += check_files(root, manifest)
    unrecorded = [rel for rel, e in manifest.files.items() if not e.get("sha256")]
    if unrecorded:
        report.warnings.append(
            f"{len(unrecorded)} annotation file(s) have no checksum in the manifest (they could not be recorded "
            f"without the data); `python -m annokit.data.manifest record` pins your copy"
        )
    try:
        full = read_dataset(manifest.dataset, root, tag_vocab_size)
    except (FileNotFoundError, ValueError) as error:
        report.errors.append(str(error))
        return report, None
    split = apply_split_rule(full, manifest.split_rule, seed)
    errors, warnings = check_counts(manifest, full, split)
    report.errors += errors
    report.warnings += warnings
    report.missing_images = find_missing_images(root, split)
    if report.missing_images:
        (report.errors if on_missing == "stop" else report.warnings).append(describe_missing(report.missing_images, on_missing))
        if on_missing == "skip":
            split = split.subset(~np.isin(split.paths, report.missing_images))
    return report, split


def _main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Verify a dataset root against a manifest, or record a new manifest from a root.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="compare a root with data_manifests/<manifest>.json")
    check.add_argument("manifest")
    check.add_argument("root", type=Path)
    check.add_argument("--on-missing", choices=MISSING_POLICIES, default="stop")
    rec = sub.add_parser("record", help="write a manifest describing a root as it is now")
    rec.add_argument("root", type=Path)
    rec.add_argument("--dataset", choices=("coco2014", "nuswide"), required=True)
    rec.add_argument("--split-rule", choices=("m3", "multi_order"), required=True)
    rec.add_argument("--name", required=True)
    rec.add_argument("--source", default="recorded from a local copy")
    rec.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.command == "verify":
        report, _ = verify(args.root, load_manifest(args.manifest), on_missing=args.on_missing)
        print(report.message())
        raise SystemExit(0 if report.ok else 1)
    manifest = record_manifest(args.root, args.dataset, args.split_rule, args.name, args.source)
    print(f"wrote {save_manifest(manifest, args.out)}")


if __name__ == "__main__":
    _main()
