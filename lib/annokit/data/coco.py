"""Reader of the real MS-COCO 2014 layout: instance labels, caption-derived tags, official split.

Expected under the dataset root (from the official "annotations_trainval2014.zip" and the
train2014/val2014 image archives)::

    annotations/instances_train2014.json   annotations/captions_train2014.json
    annotations/instances_val2014.json     annotations/captions_val2014.json
    train2014/COCO_train2014_000000xxxxxx.jpg
    val2014/COCO_val2014_000000xxxxxx.jpg

Image files are not opened here; a separate verify step checks them.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO

from annokit.data.annotation_table import TEST, TRAIN, AnnotationTable
from annokit.data.captions import DEFAULT_VOCABULARY_SIZE, build_vocabulary, tags_matrix

DATASET = "coco2014"
# (image folder, official split); both papers train on train2014 and test on val2014.
SPLITS = (("train2014", TRAIN), ("val2014", TEST))
# What the readers index into: the top-level keys of an instances file and the keys of its entries.
INSTANCES_KEYS = ("images", "annotations", "categories")
INSTANCES_ENTRY_KEYS = {
    "images": ("id", "file_name"),
    "annotations": ("id", "image_id", "category_id"),
    "categories": ("id", "name"),
}
REEXTRACT = 're-extract it from the official "annotations_trainval2014.zip"'


def read_coco(root: Path, tag_vocab_size: int = DEFAULT_VOCABULARY_SIZE) -> AnnotationTable:
    """Read COCO 2014 under ``root``: train2014 then val2014 rows, each sorted by image id."""
    root = Path(root)
    files = {
        (kind, folder): annotation_file(root, kind, folder)
        for kind in ("instances", "captions")
        for folder, _ in SPLITS
    }
    cocos = {folder: load_instances(files["instances", folder]) for folder, _ in SPLITS}
    category_ids, label_names = same_categories(
        cocos, [files["instances", folder] for folder, _ in SPLITS]
    )

    parts = []
    for folder, split in SPLITS:
        coco = cocos[folder]
        image_ids = sorted(coco.imgs)
        captions = load_captions(files["captions", folder], set(image_ids))
        parts.append(
            {
                "ids": image_ids,
                "paths": [f"{folder}/{coco.imgs[i]['file_name']}" for i in image_ids],
                "split": split,
                "labels": label_matrix(coco, image_ids, category_ids, files["instances", folder]),
                "captions": [captions.get(i, []) for i in image_ids],
            }
        )

    train_captions = [c for part in parts if part["split"] == TRAIN for c in part["captions"]]
    vocabulary = build_vocabulary(train_captions, tag_vocab_size)
    all_captions = [c for part in parts for c in part["captions"]]
    return AnnotationTable(
        dataset=DATASET,
        image_ids=np.array([str(i) for part in parts for i in part["ids"]], dtype=str),
        paths=np.array([p for part in parts for p in part["paths"]], dtype=str),
        official_split=np.array([part["split"] for part in parts for _ in part["ids"]], dtype=str),
        labels=np.concatenate([part["labels"] for part in parts]),
        tags=tags_matrix(all_captions, vocabulary),
        label_names=label_names,
        tag_names=vocabulary,
    )


def annotation_file(root: Path, kind: str, folder: str) -> Path:
    """Path of ``annotations/<kind>_<folder>.json``, failing
    early with the fix when it is absent."""
    path = root / "annotations" / f"{kind}_{folder}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"COCO annotation file {path} is missing: unpack the COCO 2014 "
            f'"annotations_trainval2014.zip" under {root / "annotations"}'
        )
    return path


def read_json(path: Path, keys: tuple[str, ...]) -> dict:
    """Parse a COCO annotation file, refusing invalid JSON or a top level
    without ``keys`` with the file named."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"COCO annotation file {path} is not valid JSON, it may be truncated "
            f"({_reason(error)}): {REEXTRACT}"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(
            f"COCO annotation file {path} holds a JSON {type(data).__name__}, not an object: "
            f"{REEXTRACT}"
        )
    missing = [key for key in keys if key not in data]
    if missing:
        raise ValueError(
            f"COCO annotation file {path} has no {', '.join(repr(k) for k in missing)} key: "
            f"{REEXTRACT}"
        )
    return data


