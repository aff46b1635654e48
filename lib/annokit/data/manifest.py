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
import json
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from annokit import paths
from annokit.data.annotation_table import TEST, TRAIN, AnnotationTable
from annokit.data.image_checks import (
    describe_missing,
    describe_undecodable,
    find_missing_images,
    find_undecodable_images,
)
from annokit.data.readers import LAYOUT_NAMES, annotation_files, check_root, read_dataset, resolve_file
from annokit.data.splits import apply_split_rule

MISSING_POLICIES = ("stop", "skip")
SPLIT_RULES = ("m3", "multi_order")
RECORD = "python -m annokit.data.manifest record"


class DatasetMismatchError(RuntimeError):
    """A dataset root does not match its manifest (the message lists every difference)."""


class ManifestExistsError(FileExistsError, ValueError):
    """Recording a manifest would overwrite an existing file."""


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
    undecodable_images: dict[str, str] = field(default_factory=dict)  # path -> why it cannot be decoded
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
                "Fix: point data_root at a complete, unmodified copy of the dataset (re-extract the "
                "official archives), or, for the demo, delete the demo folder so it is generated again."
            )
        elif not self.warnings:
            lines.append("  everything matches" + (", every image decodes" if self.deep else ""))
        return "\n".join(lines)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise DatasetMismatchError(self.message())


def manifest_path(name: str) -> Path:
    """``data_manifests/<name>.json``."""
    return paths.manifests_dir() / f"{name}.json"


def resolve_manifest(name_or_path: str | Path) -> Path:
    """A committed manifest by name, or the JSON file given by path."""
    text = str(name_or_path)
    if text.endswith(".json") or "/" in text or os.sep in text:
        return Path(text).expanduser()
    return manifest_path(text)


def load_manifest(name_or_path: str | Path) -> Manifest:
    """Read ``data_manifests/<name>.json`` (or a manifest file by path), refusing a malformed or empty one."""
    path = resolve_manifest(name_or_path)
    if not path.is_file():
        available = sorted(p.stem for p in paths.manifests_dir().glob("*.json"))
        raise FileNotFoundError(f"manifest {path} is missing: name one of {', '.join(available)}, or record one with `{RECORD}`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = f"{error.msg}: line {error.lineno} column {error.colno}" if isinstance(error, json.JSONDecodeError) else str(error)
        raise ValueError(f"manifest {path} is not valid JSON ({where}): {restore_advice(path)}") from None
    return manifest_from_dict(data, str(path))


def restore_advice(path: Path) -> str:
    """How to get a manifest back: from git when it is a committed one, else by recording it again."""
    if path.parent.resolve() == paths.manifests_dir().resolve():
        return f"restore the committed file (git checkout -- data_manifests/{path.name}) or record it again with `{RECORD}`"
    return f"fix the file, or record it again with `{RECORD}`"


def manifest_from_dict(data: object, source: str) -> Manifest:
    """A Manifest from parsed JSON, with the fields, their types and a non-empty content checked."""
    if not isinstance(data, dict):
        raise ValueError(f"manifest {source} holds a JSON {type(data).__name__}, not an object: restore it or record it again with `{RECORD}`")
    known = {f.name: f for f in fields(Manifest)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"manifest {source} has unknown field(s) {', '.join(unknown)}: remove or rename them "
                         f"(known fields: {', '.join(known)})")
    missing = [name for name, f in known.items() if f.default is MISSING and f.default_factory is MISSING and name not in data]
    if missing:
        raise ValueError(f"manifest {source} lacks the field(s) {', '.join(missing)}: restore it or record it again with `{RECORD}`")
    problems = field_problems(data)
    if problems:
        raise ValueError(f"manifest {source}: {'; '.join(problems)}; restore it or record it again with `{RECORD}`")
    manifest = Manifest(**data)
    check_not_empty(manifest, source)
    return manifest


def field_problems(data: dict) -> list[str]:
    """What is wrong with the values of a manifest's fields (empty when nothing)."""
    problems = [f"{key} must be a string" for key in ("name", "source") if not isinstance(data[key], str)]
    for key, choices in (("dataset", tuple(LAYOUT_NAMES)), ("split_rule", SPLIT_RULES)):
        if data[key] not in choices:
            problems.append(f"{key} {data[key]!r} must be one of {', '.join(choices)}")
    if not isinstance(data["files"], dict) or not all(isinstance(v, dict) for v in data["files"].values()):
        problems.append('files must map each relative path to {"sha256": ..., "lines": ...}')
    for key in ("counts", "vocabulary", "paper_counts"):
        value = data.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, int) for v in value.values()):
            problems.append(f"{key} must map names to whole numbers")
    return problems


