"""Writing the demo in the COCO JSON layout (a CVAT-style COCO export without captions), derived
from its COCO layout without a random draw.

``<demo root>/cocojson/`` holds ``images/000001.jpg``, ``images/000002.jpg``, ... (the JPEG bytes
of ``coco/``, copied, in generation order, the names of the folder + CSV layout) and
``annotations/instances_train.json`` and ``instances_test.json``: the demo's images of each split
with ids 1, 2, ... in generation order and their NUS-WIDE user tags as the optional ``tags`` list,
the 25 categories, and the instance annotations of ``coco/`` with their image ids renumbered. A
demo generated before this layout existed gains it without rendering or touching the others.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from annokit.data.annotation_table import TEST, TRAIN
from annokit.data.coco_json_layout import ANNOTATIONS
from annokit.data.csv_layout import IMAGES
from annokit.demo.csv_layout_writer import csv_image_names
from annokit.demo.files import write_json
from annokit.demo.truth import DemoTruth
from annokit.demo.writers import COCO_FOLDERS

COCO_JSON_LAYOUT = "cocojson"  # the folder under the demo root
INFO = {"description": "annokit synthetic demo data in the COCO JSON layout", "version": "1.0"}


def coco_instances(coco_root: Path) -> tuple[list[dict], list[dict], dict[int, dict]]:
    """The categories, every instance annotation (train2014 then val2014) and each image's entry
    by id, of the COCO layout."""
    categories, annotations, images = [], [], {}
    for folder in COCO_FOLDERS.values():
        path = Path(coco_root) / "annotations" / f"instances_{folder}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        categories = data["categories"]
        annotations += data["annotations"]
        images.update({int(image["id"]): image for image in data["images"]})
    return categories, annotations, images


def instances_by_split(truth: DemoTruth, coco_root: Path) -> dict[str, dict]:
    """The content of ``instances_<split>.json`` for train and test: images (id, file name, size,
    tags), the categories and the annotations, image ids renumbered in generation order."""
    categories, annotations, coco_images = coco_instances(coco_root)
    new_id = {int(k): i + 1 for i, k in enumerate(truth.coco_ids)}
    split_of = {i + 1: str(s) for i, s in enumerate(truth.split)}
    files: dict[str, dict] = {
        split: {"info": INFO, "images": [], "annotations": [], "categories": categories}
        for split in (TRAIN, TEST)
    }
    for i, name in enumerate(csv_image_names(len(truth))):
        tags = [t for t, on in zip(truth.tag_names, truth.tags[i]) if on]
        size = coco_images[int(truth.coco_ids[i])]
        image = {"id": i + 1, "file_name": name, "width": size["width"], "height": size["height"]}
        image["tags"] = tags
        files[str(truth.split[i])]["images"].append(image)
    for ann in annotations:
        image_id = new_id[int(ann["image_id"])]
        files[split_of[image_id]]["annotations"].append({**ann, "image_id": image_id})
    return files


def write_coco_json_layout(json_root: Path, truth: DemoTruth, coco_root: Path) -> Path:
    """Write ``json_root`` (images/ and annotations/instances_{train,test}.json) from the COCO
    layout under ``coco_root``, all at once (built in a sibling folder, then renamed)."""
    json_root, coco_root = Path(json_root), Path(coco_root)
    staging = json_root.with_name(f".{json_root.name}-partial")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / IMAGES).mkdir(parents=True)
    for source, name in zip(truth.coco_files, csv_image_names(len(truth))):
        shutil.copyfile(coco_root / str(source), staging / IMAGES / name)
    for split, content in instances_by_split(truth, coco_root).items():
        write_json(staging / ANNOTATIONS / f"instances_{split}.json", content)
    if json_root.exists():
        shutil.rmtree(json_root)
    os.replace(staging, json_root)
    return json_root
