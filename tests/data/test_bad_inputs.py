"""Bad inputs of the data side raise one clear line: the wrong layout, a file as root, malformed
manifests and annotation files."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from annokit.data.coco import read_coco
from annokit.data.index import build_index
from annokit.data.manifest import DatasetMismatchError, verify
from annokit.data.manifest_file import Manifest, load_manifest
from annokit.data.nuswide import read_nuswide
from annokit.data.readers import LAYOUT_PROFILES
from annokit.prepare import prepare
from annokit.profile import available_profiles, load_profile
from helpers.dataset_copies import copy_layout, recorded, write_manifest

# --- Bad inputs: the wrong layout, a file as root, malformed manifests and annotation files


@pytest.mark.parametrize(
    "layout,manifest_name,found,fits",
    [
        ("coco", "demo_nuswide_m3", "MS-COCO 2014", LAYOUT_PROFILES["coco2014"]),
        ("nuswide", "coco2014_multi_order", "NUS-WIDE", LAYOUT_PROFILES["nuswide"]),
    ],
)
def test_the_other_datasets_layout_is_named_with_the_profiles_that_fit(
    tiny_demo, layout, manifest_name, found, fits
):
    root, _ = tiny_demo
    with pytest.raises(ValueError, match=f"holds the {found} layout") as error:
        verify(root / layout, load_manifest(manifest_name))
    message = str(error.value)
    assert (
        str(root / layout) in message
        and all(name in message for name in fits)
        and "\n" not in message
    )


def test_prepare_names_the_profile_when_the_layout_is_the_other_one(tiny_demo, tmp_path):
    root, _ = tiny_demo
    with pytest.raises(
        ValueError, match="holds the MS-COCO 2014 layout .* but profile demo .*expects NUS-WIDE"
    ):
        prepare(load_profile("demo", data_root=root / "coco"), tmp_path / "work")


def test_layout_profiles_are_the_shipped_profiles_of_each_dataset():
    shipped = {name: load_profile(name).dataset for name in available_profiles()}
    assert {
        name: dataset for dataset, names in LAYOUT_PROFILES.items() for name in names
    } == shipped


def test_a_root_that_holds_neither_layout_points_at_the_subfolders(tiny_demo):
    root, _ = tiny_demo
    with pytest.raises(ValueError, match="holds neither") as error:
        verify(root, load_manifest("demo_coco2014_m3"))
    assert str(root / "coco") in str(error.value)


def test_a_root_that_is_a_file(tmp_path):
    archive = tmp_path / "nuswide.zip"
    archive.write_bytes(b"PK\x03\x04")
    with pytest.raises(
        ValueError, match=re.escape(f"the dataset root {archive} is a file, not a folder")
    ):
        verify(archive, load_manifest("nuswide_m3"))


def test_a_manifest_that_is_not_json_names_the_file(manifests_dir):
    path = write_manifest(manifests_dir / "broken.json", '{"name": "broken", "files": {')
    with pytest.raises(ValueError, match=re.escape(f"manifest {path} is not valid JSON")):
        load_manifest("broken")


def test_a_manifest_with_an_unknown_field_names_the_file_and_the_field(manifests_dir):
    committed = json.loads(
        (Path(__file__).parents[2] / "data_manifests" / "demo_nuswide_m3.json").read_text()
    )
    content = {**committed, "checksums": {}}
    path = write_manifest(manifests_dir / "extra.json", content)
    with pytest.raises(
        ValueError, match=re.escape(f"manifest {path} has unknown field(s) checksums")
    ):
        load_manifest("extra")


def test_a_manifest_that_is_missing_names_the_available_ones():
    with pytest.raises(FileNotFoundError, match="demo_nuswide_m3"):
        load_manifest("no_such_manifest")


def unchecked(manifest: Manifest) -> Manifest:
    """The manifest without checksums, as the committed real-data manifests are."""
    return replace(
        manifest, files={rel: {**entry, "sha256": None} for rel, entry in manifest.files.items()}
    )


def test_a_truncated_annotation_file_is_named(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "coco")
    manifest = unchecked(recorded(root, "coco"))
    path = root / "annotations" / "captions_val2014.json"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(
        ValueError, match=re.escape(f"COCO annotation file {path} is not valid JSON")
    ):
        read_coco(root)
    report, table = verify(root, manifest, progress=False)
    assert table is None and any(f"{path} is not valid JSON" in e for e in report.errors), (
        report.message()
    )
    with pytest.raises(DatasetMismatchError, match=re.escape(f"{path} is not valid JSON")):
        build_index(tmp_path / "index", root, manifest, profile="t")


@pytest.mark.parametrize(
    "name,key",
    [("captions_train2014.json", "annotations"), ("instances_val2014.json", "categories")],
)
def test_an_annotation_file_without_a_key_names_the_file_and_the_key(
    tiny_demo, tmp_path, name, key
):
    root = copy_layout(tiny_demo, tmp_path, "coco")
    manifest = unchecked(recorded(root, "coco"))
    path = root / "annotations" / name
    data = json.loads(path.read_text())
    del data[key]
    path.write_text(json.dumps(data))
    with pytest.raises(
        ValueError, match=re.escape(f"COCO annotation file {path} has no '{key}' key")
    ):
        read_coco(root)
    report, _ = verify(root, manifest, progress=False)
    assert any(f"{path} has no '{key}' key" in e for e in report.errors), report.message()


def test_an_annotation_entry_without_a_key_names_the_file_and_the_key(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "coco")
    path = root / "annotations" / "instances_train2014.json"
    data = json.loads(path.read_text())
    del data["annotations"][2]["category_id"]
    path.write_text(json.dumps(data))
    with pytest.raises(
        ValueError, match=re.escape(f"{path}: annotations[2] has no 'category_id' key")
    ):
        read_coco(root)


def test_a_nuswide_list_that_is_not_text_names_the_file(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "nuswide")
    path = root / "NUS_WID_Tags" / "TagList1k.txt"
    path.write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(ValueError, match=re.escape(f"{path} is not a text file")):
        read_nuswide(root)
