"""Writing the demo in the real MS-COCO 2014 and NUS-WIDE on-disk
layouts, byte for byte reproducibly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from annokit.demo.drawing import Instance
from annokit.demo.files import write_bytes, write_json, write_text_lines
from annokit.demo.truth import DemoTruth
from annokit.demo.vocabulary import CONCEPTS

# The same readers then serve the demo and the real data. Every file is built in a fixed
# order and serialised the same way, so one configuration always gives the same bytes.

# The ids real COCO leaves unused, so demo category ids have gaps too and readers must remap them.
COCO_ID_GAPS = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)
COCO_FOLDERS = {"train": "train2014", "test": "val2014"}
_COCO_INFO = {
    "description": "annokit synthetic demo data in the COCO 2014 layout",
    "url": "",
    "version": "1.0",
    "year": 2014,
    "contributor": "annokit demo generator",
    "date_created": "2015-01-27 09:11:52.357475",
}
_COCO_LICENSES = (
    {
        "url": "http://creativecommons.org/licenses/by-nc-sa/2.0/",
        "id": 1,
        "name": "Attribution-NonCommercial-ShareAlike License",
    },
    {
        "url": "http://creativecommons.org/licenses/by-nc/2.0/",
        "id": 2,
        "name": "Attribution-NonCommercial License",
    },
    {"url": "http://creativecommons.org/licenses/by/2.0/", "id": 4, "name": "Attribution License"},
)
# NUS-WIDE was published from Windows: CRLF line endings and C:\ paths, which readers must tolerate.
NUSWIDE_NEWLINE = "\r\n"
NUSWIDE_IMAGE_DIR = "C:\\ImageData\\Flickr"


def coco_category_ids(n: int) -> list[int]:
    """The first ``n`` positive ids that real COCO uses (skipping its gaps), ascending."""
    ids, candidate = [], 1
    while len(ids) < n:
        if candidate not in COCO_ID_GAPS:
            ids.append(candidate)
        candidate += 1
    return ids


def coco_file_name(split: str, image_id: int) -> str:
    """Path of a COCO image relative to the COCO root, e.g.
    ``train2014/COCO_train2014_000000000123.jpg``."""
    folder = COCO_FOLDERS[split]
    return f"{folder}/COCO_{folder}_{image_id:012d}.jpg"


# --------------------------------------------------------------------------- COCO 2014


def coco_image_entry(file_name: str, image_id: int, size: int) -> dict:
    """An ``images`` entry with the official keys; dates and urls derived from the id."""
    captured = datetime(2013, 11, 14, 11, 18, 45) + timedelta(
        seconds=(image_id * 7919) % (200 * 86400)
    )
    return {
        "license": _COCO_LICENSES[image_id % len(_COCO_LICENSES)]["id"],
        "file_name": file_name.rsplit("/", 1)[1],
        "coco_url": f"http://images.cocodataset.org/{file_name}",
        "height": size,
        "width": size,
        "date_captured": captured.strftime("%Y-%m-%d %H:%M:%S"),
        "flickr_url": f"http://farm{1 + image_id % 9}.staticflickr.com/"
        f"{1000 + image_id % 8000}/{image_id}_demo.jpg",
        "id": image_id,
    }


def coco_instance_annotation(
    instance: Instance, image_id: int, category_id: int, ann_id: int
) -> dict:
    """An instance annotation: the bbox, and its outline as the segmentation polygon."""
    x, y, w, h = (round(float(v), 2) for v in instance.bbox)
    return {
        "segmentation": [
            [x, y, round(x + w, 2), y, round(x + w, 2), round(y + h, 2), x, round(y + h, 2)]
        ],
        "area": round(w * h, 2),
        "iscrowd": 0,
        "image_id": image_id,
        "bbox": [x, y, w, h],
        "category_id": category_id,
        "id": ann_id,
    }


def coco_categories(label_names: Sequence[str]) -> list[dict]:
    """The ``categories`` list, ids ascending with COCO's gaps."""
    return [
        {"supercategory": CONCEPTS[name].supercategory, "id": cid, "name": name}
        for name, cid in zip(label_names, coco_category_ids(len(label_names)))
    ]


