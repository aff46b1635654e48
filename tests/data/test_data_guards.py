"""Guards of the data side: a stale index is rebuilt, corrupt images are found, manifests are
not overwritten."""

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
from annokit.data.index import IndexOptions, build_index
from annokit.data.manifest import DatasetMismatchError, verify
from annokit.data.manifest_file import Manifest, ManifestExistsError, load_manifest, save_manifest
from annokit.prepare import prepare
from annokit.profile import load_profile
from helpers.dataset_copies import copy_layout, recorded, write_manifest

DEEP_QUIET = IndexOptions(deep=True, progress=False)


def first_images(root: Path, manifest: Manifest, n: int) -> list[str]:
    """The first n image paths of the split, as the index lists them."""
    _, table = verify(root, manifest, progress=False)
    return [str(p) for p in table.paths[:n]]


# --- Defect 3: the index fingerprint covers the images and the manifest's content ---------


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
    _, rebuilt = build_index(
        tmp_path / "index", root, replace(manifest, source="edited"), profile="t"
    )
    assert rebuilt


# --- Defect 3: deep verification decodes every image --------------------------------------


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
    assert (
        "re-copy" in message and "--on-missing skip" in message and "on_missing='skip'" in message
    )
    skipped, kept = verify(root, manifest, deep=True, on_missing="skip", progress=False)
    assert skipped.ok and not set(bad) & set(kept.paths)


def test_build_index_deep_records_the_check_and_redoes_a_shallow_index(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "coco")
    manifest = recorded(root, "coco")
    shallow, _ = build_index(tmp_path / "index", root, manifest, profile="t")
    assert shallow.meta["deep_checked"] is False
    deep, rebuilt = build_index(tmp_path / "index", root, manifest, profile="t", options=DEEP_QUIET)
    assert rebuilt and deep.meta["deep_checked"] is True
    _, rebuilt = build_index(tmp_path / "index", root, manifest, profile="t")
    assert not rebuilt, "a deep-checked index serves a shallow request"
    victim = first_images(root, manifest, 1)[0]
    corrupt(root, [victim])
    with pytest.raises(
        DatasetMismatchError, match="1 image file\\(s\\) cannot be decoded"
    ) as error:
        build_index(tmp_path / "index", root, manifest, profile="t", options=DEEP_QUIET)
    assert victim in str(error.value)


def test_prepare_decodes_every_image_of_a_demo_profile_by_default(tiny_demo, tmp_path):
    root = copy_layout(tiny_demo, tmp_path, "nuswide")
    manifest = recorded(root, "nuswide")
    profile = load_profile("demo", data_root=root)
    prepared = prepare(profile, tmp_path / "work", manifest=manifest)
    assert (
        prepared.index.meta["deep_checked"] is True and "every image decoded" in prepared.summary()
    )
    victim = first_images(root, manifest, 1)[0]
    data = (root / victim).read_bytes()
    (root / victim).write_bytes(data[:100])
    with pytest.raises(DatasetMismatchError, match="cannot be decoded") as error:
        prepare(profile, tmp_path / "work", manifest=manifest)
    assert victim in str(error.value)
    shallow = prepare(profile, tmp_path / "work", manifest=manifest, deep=False)
    assert shallow.rebuilt and shallow.index.meta["deep_checked"] is False


# --- Defect 3: empty manifests, overwriting manifests, the missing-images advice ----------


def test_an_empty_manifest_is_an_error(tiny_demo, manifests_dir):
    root, _ = tiny_demo
    empty = Manifest(
        name="empty",
        dataset="nuswide",
        split_rule="m3",
        source="test",
        files={},
        counts={},
        vocabulary={},
    )
    with pytest.raises(ValueError, match="lists no annotation files and no image counts"):
        verify(root / "nuswide", empty)
    path = write_manifest(manifests_dir / "empty.json", asdict(empty))
    with pytest.raises(ValueError, match=re.escape(f"manifest {path} lists no annotation files")):
        load_manifest("empty")


def test_recording_refuses_to_overwrite_a_manifest_without_force(
    tiny_demo, tmp_path, manifests_dir, monkeypatch
):
    root, _ = tiny_demo
    manifest = recorded(root / "nuswide", "nuswide", name="tiny_guard")
    target = write_manifest(tmp_path / "existing.json", {"keep": "me"})
    with pytest.raises(
        ManifestExistsError, match=re.escape(f"manifest {target} exists already: pass --force")
    ):
        save_manifest(manifest, target)
    assert json.loads(target.read_text()) == {"keep": "me"}
    save_manifest(manifest, target, force=True)
    assert load_manifest(target) == manifest, "a manifest can also be loaded by path"
    committed = write_manifest(manifests_dir / "tiny_guard.json", {"keep": "me"})
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "manifest",
            "record",
            str(root / "nuswide"),
            "--dataset",
            "nuswide",
            "--split-rule",
            "m3",
            "--name",
            "tiny_guard",
        ],
    )
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
