"""What every run file records and how it is checked: the prepared index it was made on, its rows.

Prediction files (``artifacts.predictions``) and cached per-image arrays (``artifacts.features``)
carry ``index_fingerprint`` and ``splits`` in their JSON ``meta``. ``check_matches_index`` refuses a
file made on another prepared index, or whose rows are not rows of their split, naming the file and
the notebook that rewrites it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from annokit.data.index import PreparedIndex


class RunFile(Protocol):
    """A prediction file or cached arrays: a name, JSON ``meta``, source file, row arrays."""

    meta: dict
    path: Path | None

    @property
    def file_name(self) -> str: ...

    def row_arrays(self) -> dict[str, np.ndarray]: ...


# meta key: the fingerprint of the prepared index the file was made on
FINGERPRINT = "index_fingerprint"
# meta key: the split of each rows array ({"rows": "test"}; cached arrays: train_rows, test_rows)
SPLITS = "splits"
ROW_SPLITS = {"rows": "test", "train_rows": "train", "test_rows": "test"}
# The notebook that writes each prediction or cached-arrays file (an ``@seed<k>`` suffix left out).
WRITERS = {
    "01_cnn_finetune": ("cnn", "cnn_features", "cnn_scores"),
    "02_ms_cnn": ("mscnn", "mscnn_features"),
    "03_tags_mlp": ("tags_mlp", "tags_features"),
    "04_lqp": ("mscnn_lqp", "mscnn_tags", "mscnn_tags_lqp", "upper_bound"),
    "05_multi_order_rnn": ("cnn_threshold", "cnn_rnn_*", "multi_order_rnn*"),
    "06_partial_labels": ("partial_*",),
    "07_cnn_rnn": ("wang_cnn_rnn",),
    "08_baselines": ("baseline_*",),
}


class RunFileError(RuntimeError):
    """A prediction or cached-arrays file the run cannot use: damaged, or made on another index."""


def writer_notebook(name: str) -> str | None:
    """The notebook that writes ``name`` (``mscnn_tags_lqp@seed1`` -> "04_lqp"); None if unknown."""
    base = re.sub(r"@seed\d+$", "", Path(name).stem if name.endswith(".npz") else name)
    for notebook, patterns in WRITERS.items():
        if any(base == p or (p.endswith("*") and base.startswith(p[:-1])) for p in patterns):
            return notebook
    return None


def rerun_hint(name: str) -> str:
    """The fix for a stale or damaged file ``name``: rerun the notebook that writes it."""
    notebook = writer_notebook(name)
    return (
        f"rerun notebook {notebook} to rewrite it"
        if notebook
        else "rerun the notebook that wrote it"
    )


def index_on_disk(run_dir: Path) -> PreparedIndex:
    """The run's prepared index as far as saving needs it (meta and split column), to stamp and
    check a file."""
    folder = Path(run_dir) / "index"
    if not (folder / "meta.json").exists() or not (folder / "index.parquet").exists():
        raise FileNotFoundError(
            f"{folder} holds no prepared index (meta.json / index.parquet), so a file saved in "
            f"{run_dir} could not record which index it belongs to: prepare the run first "
            "(notebook 00_data_prep)"
        )
    meta = json.loads((folder / "meta.json").read_text())
    if not meta.get("fingerprint"):
        raise ValueError(
            f"{folder / 'meta.json'} records no fingerprint: prepare the run again (notebook "
            "00_data_prep)"
        )
    frame = pd.read_parquet(folder / "index.parquet", columns=["split"])
    return PreparedIndex(frame=frame, label_names=(), tag_names=(), meta=meta)


def stamp(meta: dict, index: PreparedIndex, rows: Mapping[str, np.ndarray]) -> dict:
    """``meta`` with the index fingerprint and the split of each rows array recorded (a copy)."""
    return {
        **meta,
        FINGERPRINT: index.meta["fingerprint"],
        SPLITS: {name: ROW_SPLITS[name] for name in rows},
    }


def check_matches_index(
    source: RunFile | Mapping,
    index: PreparedIndex,
    path: Path | str | None = None,
    rows: Mapping[str, np.ndarray] | None = None,
    fix: str | None = None,
) -> None:
    """Refuse a file made on another prepared index than ``index``, or whose rows are not rows of
    their split of it.

    ``source`` is a ``RunFile`` (``Predictions``, ``CachedArrays``) or a file's meta with ``rows``
    beside it (array name -> row numbers: ``{"rows": ...}`` or ``{"train_rows": ..., "test_rows":
    ...}``). A loaded file (``path`` known) must record its index; an object made in memory is
    checked on its rows alone until saved. Raises ``RunFileError`` naming the file and ``fix``
    (default: rerun its notebook).
    """
    meta, rows, path, name = _parts(source, path, rows)
    label = str(path) if path is not None else f"{name!r} (in memory)"
    fix = fix or rerun_hint(name)
    run, current, recorded = (
        index.meta.get("profile", "?"),
        index.meta.get("fingerprint"),
        meta.get(FINGERPRINT),
    )
    if recorded is None and path is not None:
        raise RunFileError(
            f"{label} was made before files recorded their index, so it cannot be checked against "
            f"the prepared index of run {run}: {fix}"
        )
    if recorded is not None and recorded != current:
        raise RunFileError(
            f"{label} was made on index {_short(recorded)} but the prepared index of run {run} is "
            f"{_short(current)} (rebuilt since): {fix}"
        )
    expected = {array: ROW_SPLITS[array] for array in rows}
    if meta.get(SPLITS, expected) != expected:
        raise RunFileError(f"{label} records its rows as {meta[SPLITS]}, not {expected}: {fix}")
    for array, split in expected.items():
        _check_rows(
            np.asarray(rows[array]),
            split,
            index,
            f"{label}: {array}" if array != "rows" else label,
            run,
            fix,
        )


def _parts(
    source: RunFile | Mapping, path: Path | str | None, rows: Mapping[str, np.ndarray] | None
) -> tuple[Mapping, Mapping, Path | None, str]:
    """Meta, rows by array name, file and name of what ``check_matches_index`` checks."""
    if isinstance(source, Mapping):
        if rows is None:
            raise TypeError("check_matches_index: give the rows beside a file's meta")
        name = source.get("model") or (Path(path).stem if path is not None else "?")
        return source, rows, Path(path) if path is not None else None, name
    path = path if path is not None else source.path
    return source.meta, source.row_arrays(), path, source.file_name


def _check_rows(
    rows: np.ndarray, split: str, index: PreparedIndex, label: str, run: str, fix: str
) -> None:
    """Refuse rows beyond the index or outside ``split`` (a shifted file, or training rows among
    test rows)."""
    splits = index.frame["split"].to_numpy()
    if rows.size and rows.dtype.kind not in "iu":
        raise RunFileError(
            f"{label} lists rows of type {rows.dtype}, not row numbers of run {run}'s prepared "
            f"index: {fix}"
        )
    rows = rows.astype(np.int64, copy=False).ravel()
    beyond = (rows < 0) | (rows >= len(splits))
    if beyond.any():
        raise RunFileError(
            f"{label} lists row {int(rows[beyond][0])} but the prepared index of run {run} has "
            f"{len(splits)} rows: {fix}"
        )
    wrong = splits[rows] != split
    if wrong.any():
        first = int(rows[wrong][0])
        raise RunFileError(
            f"{label} lists {int(wrong.sum())} row(s) outside the {split} split of run {run}'s "
            f"prepared index (row {first} is a {splits[first]} row): {fix}"
        )


def _short(fingerprint: str | None) -> str:
    """The first 8 hex digits of a fingerprint, for messages."""
    return f"{fingerprint[:8]}…" if fingerprint else "(none recorded)"
