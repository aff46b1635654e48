"""Prediction files: what each model says about the test split, the interface between notebooks.

One ``.npz`` per model in ``<run>/predictions/``: ``rows`` (rows of the prepared index),
``scores`` (N, C) label probabilities, ``annotation`` (N, C) the labels the model assigns
under its decision rule, and optionally ``counts`` (N,) predicted label quantities (LQP),
``step_scores`` (N, T, C) per-time-step probabilities and ``sequences`` (N, L) decoded label
indices padded with -1 (RNN decoders). ``meta`` (JSON) records the rule, the profile and the
parameters that made it. Files are uncompressed, so even 50,000 test images load in a moment.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annokit.checkpoints import atomic_savez

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

    def __post_init__(self) -> None:
        n = len(self.rows)
        if self.scores.shape[0] != n or self.annotation.shape != self.scores.shape:
            raise ValueError(f"{self.model}: rows {n}, scores {self.scores.shape}, annotation {self.annotation.shape} disagree")
        for name in OPTIONAL:
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{self.model}: {name} has {len(value)} rows for {n} images")


def prediction_path(run_dir: Path, model: str) -> Path:
    """``<run>/predictions/<model>.npz``."""
    return Path(run_dir) / "predictions" / f"{model}.npz"


def save_predictions(predictions: Predictions, run_dir: Path) -> Path:
    """Write a prediction file atomically (a temporary file renamed into place)."""
    path = prediction_path(run_dir, predictions.model)
    arrays = {
        "rows": np.asarray(predictions.rows, dtype=np.int64),
        "scores": np.asarray(predictions.scores, dtype=np.float32),
        "annotation": np.asarray(predictions.annotation, dtype=bool),
        "meta": np.array(json.dumps({"model": predictions.model, "rule": predictions.rule, **predictions.meta})),
    }
    for name in OPTIONAL:
        if getattr(predictions, name) is not None:
            arrays[name] = np.asarray(getattr(predictions, name))
    return atomic_savez(path, **arrays)


def load_predictions(path: Path) -> Predictions:
    """Read a prediction file; a missing or damaged one is an error naming it and the notebook to rerun."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"prediction file {path} is missing: run the notebook that trains {path.stem!r} first")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {name: data[name] for name in data.files if name != "meta"}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise RuntimeError(f"prediction file {path} is unreadable ({error}): delete it and rerun the notebook that wrote it") from error
    return Predictions(model=meta.pop("model"), rule=meta.pop("rule"), meta=meta, **arrays)


def available_predictions(run_dir: Path) -> list[str]:
    """Names of the models with a prediction file in a run."""
    return sorted(p.stem for p in (Path(run_dir) / "predictions").glob("*.npz"))
