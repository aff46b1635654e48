"""The prepared index: one row per image of a profile's split, written once and reused.

Stored in the run's work folder as ``index.parquet`` (image id, path, split, label and tag
indices), ``vocab.json`` (label and tag names) and ``meta.json`` (what made it). It is
rebuilt only when its fingerprint (annotation files' checksums, the manifest's content, the
size and modification time of every file in the image folders, split rule, seed, vocabulary
size, data root, format version) changes, or when a deep check (every image decoded) is asked
of an index built without one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import annokit
from annokit.data.annotation_table import TEST, TRAIN, AnnotationTable
from annokit.data.manifest import sha256_of, verify
from annokit.data.manifest_file import Manifest
from annokit.data.readers import IMAGE_FOLDERS, check_root, resolve_file

INDEX_FORMAT = 2
FILES = ("index.parquet", "vocab.json", "meta.json")


@dataclass(frozen=True)
class PreparedIndex:
    """A split as the later stages see it: rows, vocabularies and the record of what made it."""

    frame: pd.DataFrame
    label_names: tuple[str, ...]
    tag_names: tuple[str, ...]
    meta: dict

    def rows(self, split: str | None = None) -> np.ndarray:
        """Row numbers of one split ("train" / "test"), or all rows."""
        if split is None:
            return np.arange(len(self.frame))
        return np.flatnonzero(self.frame["split"].to_numpy() == split)

    def label_matrix(self, split: str | None = None) -> np.ndarray:
        """Boolean (N, C) multi-hot labels of a split."""
        return _multi_hot(self.frame["labels"].to_numpy()[self.rows(split)], len(self.label_names))

    def tag_matrix(self, split: str | None = None) -> np.ndarray:
        """Boolean (N, T) multi-hot tags of a split."""
        return _multi_hot(self.frame["tags"].to_numpy()[self.rows(split)], len(self.tag_names))


def _multi_hot(index_lists: np.ndarray, width: int) -> np.ndarray:
    matrix = np.zeros((len(index_lists), width), dtype=bool)
    lengths = np.fromiter((len(v) for v in index_lists), dtype=np.int64, count=len(index_lists))
    if lengths.sum():
        matrix[
            np.repeat(np.arange(len(index_lists)), lengths),
            np.concatenate([np.asarray(v, dtype=np.int64) for v in index_lists]),
        ] = True
    return matrix


def fingerprint(
    root: Path, manifest: Manifest, tag_vocab_size: int, seed: int, on_missing: str
) -> str:
    """A digest of everything the index depends on, image files
    included (one stat each, no reading)."""
    inputs = {
        "format": INDEX_FORMAT,
        "dataset": manifest.dataset,
        "split_rule": manifest.split_rule,
        "manifest": manifest.name,
        "manifest_content": asdict(manifest),
        "images": image_state(root, manifest.dataset),
        "root": str(Path(root).resolve()),
        "tag_vocab_size": tag_vocab_size,
        "seed": seed,
        "on_missing": on_missing,
        "files": {
            rel: sha256_of(resolve_file(root, rel))
            for rel in sorted(manifest.files)
            if resolve_file(root, rel).exists()
        },
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def image_state(root: Path, dataset: str) -> dict[str, int | str]:
    """Count and digest of (path, size, modification time) of every file
    under the dataset's image folders."""
    entries = sorted(
        entry
        for folder in IMAGE_FOLDERS[dataset]
        for entry in stat_tree(Path(root) / folder, folder)
    )
    digest = hashlib.sha256(
        "\n".join(f"{rel}\t{size}\t{mtime}" for rel, size, mtime in entries).encode()
    )
    return {"files": len(entries), "sha256": digest.hexdigest()}


def stat_tree(folder: Path, prefix: str) -> list[tuple[str, int, int]]:
    """(path under prefix, size, mtime in ns) of every file below ``folder``,
    links followed, each folder once."""
    out: list[tuple[str, int, int]] = []
    stack, seen = [(folder, prefix)], set()
    while stack:
        current, rel = stack.pop()
        try:
            info = current.stat()
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.is_dir():
                        stack.append((Path(entry.path), f"{rel}/{entry.name}"))
                    else:
                        out.append((f"{rel}/{entry.name}", *_size_and_mtime(entry)))
        except (FileNotFoundError, NotADirectoryError):
            continue  # an absent image folder: verify reports the images it should hold
    return out


def _size_and_mtime(entry: os.DirEntry) -> tuple[int, int]:
    """Size and modification time (ns) of a directory entry; (-1, -1) for a dangling link."""
    try:
        info = entry.stat()
    except OSError:
        return -1, -1
    return info.st_size, info.st_mtime_ns


