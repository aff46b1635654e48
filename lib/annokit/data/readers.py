"""One entry point over the dataset readers, keyed by dataset name."""

from __future__ import annotations

from pathlib import Path

from annokit.data.table import AnnotationTable

COCO_ANNOTATIONS = tuple(f"annotations/{kind}_{split}2014.json" for kind in ("instances", "captions") for split in ("train", "val"))
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


def annotation_files(root: Path, dataset: str) -> list[str]:
    """Relative paths of the annotation files a manifest pins (NUS-WIDE: plus every ground-truth file found)."""
    if dataset == "coco2014":
        return list(COCO_ANNOTATIONS)
    groundtruth = sorted(p.relative_to(root).as_posix() for p in (Path(root) / "Groundtruth").rglob("Labels_*.txt"))
    return list(NUSWIDE_LISTS) + groundtruth
