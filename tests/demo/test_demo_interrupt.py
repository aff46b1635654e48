"""An interrupted demo generation never blocks the next run: it is written beside its root and
moved in when complete, so the rerun redoes it and writes the same bytes as an uninterrupted run;
two runs started together both finish."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import annokit.demo.generate as generate
import annokit.demo.staging as staging
from annokit.demo import main

ARGS = ["--n-train", "6", "--n-test", "4", "--image-size", "32", "--seed", "1"]


def file_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("clean") / "demo"
    main(["--root", str(root), *ARGS])
    return file_bytes(root)


def test_ctrl_c_while_writing_is_redone_on_the_next_run(tmp_path, monkeypatch, capsys, clean_run):
    root = tmp_path / "demo"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generate, "write_nuswide_layout", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["--root", str(root), *ARGS])
    assert not list(tmp_path.glob("demo.partial-*"))  # the staging folder is gone
    assert not (root / "coco").exists()  # nothing half written under the root
    monkeypatch.undo()
    main(["--root", str(root), *ARGS])
    assert "written in" in capsys.readouterr().out
    assert file_bytes(root) == clean_run


def test_ctrl_c_while_moving_into_place_is_redone_on_the_next_run(tmp_path, monkeypatch, clean_run):
    root = tmp_path / "demo"
    moved = staging.move_into

    def half_moved(source: Path, target: Path, names: tuple[str, ...]) -> None:
        moved(source, target, names[:1])
        raise KeyboardInterrupt

    monkeypatch.setattr(generate, "move_into", half_moved)
    with pytest.raises(KeyboardInterrupt):
        main(["--root", str(root), *ARGS])
    assert (root / "coco").is_dir() and (root / staging.PUBLISHING).exists()
    monkeypatch.undo()
    main(["--root", str(root), *ARGS])
    assert file_bytes(root) == clean_run


def test_a_killed_run_leaves_a_staging_folder_that_the_next_run_removes(tmp_path, clean_run):
    root = tmp_path / "demo"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    leftover = tmp_path / f"demo.partial-{dead}"
    (leftover / "coco").mkdir(parents=True)
    main(["--root", str(root), *ARGS])
    assert not leftover.exists() and file_bytes(root) == clean_run


def test_two_runs_started_together_both_finish_with_the_same_files(tmp_path, clean_run):
    root = tmp_path / "demo"
    command = [sys.executable, "-m", "annokit.demo", "--root", str(root), *ARGS]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    assert file_bytes(root) == clean_run
    assert not list(tmp_path.glob("demo.partial-*"))
