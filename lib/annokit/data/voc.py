"""Reader and writer of the real PASCAL VOC 2007 layout: 20 object classes, difficult flags,
official split (trainval is train, test is test).

Expected under ``VOCdevkit/VOC2007/`` (from the official "VOCtrainval_06-Nov-2007.tar" and
"VOCtest_06-Nov-2007.tar", which unpack into the same folder)::

    Annotations/<id>.xml             <object> entries with <name> and <difficult> 0/1
    ImageSets/Main/trainval.txt      one image id per line (5,011 ids)
    ImageSets/Main/test.txt          one image id per line (4,952 ids)
    JPEGImages/<id>.jpg

An image has a label when any of its objects has that class. An object marked difficult still
gives its class, and ``VocAnnotations.difficult_only`` marks the labels whose every object is
difficult: VOC's own evaluation leaves those (image, class) entries out of the class's AP
(neither positive nor negative); the other convention counts them as positives. Image files are
not opened here; a separate verify step checks them.

The root may also be the folder the archives were unpacked in (holding ``VOCdevkit/``). A tree
whose classes are not VOC's 20 (the demo's) names them, in column order, one per line in
``VOC2007/labels.txt``; real VOC has no such file, and its 20 classes are used.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from annokit.data.annotation_table import TEST, TRAIN, AnnotationTable

DATASET = "voc2007"
CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip
# (split of the table, image set file) and the archive that holds each set.
IMAGE_SETS = ((TRAIN, "trainval"), (TEST, "test"))
ARCHIVES = {"trainval": "VOCtrainval_06-Nov-2007.tar", "test": "VOCtest_06-Nov-2007.tar"}
OFFICIAL_COUNTS = {"trainval": 5011, "test": 4952}
LAYOUT = "Annotations/, ImageSets/Main/ and JPEGImages/"
PLACEHOLDER_SIZE = 32  # side of the grey JPEG written when no image is given
LABELS_FILE = "labels.txt"  # class names of a non-VOC tree (the demo), not in real VOC
# Where the VOC2007 folder may sit below a root: the root itself, VOCdevkit/, or the unpack folder.
FOLDER_PREFIXES = ("", "VOC2007", "VOCdevkit/VOC2007")


@dataclass(frozen=True)
class VocAnnotations:
    """VOC 2007 as read: the table (paths relative to ``root``, the VOC2007 folder; no tags) and
    ``difficult_only`` (N, C), True where every object of the class in the image is difficult."""

    table: AnnotationTable
    difficult_only: np.ndarray
    root: Path

    @property
    def labels_without_difficult(self) -> np.ndarray:
        """Positives under VOC's convention: a class with a non-difficult object."""
        return self.table.labels & ~self.difficult_only

    def subset(self, rows: np.ndarray) -> VocAnnotations:
        """The same annotations restricted to ``rows`` (a boolean mask or an index array)."""
        return VocAnnotations(self.table.subset(rows), self.difficult_only[rows], self.root)


def read_voc2007(root: Path, label_names: Sequence[str] | None = None) -> VocAnnotations:
    """Read VOC 2007 under ``root`` (``VOCdevkit/``, ``VOCdevkit/VOC2007/`` or the folder holding
    ``VOCdevkit/``): trainval rows then test rows, each in its image set file's order, labels in
    ``label_names`` order (default: ``labels.txt`` when the tree has one, else VOC's 20)."""
    folder = voc_folder(Path(root))
    label_names = read_label_names(folder) if label_names is None else label_names
    column = {name: j for j, name in enumerate(label_names)}
    ids, splits, seen = [], [], {}
    for split, image_set in IMAGE_SETS:
        path = folder / "ImageSets" / "Main" / f"{image_set}.txt"
        for number, image_id in enumerate(read_ids(path, image_set), start=1):
            if image_id in seen:
                raise ValueError(
                    f"{path} line {number} lists image {image_id}, already listed by "
                    f"{seen[image_id]}; re-extract {ARCHIVES[image_set]}"
                )
            seen[image_id] = path
            ids.append(image_id)
            splits.append(split)
    labels = np.zeros((len(ids), len(label_names)), dtype=bool)
    plain = np.zeros_like(labels)  # a non-difficult object of the class
    for i, (image_id, split) in enumerate(zip(ids, splits)):
        for name, difficult in read_objects(folder, image_id, column, split):
            labels[i, column[name]] = True
            plain[i, column[name]] |= not difficult
    table = AnnotationTable(
        dataset=DATASET,
        image_ids=np.array(ids, dtype=str),
        paths=np.array([f"JPEGImages/{i}.jpg" for i in ids], dtype=str),
        official_split=np.array(splits, dtype=str),
        labels=labels,
        tags=np.zeros((len(ids), 0), dtype=bool),
        label_names=tuple(label_names),
        tag_names=(),
    )
    return VocAnnotations(table, labels & ~plain, folder)


