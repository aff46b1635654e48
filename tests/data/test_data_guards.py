"""Guards of the data side: a stale index is rebuilt, corrupt images are found, bad inputs raise one clear line."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from annokit.data import manifest as manifest_module
from annokit.data.coco import read_coco
from annokit.data.index import build_index
from annokit.data.manifest import (
    DatasetMismatchError,
    Manifest,
    ManifestExistsError,
    load_manifest,
    record_manifest,
    save_manifest,
    verify,
)
from annokit.data.nuswide import read_nuswide
from annokit.data.readers import LAYOUT_PROFILES
from annokit.prepare import prepare
from annokit.profile import available_profiles, load_profile

LAYOUTS = {"coco": "coco2014", "nuswide": "nuswide"}


def copy_layout(tiny_demo, tmp_path: Path, layout: str) -> Path:
    """A private copy of one layout of the tiny demo, free to damage."""
    root, _ = tiny_demo
    copy = tmp_path / layout
    shutil.copytree(root / layout, copy)
    return copy


def recorded(root: Path, layout: str, rule: str = "m3", name: str = "tiny") -> Manifest:
    """A manifest of a root as it is now."""
    return record_manifest(root, LAYOUTS[layout], rule, name=name, source="test")


def first_images(root: Path, manifest: Manifest, n: int) -> list[str]:
    """The first n image paths of the split, as the index lists them."""
    _, table = verify(root, manifest, progress=False)
    return [str(p) for p in table.paths[:n]]


def write_manifest(path: Path, content: object) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.fixture
def manifests_dir(tmp_path, monkeypatch) -> Path:
    """A private data_manifests/ folder: manifests are written and loaded by name there."""
    folder = tmp_path / "data_manifests"
    folder.mkdir()
    monkeypatch.setattr(manifest_module.paths, "manifests_dir", lambda: folder)
    return folder


# --- Defect 3: the index fingerprint covers the images and the manifest's content --------------------------------

@pytest.mark.parametrize("layout", ["nuswide", "coco"])
def test_deleting_an_image_makes_the_index_stale(tiny_demo, tmp_path, layout):
    root = copy_layout(tiny_demo, tmp_path, layout)
    manifest = recorded(root, layout)
    build_index(tmp_path / "index", root, manifest, profile="t")
    victim = first_images(root, manifest, 4)[3]
    (root / victim).unlink()
    with pytest.raises(DatasetMismatchError, match="1 image file\\(s\\) missing") as error:
        build_index(tmp_path / "index", root, manifest, profile="t")
    assert victim in str(error.value)


def test_replacing_or_adding_an_image_rebuilds_the_index(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "nuswide")
    manifest = recorded(root, "nuswide")
    _, built = build_index(tmp_path / "index", root, manifest, profile="t")
    assert built
    _, rebuilt = build_index(tmp_path / "index", root, manifest, profile="t")
    assert not rebuilt
    a, b = first_images(root, manifest, 2)
    shutil.copyfile(root / b, root / a)  # another valid image in its place
    os.utime(root / a, ns=(1_000_000_000, 1_000_000_000))
    index, rebuilt = build_index(tmp_path / "index", root, manifest, profile="t")
    assert rebuilt
    shutil.copyfile(root / a, root / Path(a).with_name("extra.jpg"))
    again, rebuilt = build_index(tmp_path / "index", root, manifest, profile="t")
    assert rebuilt and again.meta["fingerprint"] != index.meta["fingerprint"]


def test_editing_the_manifest_rebuilds_the_index(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "coco")
    manifest = recorded(root, "coco")
    build_index(tmp_path / "index", root, manifest, profile="t")
    edited = replace(manifest, counts={**manifest.counts, "train": manifest.counts["train"] + 1})
    with pytest.raises(DatasetMismatchError, match="expected"):
        build_index(tmp_path / "index", root, edited, profile="t")
    _, rebuilt = build_index(tmp_path / "index", root, replace(manifest, source="edited"), profile="t")
    assert rebuilt


# --- Defect 3: deep verification decodes every image ------------------------------------------------------------

def corrupt(root: Path, paths: list[str]) -> None:
    """Truncate the even-numbered files, overwrite the odd ones with random bytes."""
    for k, rel in enumerate(paths):
        data = (root / rel).read_bytes()
        (root / rel).write_bytes(data[: len(data) // 2] if k % 2 == 0 else os.urandom(len(data)))


def test_verify_deep_lists_every_undecodable_image(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "nuswide")
    manifest = recorded(root, "nuswide")
    bad = first_images(root, manifest, 12)
    corrupt(root, bad)
    shallow, _ = verify(root, manifest, progress=False)
    assert shallow.ok, "without deep the images are not opened"
    report, _ = verify(root, manifest, deep=True, progress=False)
    assert not report.ok and set(report.undecodable_images) == set(bad)
    message = report.message()
    assert "12 image file(s) cannot be decoded" in message
    assert sum(path in message for path in bad) == 10, "the first ten are named"
    assert "re-copy" in message and "--on-missing skip" in message and "on_missing='skip'" in message
    skipped, kept = verify(root, manifest, deep=True, on_missing="skip", progress=False)
    assert skipped.ok and not set(bad) & set(kept.paths)


def test_build_index_deep_records_the_check_and_redoes_a_shallow_index(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "coco")
    manifest = recorded(root, "coco")
    shallow, _ = build_index(tmp_path / "index", root, manifest, profile="t")
    assert shallow.meta["deep_checked"] is False
    deep, rebuilt = build_index(tmp_path / "index", root, manifest, profile="t", deep=True, progress=False)
    assert rebuilt and deep.meta["deep_checked"] is True
    _, rebuilt = build_index(tmp_path / "index", root, manifest, profile="t")
    assert not rebuilt, "a deep-checked index serves a shallow request"
    victim = first_images(root, manifest, 1)[0]
    corrupt(root, [victim])
    with pytest.raises(DatasetMismatchError, match="1 image file\\(s\\) cannot be decoded") as error:
        build_index(tmp_path / "index", root, manifest, profile="t", deep=True, progress=False)
    assert victim in str(error.value)


def test_prepare_decodes_every_image_of_a_demo_profile_by_default(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "nuswide")
    manifest = recorded(root, "nuswide")
    profile = load_profile("demo", data_root=root)
    prepared = prepare(profile, tmp_path / "work", manifest=manifest)
    assert prepared.index.meta["deep_checked"] is True and "every image decoded" in prepared.summary()
    victim = first_images(root, manifest, 1)[0]
    data = (root / victim).read_bytes()
    (root / victim).write_bytes(data[:100])
    with pytest.raises(DatasetMismatchError, match="cannot be decoded") as error:
        prepare(profile, tmp_path / "work", manifest=manifest)
    assert victim in str(error.value)
    shallow = prepare(profile, tmp_path / "work", manifest=manifest, deep=False)
    assert shallow.rebuilt and shallow.index.meta["deep_checked"] is False


# --- Defect 3: empty manifests, overwriting manifests, the missing-images advice ------------------------------------

def test_an_empty_manifest_is_an_error(tiny_demo, manifests_dir):
    root, _ = tiny_demo
    empty = Manifest(name="empty", dataset="nuswide", split_rule="m3", source="test", files={}, counts={}, vocabulary={})
    with pytest.raises(ValueError, match="lists no annotation files and no image counts"):
        verify(root / "nuswide", empty)
    path = write_manifest(manifests_dir / "empty.json", asdict(empty))
    with pytest.raises(ValueError, match=re.escape(f"manifest {path} lists no annotation files")):
        load_manifest("empty")


def test_recording_refuses_to_overwrite_a_manifest_without_force(tiny_demo, tmp_path, manifests_dir, monkeypatch):
    root, _ = tiny_demo
    manifest = recorded(root / "nuswide", "nuswide", name="tiny_guard")
    target = write_manifest(tmp_path / "existing.json", {"keep": "me"})
    with pytest.raises(ManifestExistsError, match=re.escape(f"manifest {target} exists already: pass --force")):
        save_manifest(manifest, target)
    assert json.loads(target.read_text()) == {"keep": "me"}
    save_manifest(manifest, target, force=True)
    assert load_manifest(target) == manifest, "a manifest can also be loaded by path"
    committed = write_manifest(manifests_dir / "tiny_guard.json", {"keep": "me"})
    monkeypatch.setattr(sys, "argv", ["manifest", "record", str(root / "nuswide"), "--dataset", "nuswide",
                                      "--split-rule", "m3", "--name", "tiny_guard"])
    with pytest.raises(ManifestExistsError, match=re.escape(str(committed))):
        manifest_module.main(sys.argv[1:])
    assert json.loads(committed.read_text()) == {"keep": "me"}
    monkeypatch.setattr(sys, "argv", sys.argv + ["--force"])
    manifest_module.main(sys.argv[1:])
    assert load_manifest("tiny_guard") == replace(manifest, source="recorded from a local copy")


def test_missing_images_advice_names_the_flag_and_the_papermill_parameter(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "coco")
    manifest = recorded(root, "coco")
    (root / first_images(root, manifest, 1)[0]).unlink()
    report, _ = verify(root, manifest, progress=False)
    assert "--on-missing skip" in report.message() and "on_missing='skip'" in report.message()


# --- Bad inputs: the wrong layout, a file as root, malformed manifests and annotation files ------------------------

@pytest.mark.parametrize("layout,manifest_name,found,fits", [
    ("coco", "demo_nuswide_m3", "MS-COCO 2014", LAYOUT_PROFILES["coco2014"]),
    ("nuswide", "coco2014_multi_order", "NUS-WIDE", LAYOUT_PROFILES["nuswide"]),
])
def test_the_other_datasets_layout_is_named_with_the_profiles_that_fit(tiny_demo, layout, manifest_name, found, fits):
    root, _ = tiny_demo
    with pytest.raises(ValueError, match=f"holds the {found} layout") as error:
        verify(root / layout, load_manifest(manifest_name))
    message = str(error.value)
    assert str(root / layout) in message and all(name in message for name in fits) and "\n" not in message


def test_prepare_names_the_profile_when_the_layout_is_the_other_one(tiny_demo, tmp_path):
    root, _ = tiny_demo
    with pytest.raises(ValueError, match="holds the MS-COCO 2014 layout .* but profile demo .*expects NUS-WIDE"):
        prepare(load_profile("demo", data_root=root / "coco"), tmp_path / "work")


def test_layout_profiles_are_the_shipped_profiles_of_each_dataset():
    shipped = {name: load_profile(name).dataset for name in available_profiles()}
    assert {name: dataset for dataset, names in LAYOUT_PROFILES.items() for name in names} == shipped


def test_a_root_that_holds_neither_layout_points_at_the_subfolders(tiny_demo):
    root, _ = tiny_demo
    with pytest.raises(ValueError, match="holds neither") as error:
        verify(root, load_manifest("demo_coco2014_m3"))
    assert str(root / "coco") in str(error.value)


def test_a_root_that_is_a_file(tmp_path):
    archive = tmp_path / "nuswide.zip"
    archive.write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match=re.escape(f"the dataset root {archive} is a file, not a folder")):
        verify(archive, load_manifest("nuswide_m3"))


def test_a_manifest_that_is_not_json_names_the_file(manifests_dir):
    path = write_manifest(manifests_dir / "broken.json", '{"name": "broken", "files": {')
    with pytest.raises(ValueError, match=re.escape(f"manifest {path} is not valid JSON")):
        load_manifest("broken")


def test_a_manifest_with_an_unknown_field_names_the_file_and_the_field(manifests_dir):
    committed = json.loads((Path(__file__).parents[2] / "data_manifests" / "demo_nuswide_m3.json").read_text())
    content = {**committed, "checksums": {}}
    path = write_manifest(manifests_dir / "extra.json", content)
    with pytest.raises(ValueError, match=re.escape(f"manifest {path} has unknown field(s) checksums")):
        load_manifest("extra")


def test_a_manifest_that_is_missing_names_the_available_ones():
    with pytest.raises(FileNotFoundError, match="demo_nuswide_m3"):
        load_manifest("no_such_manifest")


def unchecked(manifest: Manifest) -> Manifest:
    """The manifest without checksums, as the committed real-data manifests are."""
    return replace(manifest, files={rel: {**entry, "sha256": None} for rel, entry in manifest.files.items()})


def test_a_truncated_annotation_file_is_named(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "coco")
    manifest = unchecked(recorded(root, "coco"))
    path = root / "annotations" / "captions_val2014.json"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ValueError, match=re.escape(f"COCO annotation file {path} is not valid JSON")):
        read_coco(root)
    report, table = verify(root, manifest, progress=False)
    assert table is None and any(f"{path} is not valid JSON" in e for e in report.errors), report.message()
    with pytest.raises(DatasetMismatchError, match=re.escape(f"{path} is not valid JSON")):
        build_index(tmp_path / "index", root, manifest, profile="t")


@pytest.mark.parametrize("name,key", [("captions_train2014.json", "annotations"), ("instances_val2014.json", "categories")])
def test_an_annotation_file_without_a_key_names_the_file_and_the_key(tiny_demo, tmp_path, name, key):
    root = copy_layout(tiny_demo, tmp_path, "coco")
    manifest = unchecked(recorded(root, "coco"))
    path = root / "annotations" / name
    data = json.loads(path.read_text())
    del data[key]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=re.escape(f"COCO annotation file {path} has no '{key}' key")):
        read_coco(root)
    report, _ = verify(root, manifest, progress=False)
    assert any(f"{path} has no '{key}' key" in e for e in report.errors), report.message()


def test_an_annotation_entry_without_a_key_names_the_file_and_the_key(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "coco")
    path = root / "annotations" / "instances_train2014.json"
    data = json.loads(path.read_text())
    del data["annotations"][2]["category_id"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=re.escape(f"{path}: annotations[2] has no 'category_id' key")):
        read_coco(root)


def test_a_nuswide_list_that_is_not_text_names_the_file(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "nuswide")
    path = root / "NUS_WID_Tags" / "TagList1k.txt"
    path.write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(ValueError, match=re.escape(f"{path} is not a text file")):
        read_nuswide(root)
