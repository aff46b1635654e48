"""The COCO-format JSON layout of a user's own labelled images: the ``instances_*.json`` that CVAT
(COCO 1.0) and Label Studio (COCO) export, without captions, beside an ``images/`` folder.

A root holds ``images/`` and one or more ``instances_<name>.json``, in ``annotations/`` or at the
root. An image's labels are the categories of its annotations (boxes and masks are not used); an
image without annotation has no label. Tags are optional: a list ``"tags": ["beach", "sunset"]``
on an image's entry (M3's tags branch; without any, the tag rows are not run). The split comes from
the file name: ``instances_train*.json`` is train, ``instances_test*.json`` and
``instances_val*.json`` are test, any other (CVAT's ``instances_default.json``) is train and the
``ratio`` split rule draws a seeded test share. The label vocabulary is the names of the categories
that occur in an annotation, sorted by name (categories never used are left out, as the folder +
CSV layout does); the tag vocabulary the ``tag_vocab_size`` most frequent tags, sorted. An image's
``file_name`` is relative to ``images/`` (a leading ``images/``, as Label Studio writes it, is
kept once; CVAT's ``images/<subset>/`` is found too).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from annokit.data.annotation_table import TEST, TRAIN, AnnotationTable
from annokit.data.csv_layout import IMAGES, frequent_tags, multi_hot

DATASET = "cocojson"
ANNOTATIONS = "annotations"
PATTERN = "instances_*.json"
TEST_PREFIXES = ("instances_test", "instances_val")
EXPORT_HINT = "export the dataset again as COCO (CVAT: COCO 1.0; Label Studio: COCO)"


def instances_files(root: Path) -> list[str]:
    """The ``instances_*.json`` under ``root/annotations`` and ``root``, relative, sorted."""
    root = Path(root)
    found = [*(root / ANNOTATIONS).glob(PATTERN), *root.glob(PATTERN)]
    return sorted(path.relative_to(root).as_posix() for path in found if path.is_file())


def file_split(rel: str) -> str:
    """The split a file's name gives its images: test for instances_test*/instances_val*."""
    return TEST if Path(rel).name.startswith(TEST_PREFIXES) else TRAIN


def subset_of(rel: str) -> str:
    """The subset a file names (``instances_default.json`` -> ``default``), CVAT's image folder."""
    return Path(rel).stem.removeprefix("instances_")


def load_instances(path: Path) -> dict:
    """A parsed instances file; one line naming the file (and the line) when it is not COCO."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}: not valid JSON at line {error.lineno}, column {error.colno} ({error.msg}): "
            f"fix it there, or {EXPORT_HINT}"
        ) from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error}): {EXPORT_HINT}") from None
    lists = ("images", "categories", "annotations")
    if not isinstance(data, dict) or not all(isinstance(data.get(k, []), list) for k in lists):
        raise ValueError(
            f"{path}: not a COCO instances file (an object with the lists images, categories "
            f"and annotations): {EXPORT_HINT}"
        )
    if not data.get("images"):
        raise ValueError(f"{path} lists no image: {EXPORT_HINT}, or remove the file")
    if not data.get("categories"):
        raise ValueError(f"{path} lists no category: {EXPORT_HINT} with its labels")
    if not data.get("annotations"):
        raise ValueError(
            f"{path} lists {len(data['categories'])} categories but no annotation: no image has "
            f"a label; {EXPORT_HINT} with its annotations (not the images only)"
        )
    return data


def category_names(path: Path, categories: list) -> dict[int, str]:
    """Category id -> name of one file; a category without both, or an id twice, is an error."""
    names: dict[int, str] = {}
    for k, category in enumerate(categories):
        ok = isinstance(category, dict) and isinstance(category.get("name"), str)
        if not ok or not isinstance(category.get("id"), int) or not category["name"].strip():
            raise ValueError(
                f"{path}: category {k + 1} ({describe(category)}) needs an integer id and a "
                f"name: {EXPORT_HINT}"
            )
        if category["id"] in names:
            raise ValueError(
                f"{path} lists the category id {category['id']} twice ({names[category['id']]!r} "
                f"and {category['name']!r}): give each category its own id"
            )
        names[category["id"]] = category["name"].strip()
    return names


def image_entries(
    path: Path, rel: str, images: list, first_file: dict[str, str]
) -> dict[int, tuple[str, list[str]]]:
    """Image id -> (file name under images/, tags) of one file; an image listed twice (by id, or
    by file name in any file) is an error. ``first_file`` records each file name's file."""
    entries: dict[int, tuple[str, list[str]]] = {}
    for k, image in enumerate(images):
        name = image.get("file_name") if isinstance(image, dict) else None
        if not isinstance(name, str) or not isinstance(image.get("id"), int):
            raise ValueError(
                f"{path}: image {k + 1} ({describe(image)}) needs an integer id and a file_name: "
                f"{EXPORT_HINT}"
            )
        name = name.replace("\\", "/").removeprefix(f"{IMAGES}/")
        if not name or name.startswith("/") or ".." in name.split("/"):
            raise ValueError(
                f"{path}: image {image['id']} has the file_name {image['file_name']!r}: give a "
                f"path relative to {IMAGES}/"
            )
        if image["id"] in entries:
            raise ValueError(
                f"{path} lists the image id {image['id']} twice ({entries[image['id']][0]} and "
                f"{name}): keep one entry per image, with all its annotations"
            )
        if name in first_file:
            raise ValueError(
                f"{path} lists the image {name} again (first in {first_file[name]}): keep one "
                "entry per image, in one file"
            )
        first_file[name] = rel
        entries[image["id"]] = (name, image_tags(path, image))
    return entries


