"""Tests for the demo's folder + CSV layout: the same images, labels, tags and split as the other
layouts, no change to them when an older demo gains it, and the demo-csv profile prepared from
it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from annokit.data.csv_layout import read_csv_layout
from annokit.data.manifest import DatasetMismatchError, record_manifest
from annokit.demo import DemoConfig, generate_demo
from annokit.demo.csv_layout_writer import csv_image_names
from annokit.prepare import main as prepare_main
from annokit.prepare import prepare
from annokit.profile import load_profile


def test_the_csv_layout_holds_the_demo_labels_tags_split_and_images(tiny_demo):
    root, truth = tiny_demo
    table = read_csv_layout(root / "csv")
    assert list(table.image_ids) == csv_image_names(len(truth))  # generation order
    present = truth.labels.any(axis=0)  # the vocabulary comes from the data
    assert table.label_names == tuple(np.array(truth.label_names)[present])
    np.testing.assert_array_equal(table.labels, truth.labels[:, present])
    used = truth.tags.any(axis=0)
    assert table.tag_names == tuple(np.array(truth.tag_names)[used])
    np.testing.assert_array_equal(table.tags, truth.tags[:, used])
    np.testing.assert_array_equal(table.official_split, truth.split)
    for k in (0, len(truth) - 1):
        jpeg = (root / "csv" / table.paths[k]).read_bytes()
        assert jpeg == (root / "coco" / truth.coco_files[k]).read_bytes()


def test_an_older_demo_gains_the_csv_layout_and_keeps_its_files(tmp_path):
    config = DemoConfig(n_train=12, n_test=6, image_size=32, seed=3)
    generate_demo(tmp_path, config)
    first = (tmp_path / "csv" / "labels.csv").read_bytes()
    shutil.rmtree(tmp_path / "csv")  # as a demo generated before the folder + CSV layout
    before = snapshot(tmp_path, ("coco", "nuswide", "voc2007"))
    generate_demo(tmp_path, config)
    assert snapshot(tmp_path, ("coco", "nuswide", "voc2007")) == before
    assert (tmp_path / "csv" / "labels.csv").read_bytes() == first
    assert not list(tmp_path.glob(".csv-partial"))


def test_prepare_builds_the_demo_csv_index_from_the_tiny_demo(tiny_demo, tmp_path):
    root, truth = tiny_demo
    manifest = record_manifest(root / "csv", "csv", "official", name="tiny_csv", source="tiny")
    profile = load_profile("demo-csv", data_root=root / "csv")
    assert (profile.dataset, profile.split_rule, profile.manifest) == (
        "csv",
        "official",
        "demo_csv",
    )
    prepared = prepare(profile, tmp_path / "work", manifest=manifest, deep=True)
    assert prepared.rebuilt and prepared.index.meta["counts"] == {"train": 48, "test": 24}
    assert prepared.index.label_matrix().sum() == truth.labels.sum()
    assert prepared.index.tag_matrix().sum() == truth.tags.sum()
    assert list(prepared.index.label_names) == sorted(prepared.index.label_names)
    assert not prepare(profile, tmp_path / "work", manifest=manifest).rebuilt


def test_prepare_command_line_with_the_committed_manifest(tiny_demo, tmp_path, monkeypatch):
    # The default demo's manifest names the demo's labels.csv checksum and its counts.
    monkeypatch.setenv("ANNOKIT_WORK", str(tmp_path / "work"))
    root, _ = tiny_demo
    shutil.copytree(root / "csv", tmp_path / "csv")
    with pytest.raises(DatasetMismatchError) as error:
        prepare_main(["--profile", "demo-csv", "--data-root", str(tmp_path / "csv")])
    assert "labels.csv differs from the manifest" in str(error.value)
    assert "official_train: 48 images, expected 2000" in str(error.value)


def snapshot(root: Path, folders: tuple[str, ...]) -> dict[str, tuple[bytes, int]]:
    """Bytes and modification time of every file below ``root/<folder>``."""
    return {
        str(path): (path.read_bytes(), path.stat().st_mtime_ns)
        for folder in folders
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }
