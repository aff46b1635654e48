"""What the viewer reads from a run, and only when it is shown: memory-mapped prediction files.

A prediction file (``annokit.artifacts.predictions``) is an uncompressed ``.npz``, a zip archive
whose members are ``.npy`` files stored as they are. Each member is therefore a plain array at a
known offset of the file, and ``np.memmap`` maps it without reading it: opening the files of eleven
models on 50,000 test images costs milliseconds, and showing one image reads one row of each. A
compressed member (someone else's ``np.savez_compressed``) is read whole on first use instead. A
file is checked when opened: a damaged one, or one made on another prepared index (or listing rows
outside its test split), is refused with a ``RunFileError`` naming it and the notebook to rerun.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from annokit.artifacts.predictions import OPTIONAL, available_predictions, prediction_path
from annokit.artifacts.stamps import check_matches_index
from annokit.data.annotation_table import TEST
from annokit.data.index import PreparedIndex
from annokit.evaluation.decision import predicted_quantity
from annokit.viewer.mapped_npz import NpzArrays, damaged
from annokit.viewer.model_names import display_name, model_order


@dataclass
class ModelOutput:
    """One model's prediction file, aligned to the viewer's images (the test split in index order).

    Nothing is read until asked for; ``take(name, positions)`` reads the rows of those images only.
    """

    model: str
    path: Path
    test_rows: np.ndarray = field(repr=False)
    arrays: NpzArrays = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.arrays = NpzArrays(self.path)

    @property
    def name(self) -> str:
        return display_name(self.model)

    @cached_property
    def meta(self) -> dict:
        try:
            meta = json.loads(str(self.arrays["meta"]))
        except (KeyError, ValueError) as error:
            raise damaged(self.path, f"no readable meta: {error}") from error
        if not isinstance(meta, dict):
            raise damaged(self.path, f"its meta is a JSON {type(meta).__name__}, not an object")
        return meta

    def check(self, index: PreparedIndex) -> None:
        """Refuse a file whose arrays are missing or disagree in shape, or that was made
        on another index than ``index``."""
        missing = [
            name
            for name in ("rows", "scores", "annotation", "meta")
            if name not in set(self.arrays)
        ]
        if missing:
            raise damaged(self.path, f"no {', '.join(missing)} array")
        n, scores = len(self.arrays["rows"]), self.arrays["scores"]
        if (
            self.arrays["rows"].ndim != 1
            or scores.shape != (n, len(index.label_names))
            or self.arrays["annotation"].shape != scores.shape
        ):
            raise damaged(
                self.path,
                f"rows {self.arrays['rows'].shape}, scores {scores.shape}, annotation "
                f"{self.arrays['annotation'].shape} do not fit {n} images and "
                f"{len(index.label_names)} labels",
            )
        for name in OPTIONAL:
            if name in set(self.arrays) and (
                self.arrays[name].ndim == 0 or len(self.arrays[name]) != n
            ):
                raise damaged(
                    self.path, f"{name} {self.arrays[name].shape} does not fit {n} images"
                )
        if "counts" in set(self.arrays) and self.arrays["counts"].ndim != 1:
            raise damaged(
                self.path, f"counts {self.arrays['counts'].shape} is not one count per image"
            )
        check_matches_index(self.meta, index, self.path, rows={"rows": self.arrays["rows"]})

    @property
    def rule(self) -> str:
        return self.meta.get("rule", "?")

    @property
    def seed(self) -> int | None:
        """The seed the model was trained with, as its file records it."""
        seed = self.meta.get("seed")
        return seed if isinstance(seed, int) else None

    @property
    def num_labels(self) -> int:
        return self.arrays["scores"].shape[1]

    @property
    def has_counts(self) -> bool:
        return "counts" in self.arrays

    @property
    def has_steps(self) -> bool:
        return "step_scores" in self.arrays

    @cached_property
    def _file_rows(self) -> np.ndarray | None:
        """File row of each viewer image (-1: not covered); None when the
        file lists exactly the test split."""
        rows = np.asarray(self.arrays["rows"])
        if np.array_equal(rows, self.test_rows):
            return None
        where = np.full(
            int(max(rows.max(initial=-1), self.test_rows.max(initial=-1))) + 1, -1, dtype=np.int64
        )
        where[rows] = np.arange(len(rows))
        return where[self.test_rows]

    @cached_property
    def covered(self) -> np.ndarray:
        """Boolean mask over the viewer's images: which ones this file has a prediction for."""
        if self._file_rows is None:
            return np.ones(len(self.test_rows), dtype=bool)
        return self._file_rows >= 0

    def covers(self, position: int) -> bool:
        return self._file_rows is None or self._file_rows[position] >= 0

    def take(self, name: str, positions: np.ndarray | int) -> np.ndarray | None:
        """Rows of one array for the given viewer images (zeros where the file
        has no prediction); None if absent."""
        if name not in self.arrays:
            return None
        array = self.arrays[name]
        if self._file_rows is None:
            return np.asarray(array[positions])
        file_rows = self._file_rows[positions]
        # a copy: zeros go in where nothing was predicted
        out = np.array(array[np.maximum(file_rows, 0)])
        out[np.asarray(file_rows) < 0] = 0
        return out

    def quantity(self, position: int) -> tuple[int, float] | None:
        """LQP models: m̂ (the rounded, clamped prediction of M3 Algorithm
        2) and the raw regressor output."""
        raw = self.take("counts", position)
        if raw is None:
            return None
        return int(predicted_quantity(np.atleast_1d(raw), self.num_labels)[0]), float(raw)


