"""Bad input at the command line: one line naming the file, the problem and the fix; no traceback unless --debug."""

import errno
import os
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest
import torch

from annokit import checkpoints, reproduce
from annokit.checkpoints import CheckpointError, atomic_write_text, load_checkpoint, save_final
from annokit.cli import message, run_cli

DiskUsage = namedtuple("DiskUsage", "total used free")


def run_module(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env={**os.environ, **(env or {})})


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
    result = run_module("annokit.reproduce", "--profile", "nuswide-m3", "--data-root", str(root),
                        env={"ANNOKIT_RESULTS": str(tmp_path / "results"), "ANNOKIT_WORK": str(tmp_path / "work")})
    assert_one_clear_line(result, str(root), "is a file, not a folder")


def test_debug_shows_the_traceback(tmp_path):
    root = tmp_path / "missing"
    result = run_module("annokit.reproduce", "--profile", "nuswide-m3", "--data-root", str(root), "--debug",
                        env={"ANNOKIT_RESULTS": str(tmp_path / "results"), "ANNOKIT_WORK": str(tmp_path / "work")})
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_profile_check_of_a_bad_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("description = \n")
    result = run_module("annokit.profile", "check", str(path))
    assert_one_clear_line(result, str(path), "not valid TOML")


def test_a_checkpoint_of_random_bytes_is_called_damaged_not_a_pickled_model(tmp_path):
    path = tmp_path / "epoch_003.pt"
    path.write_bytes(bytes(range(7, 256)) * 8)
    with pytest.raises(CheckpointError, match=r"epoch_003\.pt is not a PyTorch checkpoint .*damaged.*Delete it") as error:
        load_checkpoint(path)
    assert "pickled model" not in str(error.value)


def test_a_full_disk_while_saving_names_the_file_and_keeps_the_earlier_ones(tmp_path, monkeypatch):
    earlier = save_final(tmp_path / "final.pt", model_state={"w": torch.ones(2)}, config={}, history={})
    before = earlier.read_bytes()

    def writer_fails(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr(checkpoints.torch, "save", writer_fails)
    monkeypatch.setattr(checkpoints.shutil, "disk_usage", lambda folder: DiskUsage(total=1 << 30, used=1 << 30, free=0))
    with pytest.raises(OSError) as error:
        save_final(tmp_path / "final.pt", model_state={"w": torch.zeros(2)}, config={}, history={})
    assert error.value.errno == errno.ENOSPC and error.value.filename == str(tmp_path / "final.pt")
    assert message(error.value) == f"{tmp_path / 'final.pt'}: the disk is full: free space there (files written before are intact) " \
                                   "and run again to resume"
    assert earlier.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["final.pt"]


def test_a_read_only_results_folder_is_one_line(tmp_path, monkeypatch, capsys):
    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setenv("ANNOKIT_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(Path, "mkdir", refuse)
    monkeypatch.setattr(reproduce, "chain", lambda: [Path(reproduce.NOTEBOOKS_DIR) / "06_result_tables.ipynb"])
    with pytest.raises(SystemExit) as stop:
        run_cli(reproduce.main, ["--profile", "demo"], prog="reproduce")
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "permission denied: make it writable" in err and str(tmp_path / "results") in err


def test_atomic_text_write_into_a_missing_parent_creates_it(tmp_path):
    assert atomic_write_text("x", tmp_path / "a" / "b.txt").read_text() == "x"