def _reason(error: ValueError) -> str:
    """A JSON or decoding error without the document it quotes."""
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg}: line {error.lineno} column {error.colno}"
    return str(error)


def check_entries(path: Path, section: str, entries: object, keys: tuple[str, ...]) -> list[dict]:
    """The list ``section`` of a COCO file, each entry required to be an object holding ``keys``."""
    if not isinstance(entries, list):
        raise ValueError(
            f"COCO annotation file {path}: {section!r} is a {type(entries).__name__}, not a list: "
            f"{REEXTRACT}"
        )
    wanted = set(keys)
    bad = next(
        (
            n
            for n, entry in enumerate(entries)
            if not (isinstance(entry, dict) and entry.keys() >= wanted)
        ),
        None,
    )
    if bad is not None:
        entry = entries[bad] if isinstance(entries[bad], dict) else {}
        missing = ", ".join(repr(k) for k in keys if k not in entry)
        raise ValueError(
            f"COCO annotation file {path}: {section}[{bad}] has no {missing} key: {REEXTRACT}"
        )
    return entries


def load_instances(path: Path) -> COCO:
    """Load an instances file with pycocotools (without its progress
    prints), its structure checked first."""
    data = read_json(path, INSTANCES_KEYS)
    for section, keys in INSTANCES_ENTRY_KEYS.items():
        check_entries(path, section, data[section], keys)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def same_categories(cocos: dict[str, COCO], paths: list[Path]) -> tuple[list[int], tuple[str, ...]]:
    """Category ids sorted ascending and their names, required identical in every instances file."""
    lists = [sorted((c["id"], c["name"]) for c in coco.cats.values()) for coco in cocos.values()]
    if any(other != lists[0] for other in lists[1:]):
        raise ValueError(
            f"COCO category lists differ between {' and '.join(str(p) for p in paths)}; "
            "both must come from the same annotations_trainval2014.zip"
        )
    return [cid for cid, _ in lists[0]], tuple(name for _, name in lists[0])


def label_matrix(
    coco: COCO, image_ids: list[int], category_ids: list[int], path: Path
) -> np.ndarray:
    """Rows over ``image_ids``: the categories of each image's instances, crowd ones included."""
    row = {image_id: i for i, image_id in enumerate(image_ids)}
    column = {category_id: j for j, category_id in enumerate(category_ids)}
    labels = np.zeros((len(image_ids), len(category_ids)), dtype=bool)
    for ann in coco.anns.values():
        if ann["image_id"] not in row or ann["category_id"] not in column:
            raise ValueError(
                f"{path}: annotation {ann.get('id')} refers to image {ann['image_id']} / category "
                f"{ann['category_id']}, not listed in the file's images / categories; the file is "
                "corrupt"
            )
        labels[row[ann["image_id"]], column[ann["category_id"]]] = True
    return labels


def load_captions(path: Path, image_ids: set[int]) -> dict[int, list[str]]:
    """Captions per image id, in file order, refusing ids absent
    from the matching instances file."""
    annotations = check_entries(
        path,
        "annotations",
        read_json(path, ("annotations",))["annotations"],
        ("image_id", "caption"),
    )
    unknown = sorted({a["image_id"] for a in annotations} - image_ids)
    if unknown:
        raise ValueError(
            f"{path} has captions for {len(unknown)} image ids absent from the matching instances "
            f"file, e.g. {unknown[:5]}; both files must come from the same "
            "annotations_trainval2014.zip"
        )
    captions: dict[int, list[str]] = defaultdict(list)
    for a in annotations:
        captions[a["image_id"]].append(a["caption"])
    return captions
