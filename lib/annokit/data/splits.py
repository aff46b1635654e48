"""The papers' split rules: which images of a dataset each paper trains and tests on.

- M3 (Niu et al. 2019, Sec. IV-A1). NUS-WIDE: the official train/test lists without the
  images that have no tag (the paper reports 94,570 / 55,335). MS-COCO: 87,188 images,
  56,414 train / 30,774 test; the list is not published, so the kit draws, with a fixed
  seed, 56,414 train2014 and 30,774 val2014 images among those with at least one label and
  one caption tag (see docs/deviations.md). On a smaller dataset (the demo) the two counts
  are scaled by the same fractions of train2014 / val2014.
- Multi-order RNN (Dutta et al. 2020, Sec. 4.1). NUS-WIDE: the official lists without the
  images that have no label (125,449 / 83,898). MS-COCO: train2014 / val2014 as they are
  (82,783 / 40,504).
- Official (PASCAL VOC 2007 and any dataset read as published): the official split as it is,
  every image kept (VOC 2007: trainval 5,011 is train, test 4,952 is test).
"""

from __future__ import annotations

import numpy as np

from annokit.data.annotation_table import TEST, TRAIN, AnnotationTable

COCO2014_SIZES = {TRAIN: 82_783, TEST: 40_504}
M3_COCO_SIZES = {TRAIN: 56_414, TEST: 30_774}


def apply_split_rule(table: AnnotationTable, rule: str, seed: int = 0) -> AnnotationTable:
    """The rows of ``table`` that ``rule`` ("m3", "multi_order"
    or "official") keeps, in their original order."""
    if rule == "official":
        keep = np.ones(len(table), dtype=bool)
    elif rule == "m3":
        keep = _m3_coco_rows(table, seed) if table.dataset == "coco2014" else has_any(table.tags)
    elif rule == "multi_order":
        keep = (
            has_any(table.labels) if table.dataset == "nuswide" else np.ones(len(table), dtype=bool)
        )
    else:
        raise ValueError(f"unknown split rule {rule!r}: use 'm3', 'multi_order' or 'official'")
    return table.subset(keep)


def has_any(matrix: np.ndarray) -> np.ndarray:
    """Rows with at least one positive entry."""
    return matrix.any(axis=1)


def m3_coco_target(n_official: int, split: str) -> int:
    """How many images of an official COCO split M3's rule keeps: the paper's share of it."""
    return round(n_official * M3_COCO_SIZES[split] / COCO2014_SIZES[split])


def _m3_coco_rows(table: AnnotationTable, seed: int) -> np.ndarray:
    eligible = has_any(table.labels) & has_any(table.tags)
    keep = np.zeros(len(table), dtype=bool)
    rng = np.random.default_rng(seed)
    for split in (TRAIN, TEST):
        in_split = table.official_split == split
        candidates = np.flatnonzero(in_split & eligible)
        target = min(m3_coco_target(int(in_split.sum()), split), len(candidates))
        keep[rng.choice(candidates, size=target, replace=False)] = True
    return keep
