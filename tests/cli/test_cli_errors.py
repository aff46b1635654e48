"""Bad input at the command line: one line naming the file, the problem and the
fix; no traceback unless --debug."""

import errno
import os
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest
import torch

from annokit import atomic, reproduce
from annokit.atomic import atomic_write_text
from annokit.cli import message, run_cli
from annokit.training.checkpoints import CheckpointError, load_checkpoint, save_final

DiskUsage = namedtuple("DiskUsage", "total used free")


def run_module(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def assert_one_clear_line(result: subprocess.CompletedProcess, *named: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2, result.stderr
    for text in named:
        assert text in result.stderr, result.stderr


def test_reproduce_with_a_data_root_that_is_a_file(tmp_path):
    root = tmp_path / "not_a_folder.zip"
    root.write_bytes(b"PK")
    result = run_module(
        "annokit.reproduce",
        "--profile",
        "nuswide-m3",
        "--data-root",
        str(root),
        env={"ANNOKIT_RESULTS": str(tmp_path / "results"), "ANNOKIT_WORK": str(tmp_path / "work")},
    )
    assert_one_clear_line(result, str(root), "is a file, not a folder")


def test_debug_shows_the_traceback(tmp_path):
    root = tmp_path / "missing"
    result = run_module(
        "annokit.reproduce",
        "--profile",
        "nuswide-m3",
        "--data-root",
        str(root),
        "--debug",
        env={"ANNOKIT_RESULTS": str(tmp_path / "results"), "ANNOKIT_WORK": str(tmp_path / "work")},
    )
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_profile_check_of_a_bad_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("description = \n")
    result = run_module("annokit.profile", "check", str(path))
    assert_one_clear_line(result, str(path), "not valid TOML")


def test_a_checkpoint_of_random_bytes_is_called_damaged_not_a_pickled_model(tmp_path):
    path = tmp_path / "epoch_003.pt"
    path.write_bytes(bytes(range(7, 256)) * 8)
    with pytest.raises(
        CheckpointError, match=r"epoch_003\.pt is not a PyTorch checkpoint .*damaged.*Delete it"
    ) as error:
        load_checkpoint(path)
    assert "pickled model" not in str(error.value)


def test_a_full_disk_while_saving_names_the_file_and_keeps_the_earlier_ones(tmp_path, monkeypatch):
    earlier = save_final(
        tmp_path / "final.pt", model_state={"w": torch.ones(2)}, config={}, history={}
    )
    before = earlier.read_bytes()

    def writer_fails(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr(atomic.torch, "save", writer_fails)
    monkeypatch.setattr(
        atomic.shutil, "disk_usage", lambda folder: DiskUsage(total=1 << 30, used=1 << 30, free=0)
    )
    with pytest.raises(OSError) as error:
        save_final(tmp_path / "final.pt", model_state={"w": torch.zeros(2)}, config={}, history={})
    assert error.value.errno == errno.ENOSPC and error.value.filename == str(tmp_path / "final.pt")
    assert (
        message(error.value)
        == f"{tmp_path / 'final.pt'}: the disk is full: free space there (files written before are "
        "intact) and run again to resume"
    )
    assert earlier.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["final.pt"]


def test_a_read_only_results_folder_is_one_line(tmp_path, monkeypatch, capsys):
    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setenv("ANNOKIT_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("ANNOKIT_WORK", str(tmp_path / "results"))  # the run lock goes there first
    monkeypatch.setattr(Path, "mkdir", refuse)
    monkeypatch.setattr(
        reproduce, "chain", lambda: [Path(reproduce.NOTEBOOKS_DIR) / "09_result_tables.ipynb"]
    )
    with pytest.raises(SystemExit) as stop:
        run_cli(reproduce.main, ["--profile", "demo"], prog="reproduce")
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert (
        "Traceback" not in err
        and "permission denied: make it writable" in err
        and str(tmp_path / "results") in err
    )


def test_atomic_text_write_into_a_missing_parent_creates_it(tmp_path):
    assert atomic_write_text("x", tmp_path / "a" / "b.txt").read_text() == "x"


# Bad data, through the command-line tools: python -m annokit.prepare / annokit.data.manifest.


@pytest.fixture(scope="module")
def tiny_manifests(tiny_demo, tmp_path_factory):
    """Manifests of the tiny demo's two layouts, as files (verify
    takes a path as well as a name)."""
    from annokit.data.manifest import record_manifest, save_manifest

    root, _ = tiny_demo
    folder = tmp_path_factory.mktemp("manifests")
    return {
        layout: save_manifest(
            record_manifest(root / layout, dataset, "m3", name=f"tiny_{layout}", source="test"),
            folder / f"tiny_{layout}.json",
        )
        for layout, dataset in (("nuswide", "nuswide"), ("coco", "coco2014"))
    }


def test_a_coco_tree_given_to_a_nuswide_manifest_says_which_layout_it_found(
    tiny_demo, tiny_manifests
):
    root, _ = tiny_demo
    result = run_module(
        "annokit.data.manifest", "verify", str(tiny_manifests["nuswide"]), str(root / "coco")
    )
    assert_one_clear_line(result, str(root / "coco"), "MS-COCO 2014 layout", "coco-m3")


def test_prepare_on_the_wrong_layout_says_which_profiles_fit(tiny_demo, tmp_path):
    root, _ = tiny_demo
    result = run_module(
        "annokit.prepare",
        "--profile",
        "nuswide-m3",
        "--data-root",
        str(root / "coco"),
        "--work-dir",
        str(tmp_path / "work"),
    )
    assert_one_clear_line(result, str(root / "coco"), "coco-m3")


def test_verify_of_a_root_that_is_a_file(tiny_manifests, tmp_path):
    root = tmp_path / "nuswide.zip"
    root.write_bytes(b"PK\x03\x04")
    result = run_module(
        "annokit.data.manifest", "verify", str(tiny_manifests["nuswide"]), str(root)
    )
    assert_one_clear_line(result, str(root), "is a file, not a folder")


@pytest.mark.parametrize(
    "text, problem",
    [("{not json", "is not valid JSON"), ('{"name": "x", "colour": 1}', "unknown field")],
)
def test_a_broken_manifest_is_named(tiny_demo, tmp_path, text, problem):
    root, _ = tiny_demo
    manifest = tmp_path / "broken.json"
    manifest.write_text(text)
    result = run_module("annokit.data.manifest", "verify", str(manifest), str(root / "nuswide"))
    assert_one_clear_line(result, str(manifest), problem)


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: '{"images": [], "categories": []}', "no 'annotations' key"),
    ],
)
@pytest.mark.slow
def test_a_damaged_coco_annotation_file_is_named(tiny_demo, tmp_path, damage, problem):
    import shutil

    from annokit.data.manifest import record_manifest, save_manifest

    root, _ = tiny_demo
    copy = tmp_path / "coco"
    shutil.copytree(root / "coco", copy)
    manifest = record_manifest(copy, "coco2014", "m3", name="tiny_damaged", source="test")
    manifest = save_manifest(
        type(manifest)(
            **{
                **manifest.__dict__,
                "files": {k: {"sha256": None, "lines": None} for k in manifest.files},
            }
        ),
        tmp_path / "no_checksums.json",
    )
    target = copy / "annotations" / "instances_val2014.json"
    target.write_text(damage(target.read_text()))
    result = run_module("annokit.data.manifest", "verify", str(manifest), str(copy))
    assert result.returncode != 0 and "Traceback" not in result.stdout + result.stderr
    assert str(target) in result.stdout + result.stderr and problem in result.stdout + result.stderr


def test_record_refuses_to_overwrite_without_force(tiny_demo, tiny_manifests):
    root, _ = tiny_demo
    target = tiny_manifests["nuswide"]
    before = target.read_text()
    result = run_module(
        "annokit.data.manifest",
        "record",
        str(root / "nuswide"),
        "--dataset",
        "nuswide",
        "--split-rule",
        "m3",
        "--name",
        "x",
        "--out",
        str(target),
    )
    assert_one_clear_line(result, str(target), "--force")
    assert target.read_text() == before
