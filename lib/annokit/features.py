"""Cached per-image arrays (features f_v and f_t, CNN soft scores) for the train and test splits.

Later stages train on these instead of decoding images again: M3's joint classifier and LQP
(Algorithm 1 step 5), the RNN decoders (CNN soft scores, Dutta et al. Sec. 3.1) and the
partial-label sweep. One ``<run>/features/<name>.npz`` holds ``train``, ``test``,
``train_rows`` and ``test_rows`` (rows of the prepared index) and a JSON ``meta``.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annokit.checkpoints import atomic_savez


@dataclass
class CachedArrays:
    """Per-image arrays of one kind for both splits, aligned with the prepared index rows."""

    name: str
    train: np.ndarray
    test: np.ndarray
    train_rows: np.ndarray
    test_rows: np.ndarray
    meta: dict = field(default_factory=dict)


def cache_path(run_dir: Path, name: str) -> Path:
    """``<run>/features/<name>.npz``."""
    return Path(run_dir) / "features" / f"{name}.npz"


def save_cached(cached: CachedArrays, run_dir: Path) -> Path:
    """Write atomically, so an interrupted run never leaves a half file."""
    return atomic_savez(cache_path(run_dir, cached.name), train=cached.train, test=cached.test,
                        train_rows=cached.train_rows, test_rows=cached.test_rows, meta=np.array(json.dumps(cached.meta)))


def load_cached(run_dir: Path, name: str) -> CachedArrays:
    """Read ``<run>/features/<name>.npz``; a missing one names the notebook that writes it."""
    path = cache_path(run_dir, name)
    if not path.exists():
        raise FileNotFoundError(f"cached arrays {path} are missing: run the notebook that writes {name!r} first "
                                f"(cnn_scores: 01_cnn_finetune, mscnn_features: 02_ms_cnn, tags_features: 03_tags_mlp)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return CachedArrays(name=name, train=data["train"], test=data["test"], train_rows=data["train_rows"],
                                test_rows=data["test_rows"], meta=json.loads(str(data["meta"])))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise RuntimeError(f"cached arrays {path} are unreadable ({error}): delete the file and rerun its notebook") from error