def voc_folder(root: Path) -> Path:
    """The VOC2007 folder: ``root`` itself or ``root/VOC2007``, failing with the fix otherwise."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"the VOC 2007 root {root} is not a folder: point it at VOCdevkit/ or "
            f"VOCdevkit/VOC2007/ after unpacking {ARCHIVES['trainval']} and {ARCHIVES['test']}"
        )
    found = find_voc_folder(root)
    if found is not None:
        return found
    raise FileNotFoundError(
        f"neither {root} nor {root / 'VOC2007'} nor {root / 'VOCdevkit' / 'VOC2007'} holds the "
        f"VOC 2007 layout ({LAYOUT}): point the root at VOCdevkit/ or VOCdevkit/VOC2007/ after "
        f"unpacking {ARCHIVES['trainval']} and {ARCHIVES['test']}"
    )


def find_voc_folder(root: Path) -> Path | None:
    """The first of ``root``, ``root/VOC2007``, ``root/VOCdevkit/VOC2007`` that holds
    Annotations/ or ImageSets/, or None: the layout test every caller shares."""
    for prefix in FOLDER_PREFIXES:
        folder = Path(root) / prefix if prefix else Path(root)
        if (folder / "Annotations").is_dir() or (folder / "ImageSets").is_dir():
            return folder
    return None


def read_label_names(folder: Path) -> tuple[str, ...]:
    """The class names of a VOC2007 folder: ``labels.txt`` (one per line) if present, else VOC's."""
    path = folder / LABELS_FILE
    if not path.is_file():
        return CLASSES
    names = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    names = [name for name in names if name]
    if not names or len(set(names)) != len(names):
        raise ValueError(
            f"{path} must name each class once, one per line ({len(names)} lines, "
            f"{len(set(names))} distinct): delete it to read VOC's 20 classes, or write it again"
        )
    return tuple(names)


def read_ids(path: Path, image_set: str) -> list[str]:
    """Image ids of an image set file, one per line; CRLF and trailing blank lines tolerated."""
    if not path.is_file():
        raise FileNotFoundError(
            f"VOC image set file {path} is missing: unpack {ARCHIVES[image_set]} into the "
            f"folder that holds VOCdevkit/"
        )
    lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line or len(line.split()) != 1:
            raise ValueError(
                f"{path} line {number} ({line!r}) is not one image id; re-extract "
                f"{ARCHIVES[image_set]}"
            )
    return lines


