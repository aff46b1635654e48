"""One entry point over the dataset readers, keyed by dataset name."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from annokit.data.annotation_table import AnnotationTable
from annokit.data.coco_json_layout import PATTERN as INSTANCES_PATTERN
from annokit.data.coco_json_layout import detect as holds_coco_json
from annokit.data.coco_json_layout import instances_files, read_coco_json_layout
from annokit.data.csv_layout import (
    IMAGES,
    LABELS_CSV,
    TEST_SHARE_KEY,
    CsvLayout,
    read_csv_layout,
)
from annokit.data.voc import FOLDER_PREFIXES, LABELS_FILE, find_voc_folder

COCO_ANNOTATIONS = tuple(
    f"annotations/{kind}_{split}2014.json"
    for kind in ("instances", "captions")
    for split in ("train", "val")
)
NUSWIDE_LISTS = (
    "ImageList/Imagelist.txt",
    "ImageList/TrainImagelist.txt",
    "ImageList/TestImagelist.txt",
    "Concepts81.txt",
    "NUS_WID_Tags/TagList1k.txt",
    "NUS_WID_Tags/AllTags1k.txt",
)


# VOC 2007's files, relative to its VOC2007 folder (which may sit below the root, voc.py).
VOC_IMAGE_SETS = ("ImageSets/Main/trainval.txt", "ImageSets/Main/test.txt")
VOC_FILE_STARTS = ("ImageSets/", LABELS_FILE)
DATASETS_HINT = "use 'coco2014', 'nuswide', 'voc2007', 'csv' or 'cocojson'"


# Where an annotation file may also be found (NUS-WIDE's ConceptsList.zip unpacks to a folder).
ALTERNATIVE_LOCATIONS = {"Concepts81.txt": "ConceptsList/Concepts81.txt"}

# Folders holding a dataset's image files (every path of a table starts with one of them).
IMAGE_FOLDERS = {
    "coco2014": ("train2014", "val2014"),
    "nuswide": ("Flickr",),
    "voc2007": tuple(f"{prefix}/JPEGImages".lstrip("/") for prefix in FOLDER_PREFIXES),
    "csv": (IMAGES,),
    "cocojson": (IMAGES,),
}

# How each layout is recognised, how it is described in messages, and
# the shipped profiles that read it.
LAYOUT_NAMES = {
    "coco2014": "MS-COCO 2014",
    "nuswide": "NUS-WIDE",
    "voc2007": "PASCAL VOC 2007",
    "csv": "folder + CSV",
    "cocojson": "COCO JSON",
}
LAYOUT_SIGNS = {
    "coco2014": "annotations/instances_*2014.json",
    "nuswide": "ImageList/, Groundtruth/ or NUS_WID_Tags/",
    "voc2007": "[VOCdevkit/][VOC2007/]Annotations/ or ImageSets/",
    "csv": f"{IMAGES}/ and {LABELS_CSV}",
    "cocojson": f"{IMAGES}/ and [annotations/]{INSTANCES_PATTERN}",
}
LAYOUT_PROFILES = {
    "coco2014": ("coco-m3", "coco-multi-order", "demo-coco", "demo-coco-multi-order"),
    "nuswide": ("nuswide-m3", "nuswide-multi-order", "demo", "demo-multi-order", "demo-seeds"),
    "voc2007": ("demo-voc", "voc2007-cnn-rnn"),
    "csv": ("demo-csv",),
    "cocojson": ("demo-cocojson",),
}


def resolve_file(root: Path, rel: str) -> Path:
    """The path of an annotation file under root, trying its alternative location when absent."""
    path = Path(root) / rel
    if not path.exists() and rel in ALTERNATIVE_LOCATIONS:
        alternative = Path(root) / ALTERNATIVE_LOCATIONS[rel]
        if alternative.exists():
            return alternative
    if not path.exists() and rel.startswith(VOC_FILE_STARTS):
        folder = find_voc_folder(Path(root))
        if folder is not None:
            return folder / rel
    return path


def read_dataset(
    dataset: str, root: Path, tag_vocab_size: int = 1000, layout: CsvLayout | None = None
) -> AnnotationTable:
    """Read a dataset root in its real layout ("coco2014", "nuswide", "voc2007", "csv", the
    folder + CSV layout read as ``layout`` says, or "cocojson")."""
    if dataset == "coco2014":
        from annokit.data.coco import read_coco

        return read_coco(Path(root), tag_vocab_size=tag_vocab_size)
    if dataset == "nuswide":
        from annokit.data.nuswide import read_nuswide

        return read_nuswide(Path(root))
    if dataset == "voc2007":
        return read_voc_table(Path(root))
    if dataset == "csv":
        return read_csv_layout(Path(root), layout or CsvLayout(), tag_vocab_size)
    if dataset == "cocojson":
        return read_coco_json_layout(Path(root), tag_vocab_size)
    raise ValueError(f"unknown dataset {dataset!r}: {DATASETS_HINT}")


def read_voc_table(root: Path) -> AnnotationTable:
    """VOC 2007 as the kit's table: its paths made relative to ``root`` (the VOC2007 folder may sit
    below it), labels from ``labels.txt`` or VOC's 20 classes, no tags."""
    from dataclasses import replace

    from annokit.data.voc import read_voc2007

    voc = read_voc2007(root)
    prefix = voc.root.relative_to(root).as_posix() if voc.root != root else ""
    if not prefix:
        return voc.table
    return replace(voc.table, paths=np.char.add(f"{prefix}/", voc.table.paths.astype(str)))


