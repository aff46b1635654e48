"""Tests for the demo's COCO JSON layout: the same images, labels, tags and split as the folder +
CSV layout, no change to the other layouts when an older demo gains it, and the demo-cocojson
profile prepared from it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from annokit.data.coco_json_layout import read_coco_json_layout
from annokit.data.csv_layout import read_csv_layout
from annokit.data.manifest import DatasetMismatchError, record_manifest
from annokit.demo import DemoConfig, generate_demo
from annokit.prepare import main as prepare_main
from annokit.prepare import prepare
from annokit.profile import load_profile


def test_the_coco_json_layout_holds_the_csv_layouts_images_labels_tags_and_split(tiny_demo):
    root, truth = tiny_demo
    table, csv = read_coco_json_layout(root / "cocojson"), read_csv_layout(root / "csv")
    order = np.argsort(table.image_ids)  # the test file's images first, then the train file's
    assert list(table.image_ids[order]) == list(csv.image_ids)
    assert (table.label_names, table.tag_names) == (csv.label_names, csv.tag_names)
    for name in ("paths", "official_split", "labels", "tags"):
        np.testing.assert_array_equal(getattr(table, name)[order], getattr(csv, name))
    for k in (0, len(truth) - 1):
        coco_json = (root / "cocojson" / table.paths[order][k]).read_bytes()
        assert coco_json == (root / "coco" / truth.coco_files[k]).read_bytes()


def test_every_coco_instance_is_kept_with_its_image_renumbered(tiny_demo):
    root, truth = tiny_demo
    coco = json.loads((root / "coco" / "annotations" / "instances_train2014.json").read_text())
    mine = json.loads((root / "cocojson" / "annotations" / "instances_train.json").read_text())
    assert mine["categories"] == coco["categories"]
    new_id = {int(k): i + 1 for i, k in enumerate(truth.coco_ids)}
    expected = [{**ann, "image_id": new_id[ann["image_id"]]} for ann in coco["annotations"]]
    assert mine["annotations"] == expected
    assert [image["id"] for image in mine["images"]] == [
        i + 1 for i, split in enumerate(truth.split) if split == "train"
    ]


def test_an_older_demo_gains_the_coco_json_layout_and_keeps_its_files(tmp_path):
    config = DemoConfig(n_train=12, n_test=6, image_size=32, seed=3)
    generate_demo(tmp_path, config)
    files = sorted((tmp_path / "cocojson").rglob("*.json"))
    first = [path.read_bytes() for path in files]
    shutil.rmtree(tmp_path / "cocojson")  # as a demo generated before the COCO JSON layout
    others = ("coco", "nuswide", "voc2007", "csv")
    before = snapshot(tmp_path, others)
    generate_demo(tmp_path, config)
    assert snapshot(tmp_path, others) == before
    assert [path.read_bytes() for path in files] == first
    assert not list(tmp_path.glob(".cocojson-partial"))


def test_prepare_builds_the_demo_cocojson_index_from_the_tiny_demo(tiny_demo, tmp_path):
    root, truth = tiny_demo
    manifest = record_manifest(root / "cocojson", "cocojson", "official", name="t", source="t")
    profile = load_profile("demo-cocojson", data_root=root / "cocojson")
    assert (profile.dataset, profile.split_rule, profile.manifest) == (
        "cocojson",
        "official",
        "demo_cocojson",
    )
    assert load_profile("demo-cocojson").resolved_data_root().name == "cocojson"
    prepared = prepare(profile, tmp_path / "work", manifest=manifest, deep=True)
    assert prepared.rebuilt and prepared.index.meta["counts"] == {"train": 48, "test": 24}
    assert prepared.index.label_matrix().sum() == truth.labels.sum()
    assert prepared.index.tag_matrix().sum() == truth.tags.sum()
    assert list(prepared.index.label_names) == sorted(prepared.index.label_names)


def test_prepare_command_line_with_the_committed_manifest(tiny_demo, tmp_path, monkeypatch):
    # The default demo's manifest names the demo's instances checksums and its counts.
    monkeypatch.setenv("ANNOKIT_WORK", str(tmp_path / "work"))
    root, _ = tiny_demo
    shutil.copytree(root / "cocojson", tmp_path / "cocojson")
    with pytest.raises(DatasetMismatchError) as error:
        prepare_main(["--profile", "demo-cocojson", "--data-root", str(tmp_path / "cocojson")])
    assert "instances_train.json differs from the manifest" in str(error.value)
    assert "official_train: 48 images, expected 2000" in str(error.value)


def snapshot(root: Path, folders: tuple[str, ...]) -> dict[str, tuple[bytes, int]]:
    """Bytes and modification time of every file below ``root/<folder>``."""
    return {
        str(path): (path.read_bytes(), path.stat().st_mtime_ns)
        for folder in folders
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }
