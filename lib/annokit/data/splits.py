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
  every image kept (VOC 2007: trainval 5,011 is train, test 4,952 is test; the folder + CSV
  layout: its split column, which it must have; the COCO JSON layout: its instances_test*.json or
  instances_val*.json, which it must have).
- Ratio (a dataset without a split, e.g. a labels.csv without split column, or a COCO JSON export
  with only instances_train*.json or instances_default.json): every image kept, a share of them
  (the manifest's test share) drawn for test with the profile's seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from annokit.data.annotation_table import TEST, TRAIN, AnnotationTable

COCO2014_SIZES = {TRAIN: 82_783, TEST: 40_504}
M3_COCO_SIZES = {TRAIN: 56_414, TEST: 30_774}
RULES_HINT = "use 'm3', 'multi_order', 'official' or 'ratio'"


def apply_split_rule(
    table: AnnotationTable, rule: str, seed: int = 0, test_share: float = 0.2
) -> AnnotationTable:
    """The rows of ``table`` that ``rule`` ("m3", "multi_order", "official" or "ratio") keeps, in
    their original order (``ratio``: every row, ``test_share`` of them drawn for test)."""
    if rule == "ratio":
        return ratio_split(table, seed, test_share)
    if rule == "official":
        check_has_test(table)
        keep = np.ones(len(table), dtype=bool)
    elif rule == "m3":
        keep = _m3_coco_rows(table, seed) if table.dataset == "coco2014" else has_any(table.tags)
    elif rule == "multi_order":
        keep = (
            has_any(table.labels) if table.dataset == "nuswide" else np.ones(len(table), dtype=bool)
        )
    else:
        raise ValueError(f"unknown split rule {rule!r}: {RULES_HINT}")
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


def check_has_test(table: AnnotationTable) -> None:
    """Refuse the official split of a user's table (folder + CSV, COCO JSON) that assigns no image
    to test."""
    if (table.official_split == TEST).any():
        return
    if table.dataset == "cocojson":
        raise ValueError(
            "the COCO JSON files assign no image to test (no instances_test*.json or "
            "instances_val*.json): export the test images to such a file, or record the manifest "
            'with --split-rule ratio and set split_rule = "ratio" in the profile'
        )
    if table.dataset == "csv":
        raise ValueError(
            "labels.csv assigns no image to test (no split column, or only train in it): add a "
            "split column, or record the manifest with --split-rule ratio and set split_rule = "
            '"ratio" in the profile'
        )


def ratio_split(table: AnnotationTable, seed: int, test_share: float) -> AnnotationTable:
    """Every row of a table without a test split, ``test_share`` of them (at least one, never all)
    drawn for test with ``seed``, the others train."""
    n, n_given = len(table), int((table.official_split == TEST).sum())
    if n_given:
        raise ValueError(
            f"the {table.dataset} data has a split already ({n_given} test images): use the "
            "split rule 'official', or, for 'ratio', drop the split column of labels.csv (COCO "
            "JSON: join the test file's images into the train file)"
        )
    if n < 2:
        raise ValueError(f"the ratio split needs two images or more, the data has {n}: add images")
    n_test = min(max(round(n * test_share), 1), n - 1)
    split = np.array([TRAIN] * n, dtype="<U5")
    split[np.random.default_rng(seed).choice(n, size=n_test, replace=False)] = TEST
    return replace(table, official_split=split)
