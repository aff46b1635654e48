"""Readers, manifests, verify, index and Dataset on the demo data written in both real layouts."""

import json
import shutil

import numpy as np
import pytest
import torch

from annokit.data.coco import read_coco
from annokit.data.dataset import IMAGENET_MEAN, AnnotationDataset
from annokit.data.index import IndexOptions, build_index, load_index
from annokit.data.manifest import DatasetMismatchError, record_manifest, verify
from annokit.data.manifest_file import load_manifest
from annokit.data.nuswide import read_nuswide
from annokit.data.splits import apply_split_rule


def rows_by(keys, wanted):
    position = {k: i for i, k in enumerate(keys)}
    return np.array([position[k] for k in wanted])


def test_coco_reader_returns_what_the_generator_drew(tiny_demo):
    root, truth = tiny_demo
    table = read_coco(root / "coco")
    assert table.label_names == truth.label_names
    order = rows_by(list(table.paths), list(truth.coco_files))
    np.testing.assert_array_equal(table.labels[order], truth.labels)
    np.testing.assert_array_equal(table.official_split[order], truth.split)
    assert len(table.tag_names) > 0
    assert set(table.tag_names) & set(truth.label_names), (
        "caption tags should include concept words"
    )


def test_nuswide_reader_returns_what_the_generator_drew(tiny_demo):
    root, truth = tiny_demo
    table = read_nuswide(root / "nuswide")
    assert table.label_names == truth.label_names and table.tag_names == truth.tag_names
    order = rows_by(list(table.paths), list(truth.nuswide_paths))
    np.testing.assert_array_equal(table.labels[order], truth.labels)
    np.testing.assert_array_equal(table.tags[order], truth.tags)
    np.testing.assert_array_equal(table.official_split[order], truth.split)


@pytest.mark.parametrize("dataset,layout", [("coco2014", "coco"), ("nuswide", "nuswide")])
@pytest.mark.parametrize("rule", ["m3", "multi_order"])
def test_recorded_manifest_verifies_its_own_root(tiny_demo, dataset, layout, rule):
    root, _ = tiny_demo
    manifest = record_manifest(
        root / layout, dataset, rule, name=f"tiny_{layout}_{rule}", source="test"
    )
    report, table = verify(root / layout, manifest)
    assert report.ok, report.message()
    assert len(table) == manifest.counts["train"] + manifest.counts["test"]


def damaged_copy(tiny_demo, tmp_path, layout):
    root, _ = tiny_demo
    copy = tmp_path / layout
    shutil.copytree(root / layout, copy)
    return root / layout, copy


def test_verify_reports_a_deleted_image_and_stops_by_default(tiny_demo, tmp_path):
    original, copy = damaged_copy(tiny_demo, tmp_path, "nuswide")
    manifest = record_manifest(original, "nuswide", "multi_order", name="tiny", source="test")
    _, table = verify(original, manifest)
    victim = table.paths[3]
    (copy / victim).unlink()
    report, _ = verify(copy, manifest)
    assert not report.ok
    with pytest.raises(DatasetMismatchError, match="1 image file\\(s\\) missing") as error:
        report.raise_if_errors()
    assert victim in str(error.value)
    skipped, kept = verify(copy, manifest, on_missing="skip")
    assert skipped.ok and victim not in kept.paths and len(kept) == len(table) - 1
    assert (original / victim).exists(), "verify must never touch the data"


def test_verify_reports_an_edited_annotation_file(tiny_demo, tmp_path):
    original, copy = damaged_copy(tiny_demo, tmp_path, "coco")
    manifest = record_manifest(original, "coco2014", "m3", name="tiny", source="test")
    path = copy / "annotations" / "instances_val2014.json"
    data = json.loads(path.read_text())
    data["annotations"] = data["annotations"][:-3]
    path.write_text(json.dumps(data))
    report, _ = verify(copy, manifest)
    assert any("instances_val2014.json differs" in e for e in report.errors), report.message()


def test_verify_lists_every_missing_annotation_file_at_once(tiny_demo, tmp_path):
    original, copy = damaged_copy(tiny_demo, tmp_path, "nuswide")
    manifest = record_manifest(original, "nuswide", "m3", name="tiny", source="test")
    (copy / "NUS_WID_Tags" / "AllTags1k.txt").unlink()
    (copy / "ImageList" / "TestImagelist.txt").unlink()
    report, _ = verify(copy, manifest)
    message = report.message()
    assert "AllTags1k.txt" in message and "TestImagelist.txt" in message and "Fix:" in message


def test_verify_of_a_root_that_does_not_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        verify(tmp_path / "nowhere", load_manifest("nuswide_m3"))


def test_index_is_written_once_and_rebuilt_when_inputs_change(tiny_demo, tmp_path):
    root, _ = tiny_demo
    manifest = record_manifest(root / "nuswide", "nuswide", "m3", name="tiny", source="test")
    index, built = build_index(tmp_path / "index", root / "nuswide", manifest, profile="t")
    assert built
    again, rebuilt = build_index(tmp_path / "index", root / "nuswide", manifest, profile="t")
    assert not rebuilt and again.meta["fingerprint"] == index.meta["fingerprint"]
    _, rebuilt = build_index(
        tmp_path / "index",
        root / "nuswide",
        manifest,
        profile="t",
        options=IndexOptions(tag_vocab_size=999),
    )
    assert rebuilt
    expected = apply_split_rule(read_nuswide(root / "nuswide"), "m3")
    np.testing.assert_array_equal(index.label_matrix(), expected.labels)
    np.testing.assert_array_equal(index.tag_matrix(), expected.tags)
    assert index.frame["path"].tolist() == list(expected.paths)
    assert index.meta["counts"] == {
        "train": int((expected.official_split == "train").sum()),
        "test": int((expected.official_split == "test").sum()),
    }


def test_unreadable_index_says_how_to_rebuild(tmp_path):
    with pytest.raises(FileNotFoundError, match="00_data_prep"):
        load_index(tmp_path)


def test_dataset_items_and_missing_image_message(tiny_demo, tmp_path):
    root, _ = tiny_demo
    manifest = record_manifest(root / "coco", "coco2014", "multi_order", name="tiny", source="test")
    index, _ = build_index(tmp_path / "index", root / "coco", manifest, profile="t")
    dataset = AnnotationDataset(index, root / "coco", split="test", image_size=32)
    image, tags, labels, row = dataset[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    assert tags.shape == (len(index.tag_names),) and labels.shape == (len(index.label_names),)
    assert row == index.rows("test")[0]
    torch.testing.assert_close(
        labels, torch.from_numpy(index.label_matrix("test")[0].astype(np.float32))
    )
    # normalised, not raw [0,1]
    assert image.mean().abs() < 3 and abs(image.mean().item() + IMAGENET_MEAN[0]) > 1e-3
    copy_root = tmp_path / "coco-copy"
    shutil.copytree(root / "coco", copy_root)
    (copy_root / dataset.paths[1]).unlink()
    broken = AnnotationDataset(index, copy_root, split="test", image_size=32)
    with pytest.raises(FileNotFoundError, match=str(dataset.paths[1])):
        broken[1]
    (copy_root / dataset.paths[2]).write_bytes(b"not a jpeg")
    with pytest.raises(RuntimeError, match="cannot be decoded"):
        broken[2]