def table_to_frame(table: AnnotationTable) -> pd.DataFrame:
    """Columnar rows: label and tag matrices stored as lists of indices."""
    return pd.DataFrame(
        {
            "image_id": table.image_ids.astype(str),
            "path": table.paths.astype(str),
            "split": table.official_split.astype(str),
            "labels": [np.flatnonzero(row).astype(np.int16) for row in table.labels],
            "tags": [np.flatnonzero(row).astype(np.int16) for row in table.tags],
        }
    )


def load_index(folder: Path) -> PreparedIndex:
    """Read a prepared index folder; a missing or unreadable one gets
    an error saying how to rebuild it."""
    folder = Path(folder)
    missing = [name for name in FILES if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"prepared index in {folder} lacks {', '.join(missing)}: run notebook 00_data_prep "
            f"(or `python -m annokit.prepare --profile <name>`) to build it"
        )
    try:
        frame = pd.read_parquet(folder / "index.parquet")
        vocab = json.loads((folder / "vocab.json").read_text())
        meta = json.loads((folder / "meta.json").read_text())
        return PreparedIndex(
            frame=frame,
            label_names=tuple(vocab["labels"]),
            tag_names=tuple(vocab["tags"]),
            meta=dict(meta),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RuntimeError(
            f"prepared index in {folder} is unreadable ({error!r}); delete the folder and prepare "
            "it again"
        ) from error


@dataclass(frozen=True)
class IndexOptions:
    """How ``build_index`` draws the rows and checks the images: the tag vocabulary's size and the
    split's seed (both part of the fingerprint), and whether verifying decodes every image."""

    tag_vocab_size: int = 1000
    seed: int = 0
    deep: bool = False  # decode every image while verifying
    progress: bool = True  # show a progress bar while decoding


def build_index(
    folder: Path,
    root: Path,
    manifest: Manifest,
    *,
    profile: str,
    options: IndexOptions = IndexOptions(),
    on_missing: str = "stop",
    force: bool = False,
) -> tuple[PreparedIndex, bool]:
    """Verify the root and write the index to ``folder``; reuse it when its fingerprint is
    unchanged. Returns the index and whether it was (re)built.

    An index built without a deep check (``options.deep``) is not reused for a deep request.
    """
    folder = Path(folder)
    tag_vocab_size, seed, deep = options.tag_vocab_size, options.seed, options.deep
    check_root(root, manifest.dataset, f"profile {profile} (manifest {manifest.name})")
    digest = fingerprint(root, manifest, tag_vocab_size, seed, on_missing)
    existing = None if force else reusable_index(folder, digest, deep)
    if existing is not None:
        return existing, False
    report, table = verify(
        root,
        manifest,
        tag_vocab_size=tag_vocab_size,
        seed=seed,
        on_missing=on_missing,
        deep=deep,
        progress=options.progress,
    )
    report.raise_if_errors()
    meta = {
        "format": INDEX_FORMAT,
        "fingerprint": digest,
        "profile": profile,
        "dataset": manifest.dataset,
        "split_rule": manifest.split_rule,
        "manifest": manifest.name,
        "data_root": str(Path(root).resolve()),
        "seed": seed,
        "tag_vocab_size": tag_vocab_size,
        "counts": {
            "train": int((table.official_split == TRAIN).sum()),
            "test": int((table.official_split == TEST).sum()),
        },
        "skipped_missing_images": len(report.missing_images) if on_missing == "skip" else 0,
        "deep_checked": deep,
        "skipped_undecodable_images": len(report.undecodable_images) if on_missing == "skip" else 0,
        "warnings": report.warnings,
        "annokit_version": annokit.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _write_atomically(
        folder,
        table_to_frame(table),
        {"labels": list(table.label_names), "tags": list(table.tag_names)},
        meta,
    )
    return load_index(folder), True


def reusable_index(folder: Path, digest: str, deep: bool) -> PreparedIndex | None:
    """The index in ``folder`` when it was made from the same inputs (and
    decoded every image if ``deep``)."""
    if not (folder / "meta.json").exists():
        return None
    try:
        existing = load_index(folder)
    except RuntimeError:
        return None  # a damaged index is rebuilt, not reported
    if existing.meta.get("fingerprint") != digest or (
        deep and not existing.meta.get("deep_checked")
    ):
        return None
    return existing


def _write_atomically(folder: Path, frame: pd.DataFrame, vocab: dict, meta: dict) -> None:
    """Write into a sibling temporary folder, then swap it in, so an
    interruption leaves no half index."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        frame.to_parquet(staging / "index.parquet", index=False)
        (staging / "vocab.json").write_text(json.dumps(vocab, indent=1))
        (staging / "meta.json").write_text(json.dumps(meta, indent=2))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
