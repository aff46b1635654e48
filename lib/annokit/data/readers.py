"""One entry point over the dataset readers, keyed by dataset name."""

from __future__ import annotations

from pathlib import Path

from annokit.data.annotation_table import AnnotationTable

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


# Where an annotation file may also be found (NUS-WIDE's ConceptsList.zip unpacks to a folder).
ALTERNATIVE_LOCATIONS = {"Concepts81.txt": "ConceptsList/Concepts81.txt"}

# Folders holding a dataset's image files (every path of a table starts with one of them).
IMAGE_FOLDERS = {"coco2014": ("train2014", "val2014"), "nuswide": ("Flickr",)}

# How each layout is recognised, how it is described in messages, and
# the shipped profiles that read it.
LAYOUT_NAMES = {"coco2014": "MS-COCO 2014", "nuswide": "NUS-WIDE"}
LAYOUT_SIGNS = {
    "coco2014": "annotations/instances_*2014.json",
    "nuswide": "ImageList/, Groundtruth/ or NUS_WID_Tags/",
}
LAYOUT_PROFILES = {
    "coco2014": ("coco-m3", "coco-multi-order", "demo-coco", "demo-coco-multi-order"),
    "nuswide": ("nuswide-m3", "nuswide-multi-order", "demo", "demo-multi-order", "demo-seeds"),
}


def resolve_file(root: Path, rel: str) -> Path:
    """The path of an annotation file under root, trying its alternative location when absent."""
    path = Path(root) / rel
    if not path.exists() and rel in ALTERNATIVE_LOCATIONS:
        alternative = Path(root) / ALTERNATIVE_LOCATIONS[rel]
        if alternative.exists():
            return alternative
    return path


def read_dataset(dataset: str, root: Path, tag_vocab_size: int = 1000) -> AnnotationTable:
    """Read a dataset root in its real layout ("coco2014" or "nuswide")."""
    if dataset == "coco2014":
        from annokit.data.coco import read_coco

        return read_coco(Path(root), tag_vocab_size=tag_vocab_size)
    if dataset == "nuswide":
        from annokit.data.nuswide import read_nuswide

        return read_nuswide(Path(root))
    raise ValueError(f"unknown dataset {dataset!r}: use 'coco2014' or 'nuswide'")


def detect_layouts(root: Path) -> list[str]:
    """The datasets whose layout ``root`` holds: "coco2014"
    and/or "nuswide" (empty when neither)."""
    root = Path(root)
    found = []
    if any((root / "annotations").glob("instances_*2014.json")):
        found.append("coco2014")
    if any((root / folder).is_dir() for folder in ("ImageList", "Groundtruth", "NUS_WID_Tags")):
        found.append("nuswide")
    return found


def check_root(root: Path, dataset: str, what: str) -> None:
    """Refuse a root that is missing, a file, or holds the other dataset's
    layout; ``what`` names who expects it."""
    root = Path(root)
    if dataset not in LAYOUT_NAMES:
        raise ValueError(f"unknown dataset {dataset!r} in {what}: use 'coco2014' or 'nuswide'")
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
        raise ValueError(
            f"the dataset root {root} holds neither the MS-COCO 2014 layout "
            f"({LAYOUT_SIGNS['coco2014']}) nor the NUS-WIDE layout ({LAYOUT_SIGNS['nuswide']}); "
            f"{what} expects {expected}: point data_root (--data-root) at the folder that holds "
            f"them{_subfolder_hint(root)}"
        )


def _subfolder_hint(root: Path) -> str:
    """ ", e.g. <sub>" when a direct subfolder of root holds a layout (the
    demo writes coco/ and nuswide/)."""
    holders = [str(sub) for sub in sorted(root.iterdir()) if sub.is_dir() and detect_layouts(sub)]
    return f", e.g. {' or '.join(holders[:2])}" if holders else ""


def annotation_files(root: Path, dataset: str) -> list[str]:
    """Relative paths of the annotation files a manifest pins (NUS-WIDE:
    plus every ground-truth file found)."""
    if dataset == "coco2014":
        return list(COCO_ANNOTATIONS)
    groundtruth = sorted(
        p.relative_to(root).as_posix() for p in (Path(root) / "Groundtruth").rglob("Labels_*.txt")
    )
    return list(NUSWIDE_LISTS) + groundtruth
