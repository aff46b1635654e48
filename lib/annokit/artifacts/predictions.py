"""Prediction files: what each model says about the test split, the interface between notebooks.

One ``.npz`` per model in ``<run>/predictions/``: ``rows`` (rows of the prepared index),
``scores`` (N, C) label probabilities, ``annotation`` (N, C) the labels the model assigns
under its decision rule, and optionally ``counts`` (N,) predicted label quantities (LQP),
``step_scores`` (N, T, C) per-time-step probabilities and ``sequences`` (N, L) decoded label
indices padded with -1 (RNN decoders). ``meta`` (JSON) records the rule, the profile and the
parameters that made it, and ``index_fingerprint`` and ``splits`` the prepared index and split its
rows belong to: a file is scored or shown only against that same index (``check_matches_index``).
Files are uncompressed, so even 50,000 test images load in a moment.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annokit.artifacts.stamps import (
    RunFileError,
    check_matches_index,
    index_on_disk,
    rerun_hint,
    stamp,
    writer_notebook,
)
from annokit.atomic import atomic_savez

OPTIONAL = ("counts", "step_scores", "sequences")


@dataclass
class Predictions:
    """One model's output on the test split."""

    model: str
    rows: np.ndarray
    scores: np.ndarray
    annotation: np.ndarray
    rule: str
    counts: np.ndarray | None = None
    step_scores: np.ndarray | None = None
    sequences: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    # the file it was loaded from; None when made in memory
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        n = len(self.rows)
        if self.scores.shape[0] != n or self.annotation.shape != self.scores.shape:
            raise ValueError(
                f"{self.model}: rows {n}, scores {self.scores.shape}, annotation "
                f"{self.annotation.shape} disagree"
            )
        for name in OPTIONAL:
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{self.model}: {name} has {len(value)} rows for {n} images")

    @property
    def file_name(self) -> str:
        """The file's stem in ``<run>/predictions/``: the model's name."""
        return self.model

    def row_arrays(self) -> dict[str, np.ndarray]:
        """Rows of the prepared index, by array name (test rows only)."""
        return {"rows": self.rows}


def prediction_path(run_dir: Path, model: str) -> Path:
    """``<run>/predictions/<model>.npz``."""
    return Path(run_dir) / "predictions" / f"{model}.npz"


def save_predictions(predictions: Predictions, run_dir: Path) -> Path:
    """Write a prediction file atomically, recording the run's index fingerprint and checking its
    rows are test rows of it.

    ``predictions.meta`` gets the same record, so the object in memory is checked as the file would
    be.
    """
    path = prediction_path(run_dir, predictions.model)
    index = index_on_disk(run_dir)
    check_matches_index(
        predictions,
        index,
        fix=f"take its rows from this run's index.rows('test'); nothing was written to {path}",
    )
    predictions.meta = stamp(predictions.meta, index, {"rows": predictions.rows})
    arrays = {
        "rows": np.asarray(predictions.rows, dtype=np.int64),
        "scores": np.asarray(predictions.scores, dtype=np.float32),
        "annotation": np.asarray(predictions.annotation, dtype=bool),
        "meta": np.array(
            json.dumps({**predictions.meta, "model": predictions.model, "rule": predictions.rule})
        ),
    }
    for name in OPTIONAL:
        if getattr(predictions, name) is not None:
            arrays[name] = np.asarray(getattr(predictions, name))
    return atomic_savez(path, **arrays)


def load_predictions(path: Path) -> Predictions:
    """Read a prediction file; a missing or damaged one is an error naming it and what to rerun."""
    path = Path(path)
    if not path.exists():
        writer = f" (notebook {writer_notebook(path.stem)})" if writer_notebook(path.stem) else ""
        raise FileNotFoundError(
            f"prediction file {path} is missing: run the notebook that trains {path.stem!r} "
            f"first{writer}"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {name: data[name] for name in data.files if name != "meta"}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise RunFileError(
            f"prediction file {path} is unreadable ({error}): delete it and {rerun_hint(path.stem)}"
        ) from error
    try:
        return Predictions(
            model=meta.pop("model"), rule=meta.pop("rule"), meta=meta, path=path, **arrays
        )
    except (KeyError, TypeError, ValueError) as error:
        raise RunFileError(
            f"prediction file {path} is malformed ({error}): delete it and {rerun_hint(path.stem)}"
        ) from error


def available_predictions(run_dir: Path) -> list[str]:
    """Names of the models with a prediction file in a run."""
    return sorted(p.stem for p in (Path(run_dir) / "predictions").glob("*.npz"))
