"""Tests for annokit.data.voc: PASCAL VOC 2007 annotations written by hand in the official
format, read back with their labels, split and difficult flags; errors naming the file; the
writer's output read back by the reader."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annokit.data.voc import CLASSES, read_voc2007, write_voc2007

HEADER = """<annotation>
\t<folder>VOC2007</folder>
\t<filename>{image_id}.jpg</filename>
\t<source>
\t\t<database>The VOC2007 Database</database>
\t\t<annotation>PASCAL VOC2007</annotation>
\t\t<image>flickr</image>
\t</source>
\t<size>
\t\t<width>8</width>
\t\t<height>6</height>
\t\t<depth>3</depth>
\t</size>
\t<segmented>0</segmented>
"""
OBJECT = """\t<object>
\t\t<name>{name}</name>
\t\t<pose>Left</pose>
\t\t<truncated>0</truncated>
\t\t<difficult>{difficult}</difficult>
\t\t<bndbox>
\t\t\t<xmin>1</xmin>
\t\t\t<ymin>2</ymin>
\t\t\t<xmax>7</xmax>
\t\t\t<ymax>5</ymax>
\t\t</bndbox>
\t</object>
"""
# image id -> objects (class, difficult); the first three are trainval, the last two test.
OBJECTS = {
    "000005": [("chair", 0), ("chair", 1), ("dog", 0)],  # chair: one plain, one difficult
    "000007": [("car", 0), ("car", 0)],  # a label appearing twice
    "000009": [("person", 1), ("horse", 0)],  # person: its only object is difficult
    "000001": [("dog", 0), ("person", 0)],
    "000002": [("train", 1), ("train", 1)],  # two difficult objects, nothing else
}
TRAINVAL, TEST_IDS = ["000005", "000007", "000009"], ["000001", "000002"]


def column(name: str) -> int:
    return CLASSES.index(name)


@pytest.fixture()
def devkit(tmp_path: Path) -> Path:
    """A VOCdevkit/ folder holding five images in the official layout."""
    folder = tmp_path / "VOCdevkit" / "VOC2007"
    for sub in ("Annotations", "ImageSets/Main", "JPEGImages"):
        (folder / sub).mkdir(parents=True)
    for image_id, objects in OBJECTS.items():
        body = "".join(OBJECT.format(name=n, difficult=d) for n, d in objects)
        xml = HEADER.format(image_id=image_id) + body + "</annotation>\n"
        (folder / "Annotations" / f"{image_id}.xml").write_text(xml, encoding="utf-8")
        Image.new("RGB", (8, 6), (200, 30, 30)).save(folder / "JPEGImages" / f"{image_id}.jpg")
    # CRLF endings and a blank last line, as files copied through other systems may have.
    (folder / "ImageSets/Main/trainval.txt").write_bytes(
        "".join(f"{i}\r\n" for i in TRAINVAL).encode() + b"\r\n"
    )
    (folder / "ImageSets/Main/test.txt").write_text("".join(f"{i}\n" for i in TEST_IDS))
    return tmp_path / "VOCdevkit"


def test_reader_gives_labels_split_and_difficult_flags(devkit):
    voc = read_voc2007(devkit)
    table = voc.table
    assert table.dataset == "voc2007" and table.label_names == CLASSES
    assert list(table.image_ids) == TRAINVAL + TEST_IDS
    assert list(table.official_split) == ["train"] * 3 + ["test"] * 2
    assert list(table.paths) == [f"JPEGImages/{i}.jpg" for i in TRAINVAL + TEST_IDS]
    assert all((voc.root / p).is_file() for p in table.paths)
    assert table.tags.shape == (5, 0) and table.tag_names == ()
    expected = {
        "000005": {"chair", "dog"},
        "000007": {"car"},
        "000009": {"person", "horse"},
        "000001": {"dog", "person"},
        "000002": {"train"},
    }
    for row, image_id in enumerate(table.image_ids):
        assert {CLASSES[j] for j in np.flatnonzero(table.labels[row])} == expected[image_id]
    only = {(str(table.image_ids[r]), CLASSES[j]) for r, j in zip(*np.nonzero(voc.difficult_only))}
    assert only == {("000009", "person"), ("000002", "train")}  # chair of 000005 has a plain one
    positives = voc.labels_without_difficult
    assert not positives[2, column("person")] and positives[2, column("horse")]
    assert positives[0, column("chair")] and not positives[4].any()


def test_root_may_be_the_devkit_or_the_voc2007_folder(devkit):
    a, b = read_voc2007(devkit), read_voc2007(devkit / "VOC2007")
    assert a.root == b.root == devkit / "VOC2007"
    np.testing.assert_array_equal(a.table.labels, b.table.labels)
    np.testing.assert_array_equal(a.difficult_only, b.difficult_only)


def test_subset_keeps_the_difficult_flags_in_step(devkit):
    voc = read_voc2007(devkit).subset(np.array([4, 2]))
    assert list(voc.table.image_ids) == ["000002", "000009"]
    assert voc.difficult_only[0, column("train")] and voc.difficult_only[1, column("person")]


def test_malformed_xml_names_the_file(devkit):
    path = devkit / "VOC2007" / "Annotations" / "000007.xml"
    path.write_text(path.read_text()[:200], encoding="utf-8")  # truncated
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*not valid XML.*re-extract"):
        read_voc2007(devkit)


def test_missing_image_set_file_names_the_file_and_the_archive(devkit):
    path = devkit / "VOC2007" / "ImageSets" / "Main" / "test.txt"
    path.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(path)) + ".*VOCtest_06-Nov-2007"):
        read_voc2007(devkit)


def test_missing_annotation_file_names_the_file(devkit):
    path = devkit / "VOC2007" / "Annotations" / "000001.xml"
    path.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(path)) + ".*VOCtest_06-Nov-2007"):
        read_voc2007(devkit)


def test_unknown_class_and_bad_difficult_flag_are_refused(devkit):
    path = devkit / "VOC2007" / "Annotations" / "000005.xml"
    text = path.read_text()
    path.write_text(text.replace("<name>dog</name>", "<name>dgo</name>"))
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*object 3 has class 'dgo'"):
        read_voc2007(devkit)
    path.write_text(text.replace("<difficult>1</difficult>", "<difficult>2</difficult>"))
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*not 0 or 1"):
        read_voc2007(devkit)


def test_an_image_in_both_sets_is_refused(devkit):
    (devkit / "VOC2007/ImageSets/Main/test.txt").write_text("000001\n000005\n")
    with pytest.raises(ValueError, match="test.txt line 2 lists image 000005, already listed"):
        read_voc2007(devkit)


def test_a_root_without_the_layout_says_where_to_point(tmp_path):
    with pytest.raises(FileNotFoundError, match="VOCdevkit/VOC2007/"):
        read_voc2007(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        read_voc2007(tmp_path / "absent")


def test_writer_output_reads_back_with_the_same_labels(tmp_path):
    rng = np.random.default_rng(0)
    n = 12
    labels = rng.random((n, len(CLASSES))) < 0.2
    labels[0] = False  # an image without any label
    difficult = labels & (rng.random(labels.shape) < 0.3)
    difficult[1] = labels[1] = False
    labels[1, [3, 7]] = difficult[1, 3] = True  # one difficult-only and one plain label
    ids = [f"{k:06d}" for k in range(10, 10 + n)]
    split = ["train"] * 7 + ["test"] * 5
    images = [Image.new("RGB", (10 + k, 7), (k * 20, 0, 0)) for k in range(n)]
    folder = write_voc2007(tmp_path / "VOCdevkit", ids, labels, split, difficult, images)
    assert folder == tmp_path / "VOCdevkit" / "VOC2007"
    voc = read_voc2007(tmp_path / "VOCdevkit")
    assert list(voc.table.image_ids) == ids and list(voc.table.official_split) == split
    np.testing.assert_array_equal(voc.table.labels, labels)
    np.testing.assert_array_equal(voc.difficult_only, difficult)
    with Image.open(folder / voc.table.paths[3]) as image:
        assert image.size == (13, 7)
    main = folder / "ImageSets" / "Main"
    assert (main / "trainval.txt").read_text().split() == ids[:7]
    # VOC's per-class files: 1 a plain object, 0 difficult objects only, -1 none ("%s %2d").
    difficult_only = (main / f"{CLASSES[3]}_trainval.txt").read_text().splitlines()
    plain = (main / f"{CLASSES[7]}_trainval.txt").read_text().splitlines()
    assert difficult_only[:2] == ["000010 -1", "000011  0"] and plain[1] == "000011  1"


def test_writer_with_its_own_label_names_and_placeholder_images(tmp_path):
    names = ("sky", "tree")
    labels = np.array([[True, False], [True, True]])
    folder = write_voc2007(
        tmp_path / "VOC2007", ["a", "b"], labels, ["train", "test"], label_names=names
    )
    with Image.open(folder / "JPEGImages" / "b.jpg") as image:
        assert image.size == (32, 32)
    voc = read_voc2007(folder, label_names=names)
    np.testing.assert_array_equal(voc.table.labels, labels)
    assert not voc.difficult_only.any()
    # The writer names non-VOC classes in labels.txt, which the reader takes by default.
    assert (folder / "labels.txt").read_text() == "sky\ntree\n"
    assert read_voc2007(folder).table.label_names == names
    (folder / "labels.txt").unlink()
    with pytest.raises(ValueError, match="not one of the 20 classes"):
        read_voc2007(folder)


def test_writer_refuses_difficult_outside_labels(tmp_path):
    labels = np.zeros((1, len(CLASSES)), dtype=bool)
    difficult = labels.copy()
    difficult[0, 0] = True
    with pytest.raises(ValueError, match="difficult marks a class"):
        write_voc2007(tmp_path, ["x"], labels, ["train"], difficult)