def image_tags(path: Path, image: dict) -> list[str]:
    """An image's optional ``tags``: a list of distinct non-empty strings."""
    tags = image.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise ValueError(
            f"{path}: image {image['id']} has the tags {tags!r}: give a list of words, "
            '"tags": ["beach", "sunset"], or leave the field out'
        )
    return list(dict.fromkeys(t.strip() for t in tags))


def image_labels(
    path: Path, annotations: list, images: dict[int, tuple], names: dict[int, str]
) -> dict[int, set[str]]:
    """Image id -> the category names of its annotations; an unknown image or category id is an
    error naming the annotation."""
    labels: dict[int, set[str]] = {image_id: set() for image_id in images}
    for k, ann in enumerate(annotations):
        which = f"annotation {ann.get('id', k + 1) if isinstance(ann, dict) else k + 1}"
        if not isinstance(ann, dict) or ann.get("image_id") not in images:
            raise ValueError(
                f"{path}: {which} has the image_id {describe(ann, 'image_id')}, which no image of "
                f"the file lists: {EXPORT_HINT}, or remove the annotation"
            )
        if ann.get("category_id") not in names:
            raise ValueError(
                f"{path}: {which} has the category_id {describe(ann, 'category_id')}, which no "
                f"category of the file lists: {EXPORT_HINT}, or add the category"
            )
        labels[ann["image_id"]].add(names[ann["category_id"]])
    return labels


def describe(value: object, key: str | None = None) -> str:
    """A short text of a JSON value (or of one of its keys) for a message."""
    if key is not None:
        value = value.get(key) if isinstance(value, dict) else None
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def image_path(root: Path, name: str, subset: str) -> str:
    """``images/<name>``, or CVAT's ``images/<subset>/<name>`` where only that file exists."""
    direct, nested = f"{IMAGES}/{name}", f"{IMAGES}/{subset}/{name}"
    if not (root / direct).is_file() and (root / nested).is_file():
        return nested
    return direct


def read_coco_json_layout(root: Path, tag_vocab_size: int = 1000) -> AnnotationTable:
    """The COCO JSON layout under ``root`` as the kit's table (one row per image, in file order);
    a bad file raises one line naming the file and the fix."""
    root = Path(root)
    files = instances_files(root)
    if not files:
        raise FileNotFoundError(
            f"{root} holds no {PATTERN} (looked in {root / ANNOTATIONS} and {root}): put the COCO "
            f"export's instances file(s) there, beside {IMAGES}/"
        )
    first_file: dict[str, str] = {}
    ids, paths, split, labels, tags = [], [], [], [], []
    for rel in files:
        path = root / rel
        data = load_instances(path)
        names = category_names(path, data["categories"])
        images = image_entries(path, rel, data["images"], first_file)
        found = image_labels(path, data["annotations"], images, names)
        for image_id, (name, image_tags_) in images.items():
            ids.append(name)
            paths.append(image_path(root, name, subset_of(rel)))
            split.append(file_split(rel))
            labels.append(sorted(found[image_id]))
            tags.append(image_tags_)
    label_names = tuple(sorted({name for names in labels for name in names}))
    tag_names = frequent_tags(tags, tag_vocab_size)
    return AnnotationTable(
        dataset=DATASET,
        image_ids=np.array(ids, dtype=str),
        paths=np.array(paths, dtype=str),
        official_split=np.array(split, dtype=str),
        labels=multi_hot(labels, label_names),
        tags=multi_hot(tags, tag_names),
        label_names=label_names,
        tag_names=tag_names,
    )


def detect(root: Path) -> bool:
    """Whether ``root`` holds the COCO JSON layout (``images/`` and an ``instances_*.json``)."""
    return (Path(root) / IMAGES).is_dir() and bool(instances_files(root))
