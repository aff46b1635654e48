"""Writing the demo in PASCAL VOC 2007's layout, derived from its COCO layout without a random draw.

``<demo root>/voc2007/VOCdevkit/VOC2007/`` holds the same JPEG bytes as ``coco/`` (read back from
there, so a demo generated before the VOC layout existed gains it without rendering or touching
the other layouts), the demo's labels and official split, image ids ``000001``, ``000002``, ... in
generation order (trainval and test ids interleave, as in real VOC), and ``labels.txt`` naming the
demo's 25 classes, which are not VOC's 20.

Difficult flags come from the COCO instances, deterministically: a label is difficult-only when
its largest instance in the image has less than ``SMALL_SHARE`` of the median area of that class's
largest instances over the whole demo (small for its class, as VOC marks objects hard to
recognise). About 4 % of the positive labels of the default demo are difficult-only.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from annokit.data.voc import write_voc2007
from annokit.demo.truth import DemoTruth
from annokit.demo.writers import COCO_FOLDERS

VOC_LAYOUT = "voc2007"  # the folder under the demo root
DEVKIT = "VOCdevkit"
SMALL_SHARE = 0.5  # below this share of its class's median area, a label is difficult-only


def voc_image_ids(n: int) -> list[str]:
    """VOC-style six-digit image ids, ``000001`` upward, in generation order."""
    return [f"{i + 1:06d}" for i in range(n)]


def largest_areas(coco_root: Path, truth: DemoTruth) -> np.ndarray:
    """(N, C) area of each label's largest instance in the COCO annotations (0 where none)."""
    row = {int(k): i for i, k in enumerate(truth.coco_ids)}
    column = {name: j for j, name in enumerate(truth.label_names)}
    areas = np.zeros(truth.labels.shape, dtype=float)
    for folder in COCO_FOLDERS.values():
        path = Path(coco_root) / "annotations" / f"instances_{folder}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        names = {c["id"]: c["name"] for c in data["categories"]}
        for ann in data["annotations"]:
            i, j = row[int(ann["image_id"])], column[names[ann["category_id"]]]
            areas[i, j] = max(areas[i, j], float(ann["area"]))
    return areas


def difficult_flags(areas: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, C) True where a label's largest instance is below ``SMALL_SHARE`` of its class median."""
    difficult = np.zeros(labels.shape, dtype=bool)
    for j in np.flatnonzero(labels.any(axis=0)):
        rows = np.flatnonzero(labels[:, j])
        median = float(np.median(areas[rows, j]))
        difficult[rows, j] = areas[rows, j] < SMALL_SHARE * median
    return difficult


def write_voc_layout(voc_root: Path, truth: DemoTruth, coco_root: Path) -> Path:
    """Write ``voc_root/VOCdevkit/VOC2007`` from the COCO layout under ``coco_root``, all at once
    (built in a sibling folder, then renamed), and return the VOC2007 folder."""
    voc_root, coco_root = Path(voc_root), Path(coco_root)
    staging = voc_root.with_name(f".{voc_root.name}-partial")
    if staging.exists():
        shutil.rmtree(staging)
    images = [(coco_root / str(name)).read_bytes() for name in truth.coco_files]
    difficult = difficult_flags(largest_areas(coco_root, truth), truth.labels)
    write_voc2007(
        staging / DEVKIT,
        voc_image_ids(len(truth)),
        truth.labels,
        [str(s) for s in truth.split],
        difficult=difficult,
        images=images,
        label_names=truth.label_names,
    )
    if voc_root.exists():
        shutil.rmtree(voc_root)
    os.replace(staging, voc_root)
    return voc_root / DEVKIT / "VOC2007"
