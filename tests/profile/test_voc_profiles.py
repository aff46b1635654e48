"""Tests for the demo-voc profile: it extends the demo with the VOC 2007 dataset and official
split, and ``annokit.prepare`` builds its prepared index from the demo's VOC layout."""

from __future__ import annotations

import shutil

import pytest

from annokit.data.manifest import DatasetMismatchError, record_manifest
from annokit.data.manifest_file import load_manifest
from annokit.prepare import main, prepare
from annokit.profile import load_profile


def test_demo_voc_extends_the_demo_with_the_voc_dataset():
    voc, demo = load_profile("demo-voc"), load_profile("demo")
    assert (voc.dataset, voc.split_rule, voc.manifest) == ("voc2007", "official", "demo_voc2007")
    assert voc.cnn == demo.cnn and voc.demo == demo.demo
    manifest = load_manifest(voc.manifest)
    assert (manifest.dataset, manifest.split_rule) == ("voc2007", "official")
    assert manifest.counts["train"] == 2000 and manifest.counts["test"] == 1000


def test_the_demo_voc_data_root_is_the_voc_layout(monkeypatch, tmp_path):
    monkeypatch.setenv("ANNOKIT_WORK", str(tmp_path))
    root = load_profile("demo-voc").resolved_data_root()
    assert root == tmp_path / "data" / "demo-seed0" / "voc2007"
    assert load_profile("demo").resolved_data_root().name == "nuswide"


def test_prepare_builds_the_index_from_the_tiny_demo(tiny_demo, tmp_path):
    root, truth = tiny_demo
    manifest = record_manifest(
        root / "voc2007", "voc2007", "official", name="tiny_voc", source="tiny demo"
    )
    profile = load_profile("demo-voc", data_root=root / "voc2007")
    prepared = prepare(profile, tmp_path / "work", manifest=manifest, deep=True)
    assert prepared.rebuilt and prepared.index.label_names == truth.label_names
    assert prepared.index.meta["counts"] == {"train": 48, "test": 24}
    assert prepared.index.tag_names == ()
    assert prepared.index.label_matrix().sum() == truth.labels.sum()
    again = prepare(profile, tmp_path / "work", manifest=manifest)
    assert not again.rebuilt


def test_prepare_command_line_checks_the_committed_manifest(tiny_demo, tmp_path, monkeypatch):
    # A copy of the tiny demo's VOC layout fails on the counts of the default demo's manifest.
    monkeypatch.setenv("ANNOKIT_WORK", str(tmp_path / "work"))
    root, _ = tiny_demo
    shutil.copytree(root / "voc2007", tmp_path / "voc")
    with pytest.raises(DatasetMismatchError, match="official_train: 48 images, expected 2000"):
        main(["--profile", "demo-voc", "--data-root", str(tmp_path / "voc")])