def write_coco_layout(
    coco_root: Path,
    truth: DemoTruth,
    images: Sequence[bytes],
    instances: Sequence[Sequence[Instance]],
    image_size: int,
) -> None:
    """Write the JPEGs and the four official annotation files under ``coco_root``."""
    category_of = dict(zip(truth.label_names, coco_category_ids(len(truth.label_names))))
    files: dict[str, dict[str, list]] = {
        split: {"images": [], "instances": [], "captions": []} for split in COCO_FOLDERS
    }
    ann_id, caption_id = 100_000, 500_000  # ids unique across train and val, like the real files
    for i, split in enumerate(truth.split):
        image_id, file_name = int(truth.coco_ids[i]), truth.coco_files[i]
        write_bytes(coco_root / file_name, images[i])
        part = files[str(split)]
        part["images"].append(coco_image_entry(file_name, image_id, image_size))
        for instance in instances[i]:
            ann_id += 1
            category_id = category_of[instance.concept]
            part["instances"].append(
                coco_instance_annotation(instance, image_id, category_id, ann_id)
            )
        for caption in truth.captions[i]:
            caption_id += 1
            part["captions"].append({"image_id": image_id, "id": caption_id, "caption": caption})
    categories = coco_categories(truth.label_names)
    for split, folder in COCO_FOLDERS.items():
        part = files[split]
        common = {"info": _COCO_INFO, "licenses": list(_COCO_LICENSES), "images": part["images"]}
        write_json(
            coco_root / "annotations" / f"instances_{folder}.json",
            {**common, "annotations": part["instances"], "categories": categories},
        )
        write_json(
            coco_root / "annotations" / f"captions_{folder}.json",
            {**common, "annotations": part["captions"]},
        )


# --------------------------------------------------------------------------- NUS-WIDE


def nuswide_order(nuswide_paths: Sequence[str]) -> list[int]:
    """Generation indices in Imagelist order: by folder, then by file name."""
    keys = [tuple(p.split("/")[1:3]) for p in nuswide_paths]
    return sorted(range(len(keys)), key=lambda i: keys[i])


def _windows_relative(path: str) -> str:
    """``Flickr/<folder>/<name>.jpg`` as ``<folder>\\<name>.jpg``."""
    _, folder, name = path.split("/")
    return f"{folder}\\{name}"


def _zero_one_lines(column: np.ndarray) -> list[str]:
    return ["1" if v else "0" for v in column]


def write_nuswide_layout(nuswide_root: Path, truth: DemoTruth, images: Sequence[bytes]) -> None:
    """Write the JPEGs, image lists, concept list, ground truth and
    tag files under ``nuswide_root``."""
    order = nuswide_order(truth.nuswide_paths)
    for i in order:
        write_bytes(nuswide_root / truth.nuswide_paths[i], images[i])
    nl = NUSWIDE_NEWLINE
    relative = [_windows_relative(truth.nuswide_paths[i]) for i in order]
    write_text_lines(
        nuswide_root / "ImageList" / "Imagelist.txt",
        [f"{NUSWIDE_IMAGE_DIR}\\{r}" for r in relative],
        nl,
    )
    split = np.array([truth.split[i] for i in order])
    rows = {"Train": np.flatnonzero(split == "train"), "Test": np.flatnonzero(split == "test")}
    for suffix, picked in rows.items():
        write_text_lines(
            nuswide_root / "ImageList" / f"{suffix}Imagelist.txt", [relative[k] for k in picked], nl
        )
    write_text_lines(nuswide_root / "Concepts81.txt", truth.label_names, nl)
    labels = truth.labels[order]
    for j, concept in enumerate(truth.label_names):
        ground = nuswide_root / "Groundtruth"
        write_text_lines(
            ground / "AllLabels" / f"Labels_{concept}.txt", _zero_one_lines(labels[:, j]), nl
        )
        for suffix, picked in rows.items():
            write_text_lines(
                ground / "TrainTestLabels" / f"Labels_{concept}_{suffix}.txt",
                _zero_one_lines(labels[picked, j]),
                nl,
            )
    write_text_lines(nuswide_root / "NUS_WID_Tags" / "TagList1k.txt", truth.tag_names, nl)
    tags = truth.tags[order]
    write_text_lines(
        nuswide_root / "NUS_WID_Tags" / "AllTags1k.txt",
        ["\t".join("1" if v else "0" for v in row) for row in tags],
        nl,
    )