def check_not_empty(manifest: Manifest, source: str) -> None:
    """Refuse a manifest that lists no annotation file and no count: it would accept any folder."""
    if not manifest.files and not manifest.counts:
        raise ValueError(f"manifest {source} lists no annotation files and no image counts, so it cannot check anything: "
                         f"restore it, or record one from your copy with `{RECORD} <root> --name {manifest.name} ...`")


def save_manifest(manifest: Manifest, path: Path | None = None, force: bool = False) -> Path:
    """Write a manifest as indented JSON (``data_manifests/<name>.json`` by default), never over a file unless forced."""
    path = Path(path or manifest_path(manifest.name))
    refuse_overwrite(path, force)
    path.write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return path


def refuse_overwrite(path: Path, force: bool) -> None:
    """Raise when ``path`` exists and overwriting it was not asked for."""
    if path.exists() and not force:
        raise ManifestExistsError(f"manifest {path} exists already: pass --force (force=True) to overwrite it, "
                                  f"or choose another --name or --out")


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
    check_root(root, dataset, f"`record --dataset {dataset}`")
    absent = [str(resolve_file(root, rel)) for rel in annotation_files(root, dataset) if not resolve_file(root, rel).is_file()]
    if absent:
        raise FileNotFoundError(f"cannot record {root}: {len(absent)} annotation file(s) missing, first {', '.join(absent[:3])}; "
                                f"unpack the official annotation archives there first")
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


def verify(root: Path, manifest: Manifest, tag_vocab_size: int = 1000, seed: int = 0,
           on_missing: str = "stop", deep: bool = False, progress: bool = True) -> tuple[VerifyReport, AnnotationTable | None]:
    """Check a root against a manifest; returns the report and, when readable, the split table.

    ``deep`` decodes every image of the split (missing and undecodable ones follow ``on_missing``). A root that
    is absent, a file, or holds the other dataset's layout raises at once instead.
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
    """``python -m annokit.data.manifest verify|record``: exit 0 when the root matches, 1 with the report when not."""
    import argparse

    from annokit.cli import add_debug_flag

    parser = argparse.ArgumentParser(prog="python -m annokit.data.manifest",
                                     description="Verify a dataset root against a manifest, or record a new manifest from a root.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="compare a root with data_manifests/<manifest>.json")
    check.add_argument("manifest")
    check.add_argument("root", type=Path)
    check.add_argument("--on-missing", choices=MISSING_POLICIES, default="stop",
                       help="missing (and, with --deep, undecodable) images: stop, or skip them")
    check.add_argument("--deep", action="store_true", help="also decode every image (finds truncated or corrupt files)")
    rec = sub.add_parser("record", help="write a manifest describing a root as it is now")
    rec.add_argument("root", type=Path)
    rec.add_argument("--dataset", choices=("coco2014", "nuswide"), required=True)
    rec.add_argument("--split-rule", choices=SPLIT_RULES, required=True)
    rec.add_argument("--name", required=True)
    rec.add_argument("--source", default="recorded from a local copy")
    rec.add_argument("--out", type=Path, default=None)
    rec.add_argument("--force", action="store_true", help="overwrite the manifest file when it exists")
    for command in (check, rec):
        add_debug_flag(command)
    args = parser.parse_args(argv)
    if args.command == "verify":
        report, _ = verify(args.root, load_manifest(args.manifest), on_missing=args.on_missing, deep=args.deep)
        print(report.message())
        return 0 if report.ok else 1
    refuse_overwrite(args.out or manifest_path(args.name), args.force)
    manifest = record_manifest(args.root, args.dataset, args.split_rule, args.name, args.source)
    print(f"wrote {save_manifest(manifest, args.out, force=args.force)}")
    return 0


if __name__ == "__main__":
    from annokit.cli import run_cli

    run_cli(main, prog="python -m annokit.data.manifest")