@dataclass
class ViewerData:
    """A run as the viewer sees it: the test split of the prepared
    index, its images, every model's file."""

    profile: str
    index: PreparedIndex
    data_root: Path
    models: dict[str, ModelOutput]
    # index row of each viewer image: a viewer position is a place here
    test_rows: np.ndarray = field(repr=False)

    @classmethod
    def from_run(cls, run) -> ViewerData:
        """Everything under ``run.run_dir``: the index already
        loaded, prediction files opened lazily."""
        return cls.from_folder(run.profile.name, run.index, run.data_root, run.run_dir)

    @classmethod
    def from_folder(
        cls, profile: str, index: PreparedIndex, data_root: Path, run_dir: Path
    ) -> ViewerData:
        test_rows = index.rows(TEST)
        names = model_order(available_predictions(run_dir))
        models = {m: ModelOutput(m, prediction_path(run_dir, m), test_rows) for m in names}
        for output in models.values():
            output.check(index)
        return cls(profile, index, Path(data_root), models, test_rows)

    def __len__(self) -> int:
        return len(self.test_rows)

    def summary(self) -> pd.DataFrame:
        """One row per prediction file: display name, decision rule, and what extra it carries."""
        columns = [
            "model",
            "shown as",
            "rule",
            "images",
            "label counts (LQP)",
            "per-step scores (RNN)",
        ]
        rows = [
            (m, o.name, o.rule, int(o.covered.sum()), o.has_counts, o.has_steps)
            for m, o in self.models.items()
        ]
        return pd.DataFrame(rows, columns=columns).set_index("model")

    @property
    def label_names(self) -> tuple[str, ...]:
        return self.index.label_names

    @cached_property
    def truth(self) -> np.ndarray:
        """(N, C) boolean ground truth of the test split (built on first
        use: filters and sorting need it)."""
        return self.index.label_matrix(TEST)

    def true_labels(self, position: int) -> np.ndarray:
        return np.sort(
            np.asarray(self.index.frame["labels"].iat[self.test_rows[position]], dtype=np.int64)
        )

    def tags(self, position: int) -> list[str]:
        return [
            self.index.tag_names[t] for t in self.index.frame["tags"].iat[self.test_rows[position]]
        ]

    def image_id(self, position: int) -> str:
        return str(self.index.frame["image_id"].iat[self.test_rows[position]])

    def image_path(self, position: int) -> Path:
        return self.data_root / str(self.index.frame["path"].iat[self.test_rows[position]])