def read_objects(
    folder: Path, image_id: str, column: dict[str, int], split: str
) -> list[tuple[str, bool]]:
    """(class name, difficult) of every <object> of ``Annotations/<image_id>.xml``."""
    path = folder / "Annotations" / f"{image_id}.xml"
    archive = ARCHIVES["trainval" if split == TRAIN else "test"]
    if not path.is_file():
        raise FileNotFoundError(
            f"VOC annotation file {path} is missing (its image set lists {image_id}): "
            f"unpack {archive} into the folder that holds VOCdevkit/"
        )
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        line, col = error.position
        raise ValueError(
            f"VOC annotation file {path} is not valid XML (line {line}, column {col}), it may be "
            f"truncated: re-extract it from {archive}"
        ) from None
    if root.tag != "annotation":
        raise ValueError(
            f"VOC annotation file {path} has a <{root.tag}> root, not <annotation>: re-extract "
            f"it from {archive}"
        )
    objects = []
    for number, obj in enumerate(root.findall("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        if name not in column:
            raise ValueError(
                f"VOC annotation file {path}: object {number} has class {name!r}, not one of "
                f"the {len(column)} classes ({', '.join(column)}): re-extract it from {archive}"
            )
        difficult = (obj.findtext("difficult") or "0").strip()
        if difficult not in ("0", "1"):
            raise ValueError(
                f"VOC annotation file {path}: object {number} has <difficult>{difficult}"
                f"</difficult>, not 0 or 1: re-extract it from {archive}"
            )
        objects.append((name, difficult == "1"))
    return objects


def write_voc2007(
    root: Path,
    image_ids: Sequence[str],
    labels: np.ndarray,
    official_split: Sequence[str],
    difficult: np.ndarray | None = None,
    images: Sequence[bytes | Image.Image] | None = None,
    label_names: Sequence[str] = CLASSES,
) -> Path:
    """Write images and labels in VOC 2007's layout under ``root`` (``VOCdevkit/``, or the
    VOC2007 folder itself); return the VOC2007 folder.

    Each image gets one object per label, its box the whole image, marked difficult where
    ``difficult`` (N, C; within ``labels``) says; ``images`` are JPEG bytes or PIL images (a grey
    placeholder when None). Also written: trainval.txt, test.txt and VOC's per-class files
    ``<class>_<set>.txt`` (1: a non-difficult object, 0: difficult objects only, -1: none), and
    ``labels.txt`` when ``label_names`` are not VOC's 20 classes.
    """
    root = Path(root)
    folder = root if root.name == "VOC2007" else root / "VOC2007"
    labels = np.asarray(labels, dtype=bool)
    difficult = np.zeros_like(labels) if difficult is None else np.asarray(difficult, dtype=bool)
    check_write_inputs(image_ids, labels, official_split, difficult, label_names)
    if images is not None and len(images) != len(image_ids):
        raise ValueError(f"{len(images)} images for {len(image_ids)} image ids")
    placeholder = encode(Image.new("RGB", (PLACEHOLDER_SIZE,) * 2, (128, 128, 128)))
    for i, image_id in enumerate(image_ids):
        data = placeholder if images is None else images[i]
        data = encode(data) if isinstance(data, Image.Image) else data
        write(folder / "JPEGImages" / f"{image_id}.jpg", data)
        with Image.open(io.BytesIO(data)) as opened:
            size = opened.size
        names = [label_names[j] for j in np.flatnonzero(labels[i])]
        flags = [bool(difficult[i, j]) for j in np.flatnonzero(labels[i])]
        write(
            folder / "Annotations" / f"{image_id}.xml", annotation_xml(image_id, size, names, flags)
        )
    if tuple(label_names) != CLASSES:
        write(folder / LABELS_FILE, lines(label_names))
    value = np.where(labels & ~difficult, 1, np.where(labels, 0, -1))
    split = np.asarray(official_split)
    for table_split, image_set in IMAGE_SETS:
        rows = np.flatnonzero(split == table_split)
        main = folder / "ImageSets" / "Main"
        write(main / f"{image_set}.txt", lines(image_ids[r] for r in rows))
        for j, name in enumerate(label_names):
            entries = (f"{image_ids[r]} {value[r, j]:2d}" for r in rows)
            write(main / f"{name}_{image_set}.txt", lines(entries))
    return folder


def check_write_inputs(
    image_ids: Sequence[str],
    labels: np.ndarray,
    official_split: Sequence[str],
    difficult: np.ndarray,
    label_names: Sequence[str],
) -> None:
    """Refuse inputs the reader could not read back as written."""
    n = len(image_ids)
    if labels.shape != (n, len(label_names)) or difficult.shape != labels.shape:
        raise ValueError(
            f"labels {labels.shape} and difficult {difficult.shape} must both be "
            f"({n} images, {len(label_names)} classes)"
        )
    if len(official_split) != n or set(official_split) - {TRAIN, TEST}:
        raise ValueError(f"official_split must hold {n} entries, each {TRAIN!r} or {TEST!r}")
    if len(set(image_ids)) != n or any(not i or i != i.strip() or "/" in i for i in image_ids):
        raise ValueError("image ids must be unique non-empty file stems without spaces or '/'")
    if (difficult & ~labels).any():
        raise ValueError("difficult marks a class the image does not have (labels is False there)")


def annotation_xml(
    image_id: str, size: tuple[int, int], names: list[str], difficult: list[bool]
) -> bytes:
    """An Annotations/<id>.xml in VOC 2007's format, one whole-image object per name."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "VOC2007"
    ET.SubElement(root, "filename").text = f"{image_id}.jpg"
    source = ET.SubElement(root, "source")
    ET.SubElement(source, "database").text = "The VOC2007 Database"
    ET.SubElement(source, "annotation").text = "PASCAL VOC2007"
    size_element = ET.SubElement(root, "size")
    for tag, value in zip(("width", "height", "depth"), (*size, 3)):
        ET.SubElement(size_element, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for name, flag in zip(names, difficult):
        obj = ET.SubElement(root, "object")
        for tag, text in (("name", name), ("pose", "Unspecified"), ("truncated", "0")):
            ET.SubElement(obj, tag).text = text
        ET.SubElement(obj, "difficult").text = "1" if flag else "0"
        box = ET.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), (1, 1, *size)):
            ET.SubElement(box, tag).text = str(value)
    ET.indent(root, space="\t")
    return ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def encode(image: Image.Image) -> bytes:
    """JPEG bytes of ``image`` (quality 90, as the demo's images)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def lines(entries: Iterable[str]) -> bytes:
    """One entry per line, each ending with a newline, UTF-8."""
    return "".join(f"{entry}\n" for entry in entries).encode("utf-8")


def write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