def detect_layouts(root: Path) -> list[str]:
    """The datasets whose layout ``root`` holds: "coco2014", "nuswide",
    "voc2007", "csv" and/or "cocojson" (empty when none)."""
    root = Path(root)
    found = []
    if any((root / "annotations").glob("instances_*2014.json")):
        found.append("coco2014")
    if any((root / folder).is_dir() for folder in ("ImageList", "Groundtruth", "NUS_WID_Tags")):
        found.append("nuswide")
    if root.is_dir() and find_voc_folder(root) is not None:
        found.append("voc2007")
    if (root / LABELS_CSV).is_file():
        found.append("csv")
    if holds_coco_json(root):
        found.append("cocojson")
    return found


def check_root(root: Path, dataset: str, what: str) -> None:
    """Refuse a root that is missing, a file, or holds the other dataset's
    layout; ``what`` names who expects it."""
    root = Path(root)
    if dataset not in LAYOUT_NAMES:
        raise ValueError(f"unknown dataset {dataset!r} in {what}: {DATASETS_HINT}")
    expected = LAYOUT_NAMES[dataset]
    if not root.exists():
        raise FileNotFoundError(
            f"the dataset root {root} does not exist ({what} expects {expected} there): "
            f"point data_root (--data-root) at your {expected} copy"
        )
    if not root.is_dir():
        raise ValueError(
            f"the dataset root {root} is a file, not a folder ({what} expects the {expected} "
            "layout): unpack it if it is an archive, and point data_root (--data-root) at the "
            f"folder holding {LAYOUT_SIGNS[dataset]}"
        )
    found = detect_layouts(root)
    if found and dataset not in found:
        other = found[0]
        raise ValueError(
            f"the dataset root {root} holds the {LAYOUT_NAMES[other]} layout "
            f"({LAYOUT_SIGNS[other]}), but {what} expects {expected}: this root fits the "
            f"{LAYOUT_NAMES[other]} profiles {', '.join(LAYOUT_PROFILES[other])}; for {expected}, "
            f"point data_root (--data-root) at your {expected} copy"
        )
    if not found:
        layouts = " nor ".join(
            f"the {LAYOUT_NAMES[d]} layout ({LAYOUT_SIGNS[d]})" for d in LAYOUT_NAMES
        )
        raise ValueError(
            f"the dataset root {root} holds neither {layouts}; "
            f"{what} expects {expected}: point data_root (--data-root) at the folder that holds "
            f"them{_subfolder_hint(root)}"
        )


def _subfolder_hint(root: Path) -> str:
    """ ", e.g. <sub>" when a direct subfolder of root holds a layout (the
    demo writes coco/, nuswide/, voc2007/, csv/ and cocojson/)."""
    holders = [str(sub) for sub in sorted(root.iterdir()) if sub.is_dir() and detect_layouts(sub)]
    return f", e.g. {' or '.join(holders[:2])}" if holders else ""


def annotation_files(root: Path, dataset: str) -> list[str]:
    """Relative paths of the annotation files a manifest pins (NUS-WIDE:
    plus every ground-truth file found; VOC 2007: plus every per-class file and labels.txt;
    folder + CSV: labels.csv; COCO JSON: every instances_*.json found)."""
    if dataset == "coco2014":
        return list(COCO_ANNOTATIONS)
    if dataset == "csv":
        return [LABELS_CSV]
    if dataset == "cocojson":
        return instances_files(Path(root))
    if dataset == "voc2007":
        return voc_annotation_files(Path(root))
    groundtruth = sorted(
        p.relative_to(root).as_posix() for p in (Path(root) / "Groundtruth").rglob("Labels_*.txt")
    )
    return list(NUSWIDE_LISTS) + groundtruth


def voc_annotation_files(root: Path) -> list[str]:
    """VOC 2007's image set files, every per-class trainval/test file found, and ``labels.txt``
    when present, relative to the VOC2007 folder."""
    folder = find_voc_folder(root)
    if folder is None:
        return list(VOC_IMAGE_SETS)
    main = folder / "ImageSets" / "Main"
    per_class = sorted(
        p.relative_to(folder).as_posix()
        for pattern in ("*_trainval.txt", "*_test.txt")
        for p in main.glob(pattern)
    )
    extra = [LABELS_FILE] if (folder / LABELS_FILE).is_file() else []
    return list(VOC_IMAGE_SETS) + per_class + extra


def layout_entry(dataset: str, layout: CsvLayout) -> dict[str, str | float]:
    """What a manifest's annotation file entries add for a user's layout: how labels.csv is read
    (folder + CSV), the ratio rule's test share (COCO JSON); nothing for the published datasets."""
    if dataset == "csv":
        return layout.entry()
    return {TEST_SHARE_KEY: layout.test_share} if dataset == "cocojson" else {}


def recorded_layout(files: dict[str, dict]) -> CsvLayout:
    """How a manifest's ``files`` say the root is read: labels.csv's delimiter, and the test share
    any of its entries records (the defaults where none does)."""
    layout = CsvLayout.from_files(files)
    shares = [entry[TEST_SHARE_KEY] for entry in files.values() if TEST_SHARE_KEY in entry]
    return CsvLayout(layout.delimiter, float(shares[0])) if shares else layout
