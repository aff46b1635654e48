"""The prepared index: one row per image of a profile's split, written once and reused.

Stored in the run's work folder as ``index.parquet`` (image id, path, split, label and tag
indices), ``vocab.json`` (label and tag names) and ``meta.json`` (what made it). It is
rebuilt only when its fingerprint (annotation files' checksums, split rule, seed,
vocabulary size, data root, format version) changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import annokit
from annokit.data.manifest import Manifest, sha256_of, verify
from annokit.data.readers import resolve_file
from annokit.data.table import TEST, TRAIN, AnnotationTable

INDEX_FORMAT = 1
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
        matrix[np.repeat(np.arange(len(index_lists)), lengths), np.concatenate([np.asarray(v, dtype=np.int64) for v in index_lists])] = True
    return matrix


def fingerprint(root: Path, manifest: Manifest, tag_vocab_size: int, seed: int, on_missing: str) -> str:
    """A digest of everything the index depends on."""
    inputs = {
        "format": INDEX_FORMAT,
        "dataset": manifest.dataset,
        "split_rule": manifest.split_rule,
        "manifest": manifest.name,
        "root": str(Path(root).resolve()),
        "tag_vocab_size": tag_vocab_size,
        "seed": seed,
        "on_missing": on_missing,
        "files": {rel: sha256_of(resolve_file(root, rel)) for rel in sorted(manifest.files) if resolve_file(root, rel).exists()},
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def table_to_frame(table: AnnotationTable) -> pd.DataFrame:
    """Columnar rows: label and tag matrices stored as lists of indices."""
    return pd.DataFrame({
        "image_id": table.image_ids.astype(str),
        "path": table.paths.astype(str),
        "split": table.official_split.astype(str),
        "labels": [np.flatnonzero(row).astype(np.int16) for row in table.labels],
        "tags": [np.flatnonzero(row).astype(np.int16) for row in table.tags],
    })


def load_index(folder: Path) -> PreparedIndex:
    """Read a prepared index folder; a missing or unreadable one gets an error saying how to rebuild it."""
    folder = Path(folder)
    missing = [name for name in FILES if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(f"prepared index in {folder} lacks {', '.join(missing)}: run notebook 00_data_prep "
                                f"(or `python -m annokit.prepare --profile <name>`) to build it")
    try:
        frame = pd.read_parquet(folder / "index.parquet")
        vocab = json.loads((folder / "vocab.json").read_text())
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError) as error:
        raise RuntimeError(f"prepared index in {folder} is unreadable ({error}); delete the folder and prepare it again") from error
    return PreparedIndex(frame=frame, label_names=tuple(vocab["labels"]), tag_names=tuple(vocab["tags"]), meta=meta)


def build_index(folder: Path, root: Path, manifest: Manifest, *, profile: str, tag_vocab_size: int = 1000,
                seed: int = 0, on_missing: str = "stop", force: bool = False) -> tuple[PreparedIndex, bool]:
    """Verify the root and write the index to ``folder``; reuse it when its fingerprint is unchanged.

    Returns the index and whether it was (re)built.
    """
    folder = Path(folder)
    digest = fingerprint(root, manifest, tag_vocab_size, seed, on_missing)
    if not force and (folder / "meta.json").exists():
        existing = load_index(folder)
        if existing.meta.get("fingerprint") == digest:
            return existing, False
    report, table = verify(root, manifest, tag_vocab_size=tag_vocab_size, seed=seed, on_missing=on_missing)
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
        "counts": {"train": int((table.official_split == TRAIN).sum()), "test": int((table.official_split == TEST).sum())},
        "skipped_missing_images": len(report.missing_images) if on_missing == "skip" else 0,
        "warnings": report.warnings,
        "annokit_version": annokit.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _write_atomically(folder, table_to_frame(table), {"labels": list(table.label_names), "tags": list(table.tag_names)}, meta)
    return load_index(folder), True


def _write_atomically(folder: Path, frame: pd.DataFrame, vocab: dict, meta: dict) -> None:
    """Write into a sibling temporary folder, then swap it in, so an interruption leaves no half index."""
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
