"""Cached per-image arrays (features f_v and f_t, CNN soft scores) for the train and test splits.

Later stages train on these instead of decoding images again: M3's joint classifier and LQP
(Algorithm 1 step 5), the RNN decoders (CNN soft scores, Dutta et al. Sec. 3.1) and the
partial-label sweep. One ``<run>/features/<name>.npz`` holds ``train``, ``test``,
``train_rows`` and ``test_rows`` (rows of the prepared index) and a JSON ``meta`` that records the
index fingerprint and the split of each rows array, checked by ``stamps.check_matches_index``.
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


@dataclass
class CachedArrays:
    """Per-image arrays of one kind for both splits, aligned with the prepared index rows."""

    name: str
    train: np.ndarray
    test: np.ndarray
    train_rows: np.ndarray
    test_rows: np.ndarray
    meta: dict = field(default_factory=dict)
    # the file it was loaded from; None when made in memory
    path: Path | None = field(default=None, compare=False)

    @property
    def file_name(self) -> str:
        """The file's stem in ``<run>/features/``."""
        return self.name

    def row_arrays(self) -> dict[str, np.ndarray]:
        """Rows of the prepared index, by array name."""
        return {"train_rows": self.train_rows, "test_rows": self.test_rows}


def cache_path(run_dir: Path, name: str) -> Path:
    """``<run>/features/<name>.npz``."""
    return Path(run_dir) / "features" / f"{name}.npz"


def save_cached(cached: CachedArrays, run_dir: Path) -> Path:
    """Write atomically (an interrupted run never leaves a half file), recording the run's index and
    checking the rows.

    ``cached.meta`` gets the same record, so the object in memory is checked as the file would be.
    """
    path = cache_path(run_dir, cached.name)
    index = index_on_disk(run_dir)
    check_matches_index(
        cached,
        index,
        fix="take train_rows and test_rows from this run's index.rows(); nothing was written to "
        f"{path}",
    )
    cached.meta = stamp(
        cached.meta, index, {"train_rows": cached.train_rows, "test_rows": cached.test_rows}
    )
    return atomic_savez(
        path,
        train=cached.train,
        test=cached.test,
        train_rows=cached.train_rows,
        test_rows=cached.test_rows,
        meta=np.array(json.dumps(cached.meta)),
    )


def load_cached(run_dir: Path, name: str) -> CachedArrays:
    """Read ``<run>/features/<name>.npz``; a missing or damaged one names the notebook to rerun."""
    path = cache_path(run_dir, name)
    if not path.exists():
        writer = (
            f"notebook {writer_notebook(name)}"
            if writer_notebook(name)
            else "the notebook that writes them"
        )
        raise FileNotFoundError(f"cached arrays {path} are missing: run {writer} first")
    try:
        with np.load(path, allow_pickle=False) as data:
            cached = CachedArrays(
                name=name,
                train=data["train"],
                test=data["test"],
                train_rows=data["train_rows"],
                test_rows=data["test_rows"],
                meta=json.loads(str(data["meta"])),
                path=path,
            )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise RunFileError(
            f"cached arrays {path} are unreadable ({error}): delete the file and {rerun_hint(name)}"
        ) from error
    if len(cached.train) != len(cached.train_rows) or len(cached.test) != len(cached.test_rows):
        raise RunFileError(
            f"cached arrays {path} hold {len(cached.train)}/{len(cached.test)} train/test arrays "
            f"for {len(cached.train_rows)}/{len(cached.test_rows)} rows: delete the file and "
            f"{rerun_hint(name)}"
        )
    return cached
