"""Tests for the demo's PASCAL VOC 2007 layout: the same images, labels and split as the other
layouts, deterministic difficult flags, and a demo written before the layout existed gaining it
without any change to its COCO and NUS-WIDE files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from annokit.data.voc import read_voc2007
from annokit.demo import DemoConfig, generate_demo
from annokit.demo.voc_layout import SMALL_SHARE, voc_image_ids


def test_the_voc_layout_holds_the_demo_labels_split_and_images(tiny_demo):
    root, truth = tiny_demo
    voc = read_voc2007(root / "voc2007")
    assert voc.root == root / "voc2007" / "VOCdevkit" / "VOC2007"
    assert voc.table.label_names == truth.label_names  # from labels.txt, in the demo's order
    row = {image_id: i for i, image_id in enumerate(voc_image_ids(len(truth)))}
    order = np.array([row[i] for i in voc.table.image_ids])
    np.testing.assert_array_equal(voc.table.labels, truth.labels[order])
    np.testing.assert_array_equal(voc.table.official_split, truth.split[order])
    for k in (0, len(order) - 1):
        jpeg = (voc.root / voc.table.paths[k]).read_bytes()
        assert jpeg == (root / "coco" / truth.coco_files[order[k]]).read_bytes()


def test_difficult_flags_are_small_labels_within_the_labels(tiny_demo):
    root, truth = tiny_demo
    voc = read_voc2007(root / "voc2007")
    assert not (voc.difficult_only & ~voc.table.labels).any()
    assert 0 < voc.difficult_only.sum() < 0.2 * voc.table.labels.sum()
    assert 0 < SMALL_SHARE < 1


def test_an_older_demo_gains_the_voc_layout_and_keeps_its_files(tmp_path):
    config = DemoConfig(n_train=12, n_test=6, image_size=32, seed=3)
    generate_demo(tmp_path, config)
    first = read_voc2007(tmp_path / "voc2007")
    shutil.rmtree(tmp_path / "voc2007")  # as a demo generated before the VOC layout
    before = snapshot(tmp_path, ("coco", "nuswide"))
    generate_demo(tmp_path, config)
    assert snapshot(tmp_path, ("coco", "nuswide")) == before
    again = read_voc2007(tmp_path / "voc2007")
    np.testing.assert_array_equal(again.table.labels, first.table.labels)
    np.testing.assert_array_equal(again.difficult_only, first.difficult_only)
    assert not list(tmp_path.glob(".voc2007-partial"))


def snapshot(root: Path, folders: tuple[str, ...]) -> dict[str, tuple[bytes, int]]:
    """Bytes and modification time of every file below ``root/<folder>``."""
    return {
        str(path): (path.read_bytes(), path.stat().st_mtime_ns)
        for folder in folders
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }
