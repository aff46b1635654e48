"""Tests for PASCAL VOC 2007 as a layout of the kit: the registry reads it from any of its three
roots, the layout checks recognise it, and ``python -m annokit.data.manifest verify`` checks a
small VOC tree against the committed manifest (count mismatch) and a manifest recorded from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annokit.data.manifest import main as manifest_cli
from annokit.data.manifest import verify
from annokit.data.manifest_file import load_manifest
from annokit.data.readers import check_root, detect_layouts, read_dataset, resolve_file
from annokit.data.splits import apply_split_rule
from annokit.data.voc import CLASSES, write_voc2007

IDS = ["000001", "000002", "000003", "000004", "000005"]
SPLIT = ["train", "test", "train", "test", "train"]


@pytest.fixture
def unpacked(tmp_path) -> Path:
    """A five-image VOC 2007 tree as the official archives unpack: <root>/VOCdevkit/VOC2007."""
    labels = np.zeros((5, len(CLASSES)), dtype=bool)
    labels[np.arange(5), [0, 14, 14, 7, 19]] = True
    labels[0, 14] = True
    difficult = np.zeros_like(labels)
    difficult[0, 14] = True
    write_voc2007(tmp_path / "VOCdevkit", IDS, labels, SPLIT, difficult=difficult)
    return tmp_path


@pytest.mark.parametrize("below", ["", "VOCdevkit", "VOCdevkit/VOC2007"])
def test_the_registry_reads_voc_with_paths_relative_to_the_root(unpacked, below):
    root = unpacked / below if below else unpacked
    table = read_dataset("voc2007", root)
    assert table.dataset == "voc2007" and table.label_names == CLASSES and table.tag_names == ()
    assert list(table.image_ids) == ["000001", "000003", "000005", "000002", "000004"]
    assert list(table.official_split) == ["train"] * 3 + ["test"] * 2
    assert all((root / path).is_file() for path in table.paths)
    assert table.labels[0, 14] and table.labels[0, 0]  # a difficult object still gives its class
    assert detect_layouts(root) == ["voc2007"]
    check_root(root, "voc2007", "a test")  # no error
    assert resolve_file(root, "ImageSets/Main/test.txt").is_file()


def test_the_official_rule_keeps_every_image(unpacked):
    table = read_dataset("voc2007", unpacked)
    assert len(apply_split_rule(table, "official")) == len(table) == 5


def test_a_voc_root_given_to_a_coco_profile_names_the_layout(unpacked):
    with pytest.raises(ValueError, match="holds the PASCAL VOC 2007 layout .*demo-voc"):
        check_root(unpacked, "coco2014", "profile demo-coco")


def test_verify_against_the_official_manifest_reports_the_counts(unpacked, capsys):
    assert manifest_cli(["verify", "voc2007", str(unpacked)]) == 1
    out = capsys.readouterr().out
    assert "official_train: 3 images, expected 5011" in out
    assert "official_test: 2 images, expected 4952" in out
    assert "ImageSets/Main/trainval.txt has 3 lines, expected 5011" in out
    assert "aeroplane_trainval.txt has 3 lines, expected 5011" in out  # per-class files too


def test_verify_against_a_manifest_recorded_from_the_tree(unpacked, manifests_dir, capsys):
    args = ["record", str(unpacked), "--dataset", "voc2007", "--split-rule", "official"]
    assert manifest_cli([*args, "--name", "tiny_voc"]) == 0
    manifest = load_manifest("tiny_voc")
    assert manifest.counts == {
        "images": 5,
        "official_train": 3,
        "official_test": 2,
        "train": 3,
        "test": 2,
    }
    assert manifest.vocabulary == {"labels": 20, "tags": 0}
    assert len(manifest.files) == 2 + 2 * len(CLASSES)
    assert manifest_cli(["verify", "tiny_voc", str(unpacked / "VOCdevkit"), "--deep"]) == 0
    assert "everything matches, every image decodes" in capsys.readouterr().out
    broken = unpacked / "VOCdevkit" / "VOC2007" / "JPEGImages" / "000004.jpg"
    broken.write_bytes(broken.read_bytes()[:40])
    report, _ = verify(unpacked, manifest, deep=True, progress=False)
    assert not report.ok and "000004.jpg" in report.message()
