"""The in-memory form every reader returns: images with labels, tags and official split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRAIN = "train"
TEST = "test"


@dataclass(frozen=True)
class AnnotationTable:
    """One dataset as read from its real layout, before any split rule is applied.

    Row i describes one image: ``paths[i]`` is relative to the dataset root (forward
    slashes), ``labels[i]`` and ``tags[i]`` are boolean multi-hot rows over
    ``label_names`` and ``tag_names``, and ``official_split[i]`` is ``"train"`` or
    ``"test"`` (COCO: train2014 is train, val2014 is test, as both papers use them).
    """

    dataset: str
    image_ids: np.ndarray  # (N,) str: COCO numeric id, NUS-WIDE "<folder>/<name>"
    paths: np.ndarray  # (N,) str, relative to the dataset root
    official_split: np.ndarray  # (N,) str, TRAIN or TEST
    labels: np.ndarray  # (N, C) bool
    tags: np.ndarray  # (N, T) bool
    label_names: tuple[str, ...]
    tag_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.paths)
        for name in ("image_ids", "official_split", "labels", "tags"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"AnnotationTable.{name} has {len(getattr(self, name))} rows, paths has {n}"
                )
        if self.labels.shape[1] != len(self.label_names):
            raise ValueError(
                f"labels have {self.labels.shape[1]} columns for {len(self.label_names)} label "
                "names"
            )
        if self.tags.shape[1] != len(self.tag_names):
            raise ValueError(
                f"tags have {self.tags.shape[1]} columns for {len(self.tag_names)} tag names"
            )
        bad = set(np.unique(self.official_split)) - {TRAIN, TEST}
        if bad:
            raise ValueError(f"official_split holds values other than train/test: {sorted(bad)}")

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, rows: np.ndarray) -> AnnotationTable:
        """The same table restricted to ``rows`` (a boolean mask or an index array)."""
        return AnnotationTable(
            dataset=self.dataset,
            image_ids=self.image_ids[rows],
            paths=self.paths[rows],
            official_split=self.official_split[rows],
            labels=self.labels[rows],
            tags=self.tags[rows],
            label_names=self.label_names,
            tag_names=self.tag_names,
        )
