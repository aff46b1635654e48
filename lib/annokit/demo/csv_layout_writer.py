"""Writing the demo in the folder + CSV layout, derived from its COCO layout without a random draw.

``<demo root>/csv/`` holds ``images/000001.jpg``, ``images/000002.jpg``, ... (the JPEG bytes of
``coco/``, copied, in generation order) and ``labels.csv`` with the columns image, labels, tags
(the demo's NUS-WIDE user tags) and split, labels and tags joined by a space. A demo generated
before this layout existed gains it without rendering or touching the other layouts.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

from annokit.data.csv_layout import DEFAULT_DELIMITER, IMAGES, LABELS_CSV
from annokit.demo.truth import DemoTruth

CSV_LAYOUT = "csv"  # the folder under the demo root
COLUMNS = ("image", "labels", "tags", "split")


def csv_image_names(n: int) -> list[str]:
    """Six-digit file names, ``000001.jpg`` upward, in generation order."""
    return [f"{i + 1:06d}.jpg" for i in range(n)]


def csv_rows(truth: DemoTruth) -> list[tuple[str, str, str, str]]:
    """One (image, labels, tags, split) row per demo image, names joined by the default
    delimiter."""
    join = DEFAULT_DELIMITER.join
    return [
        (
            name,
            join(n for n, on in zip(truth.label_names, truth.labels[i]) if on),
            join(n for n, on in zip(truth.tag_names, truth.tags[i]) if on),
            str(truth.split[i]),
        )
        for i, name in enumerate(csv_image_names(len(truth)))
    ]


def write_csv_layout(csv_root: Path, truth: DemoTruth, coco_root: Path) -> Path:
    """Write ``csv_root`` (images/ and labels.csv) from the COCO layout under ``coco_root``, all at
    once (built in a sibling folder, then renamed), and return it."""
    csv_root, coco_root = Path(csv_root), Path(coco_root)
    staging = csv_root.with_name(f".{csv_root.name}-partial")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / IMAGES).mkdir(parents=True)
    for source, name in zip(truth.coco_files, csv_image_names(len(truth))):
        shutil.copyfile(coco_root / str(source), staging / IMAGES / name)
    with open(staging / LABELS_CSV, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(csv_rows(truth))
    if csv_root.exists():
        shutil.rmtree(csv_root)
    os.replace(staging, csv_root)
    return csv_root
