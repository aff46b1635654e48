"""Recall by object size (M3: the MS-CNN's fine scales help small objects).

``object_sizes`` reads the COCO instance annotations (the demo writes them for both layouts);
``size_bins`` and ``recall_by_object_size`` give the recall of each size bin, in percent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from annokit.data.annotation_table import TEST
from annokit.data.csv_layout import IMAGES
from annokit.data.index import PreparedIndex
from annokit.demo.csv_layout_writer import csv_image_names
from annokit.demo.truth import TRUTH_STRINGS

# Relative areas (instance area / image area). The demo's 64-px scenes have no object as small as
# COCO's "small" (< 32² px of a ~640×480 image, 0.33 %), so the bins are the demo's own: "large"
# fills at least a quarter of the image, one cell of the last ResNet map (stride 32: 2×2 cells at 64
# px); "small" is under 1/32, a square under 11 px at 64 px. On the demo's test split this gives
# about 25 / 33 / 42 % of the positive labels: small = birds, signs, flags, flowers, sun, moon,
# cars; large = sky and ground regions.
SIZE_THRESHOLDS = (1 / 32, 1 / 4)
# COCO's own bins, for a typical 640×480 image.
COCO_SIZE_THRESHOLDS = (32**2 / (640 * 480), 96**2 / (640 * 480))
SIZE_BINS = ("small", "medium", "large")
COCO_FOLDERS = ("train2014", "val2014")


def largest_instances(coco_root: Path, folders: Iterable[str] = COCO_FOLDERS) -> pd.DataFrame:
    """Per (image file, category name): the area fraction of its largest instance,
    from ``instances_<folder>.json``."""
    rows = []
    for folder in folders:
        data = json.loads(
            (Path(coco_root) / "annotations" / f"instances_{folder}.json").read_text(
                encoding="utf-8"
            )
        )
        images = {
            im["id"]: (f"{folder}/{im['file_name']}", im["width"] * im["height"])
            for im in data["images"]
        }
        names = {c["id"]: c["name"] for c in data["categories"]}
        for ann in data["annotations"]:
            file, pixels = images[ann["image_id"]]
            area = ann.get("area", ann["bbox"][2] * ann["bbox"][3])  # COCO's own size measure
            rows.append((file, names[ann["category_id"]], area / pixels))
    frame = pd.DataFrame(rows, columns=["file", "label", "area_fraction"])
    return frame.groupby(["file", "label"], as_index=False)["area_fraction"].max()


def is_demo(index: PreparedIndex, data_root: Path | None = None) -> bool:
    """Whether the run reads the demo: the generator's truth lies
    beside its data root (either layout)."""
    return (Path(data_root or index.meta["data_root"]).parent / TRUTH_STRINGS).is_file()


def has_object_sizes(index: PreparedIndex) -> bool:
    """Whether ``object_sizes`` can read the run's instance annotations: a COCO
    run, or the demo in either layout."""
    return index.meta.get("dataset") == "coco2014" or is_demo(index)


def coco_files(
    index: PreparedIndex, rows: np.ndarray, data_root: Path | None = None
) -> tuple[Path, np.ndarray]:
    """The COCO root and COCO file of each row: the index's own paths (COCO) or, for the demo's
    other layouts, the same image's COCO file through the generator's truth (NUS-WIDE:
    ``nuswide_paths`` -> ``coco_files``; VOC, folder + CSV, COCO JSON: generation order)."""
    root = Path(data_root or index.meta["data_root"])
    paths = index.frame["path"].to_numpy()[rows].astype(str)
    if index.meta.get("dataset") == "coco2014":
        return root, paths
    truth = root.parent / TRUTH_STRINGS
    if not is_demo(index, root):
        raise ValueError(
            f"{root} is NUS-WIDE without the demo's {TRUTH_STRINGS} beside it: NUS-WIDE has no "
            "object annotations, so object sizes exist only for COCO and the demo"
        )
    strings = json.loads(truth.read_text(encoding="utf-8"))
    coco_of = dict(zip(strings["nuswide_paths"], strings["coco_files"]))
    for name, coco in zip(csv_image_names(len(strings["coco_files"])), strings["coco_files"]):
        coco_of[f"{IMAGES}/{name}"] = coco_of[f"VOCdevkit/VOC2007/JPEGImages/{name}"] = coco
    unknown = [p for p in paths if p not in coco_of]
    if unknown:
        raise ValueError(
            f"{len(unknown)} image(s) of the index are not in {truth}, first {unknown[0]}: prepare "
            "the run again"
        )
    return root.parent / "coco", np.array([coco_of[p] for p in paths])


def object_sizes(
    index: PreparedIndex, rows: np.ndarray | None = None, data_root: Path | None = None
) -> np.ndarray:
    """(rows, C) area fraction of each label's largest instance in each image, NaN where it
    has none (rows: the test split)."""
    rows = index.rows(TEST) if rows is None else np.asarray(rows, dtype=np.int64)
    coco_root, files = coco_files(index, rows, data_root)
    largest = largest_instances(coco_root, sorted({f.split("/", 1)[0] for f in files}))
    position = pd.Series(np.arange(len(files)), index=files)
    column = {name: j for j, name in enumerate(index.label_names)}
    largest = largest[largest["file"].isin(position.index) & largest["label"].isin(column)]
    sizes = np.full((len(rows), len(index.label_names)), np.nan)
    sizes[position[largest["file"]].to_numpy(), largest["label"].map(column).to_numpy()] = largest[
        "area_fraction"
    ].to_numpy()
    return sizes


def size_bins(areas: np.ndarray, thresholds: Sequence[float] = SIZE_THRESHOLDS) -> np.ndarray:
    """Bin of each area fraction: 0 below thresholds[0], 1 below thresholds[1],
    ..., -1 where NaN (no instance)."""
    edges = np.asarray(thresholds, dtype=float)
    if edges.ndim != 1 or not (np.diff(edges) > 0).all() or not ((edges > 0) & (edges <= 1)).all():
        raise ValueError(f"thresholds must increase within (0, 1], got {list(thresholds)}")
    areas = np.asarray(areas, dtype=float)
    return np.where(np.isnan(areas), -1, np.searchsorted(edges, areas, side="right"))


def recall_by_object_size(
    y_true: np.ndarray,
    annotation: np.ndarray,
    size_bin: np.ndarray,
    names: Sequence[str] = SIZE_BINS,
) -> pd.DataFrame:
    """Per size bin: true labels whose largest instance falls in it, how many the
    annotation has, and the recall (%)."""
    truth, chosen, bins = (
        np.asarray(y_true, bool),
        np.asarray(annotation, bool),
        np.asarray(size_bin),
    )
    if not truth.shape == chosen.shape == bins.shape:
        raise ValueError(
            f"y_true {truth.shape}, annotation {chosen.shape} and size_bin {bins.shape} must have "
            "one shape"
        )
    if (truth & (bins < 0)).any():
        raise ValueError(
            f"{int((truth & (bins < 0)).sum())} true label(s) have no instance, so no size"
        )
    positives = np.array([(truth & (bins == b)).sum() for b in range(len(names))])
    recalled = np.array([(truth & chosen & (bins == b)).sum() for b in range(len(names))])
    recall = np.divide(
        100.0 * recalled, positives, out=np.full(len(names), np.nan), where=positives > 0
    )
    return pd.DataFrame(
        {"positives": positives, "recalled": recalled, "recall": recall},
        index=pd.Index(names, name="size"),
    )
