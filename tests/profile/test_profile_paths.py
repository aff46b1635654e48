"""Tests for profiles given by path (``annokit prepare --profile mine.toml``): a file of your own
that extends a shipped profile, its relative data_root found from the file's folder, and the
commands that take it."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from annokit import paths
from annokit.console import main as console_main
from annokit.data.manifest import record_manifest
from annokit.data.manifest_file import save_manifest
from annokit.prepare import main as prepare_main
from annokit.profile.load import PROFILES_DIR, load_profile, profile_argument
from annokit.reproduce_options import reproduce_parser
from annokit.run_guard import run_folder

MINE = """# My own COCO export: the demo's settings, my data.
extends = "demo-cocojson"
description = "my labelled images"
data_root = "../data/mine"  # from this file's folder
manifest = "mine"
"""


def write_profile(folder: Path, text: str = MINE, name: str = "mine.toml") -> Path:
    """A profile file of one's own in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def test_a_profile_file_extends_a_shipped_profile_and_finds_its_data_beside_it(
    tmp_path, monkeypatch
):
    path = write_profile(tmp_path / "profiles")
    monkeypatch.chdir(tmp_path)  # the relative data_root does not depend on the current folder
    profile = load_profile("profiles/mine.toml")
    assert (profile.name, profile.dataset, profile.manifest) == ("mine", "cocojson", "mine")
    assert profile.data_root == tmp_path / "data" / "mine"
    assert profile.resolved_data_root() == tmp_path / "data" / "mine"
    assert profile.image_size == load_profile("demo").image_size  # from demo, through demo-cocojson
    assert profile.run_dir(tmp_path / "work") == tmp_path / "work" / "runs" / "mine"
    assert load_profile(path, data_root=tmp_path / "other").data_root == tmp_path / "other"


def test_a_manifest_given_by_path_is_read_from_the_profile_files_folder(tmp_path, monkeypatch):
    text = MINE.replace('manifest = "mine"', 'manifest = "manifests/mine.json"')
    write_profile(tmp_path / "profiles", text)
    monkeypatch.chdir(tmp_path / "profiles")
    expected = str(tmp_path / "profiles" / "manifests" / "mine.json")
    assert load_profile("mine.toml").manifest == expected
    monkeypatch.chdir(tmp_path)  # a notebook runs in another folder: the same file
    assert load_profile(tmp_path / "profiles" / "mine.toml").manifest == expected
    absolute = MINE.replace('manifest = "mine"', f'manifest = "{tmp_path / "m.json"}"')
    assert load_profile(write_profile(tmp_path, absolute)).manifest == str(tmp_path / "m.json")


def test_the_profile_argument_takes_a_name_or_a_file_and_refuses_a_shipped_name(tmp_path):
    assert profile_argument("demo-csv") == "demo-csv"
    assert profile_argument(str(PROFILES_DIR / "demo-csv.toml")) == "demo-csv"
    path = write_profile(tmp_path)
    assert profile_argument(str(path)) == str(path.resolve())
    with pytest.raises(argparse.ArgumentTypeError, match="no such profile file"):
        profile_argument(str(tmp_path / "nowhere.toml"))
    with pytest.raises(argparse.ArgumentTypeError, match="or the path of your own profile file"):
        profile_argument("no-such-profile")
    copy = write_profile(tmp_path, name="demo.toml")
    with pytest.raises(argparse.ArgumentTypeError, match="rename it \\(e.g. my-demo.toml\\)"):
        profile_argument(str(copy))


def test_prepare_takes_a_profile_file(tiny_demo, tmp_path, monkeypatch, capsys):
    shutil.copytree(tiny_demo[0] / "cocojson", tmp_path / "data" / "mine")
    manifests = tmp_path / "data_manifests"
    manifests.mkdir()
    monkeypatch.setattr(paths, "manifests_dir", lambda: manifests)
    monkeypatch.setenv("ANNOKIT_WORK", str(tmp_path / "work"))
    save_manifest(record_manifest(tmp_path / "data" / "mine", "cocojson", "official", "mine", "t"))
    write_profile(tmp_path / "profiles")
    monkeypatch.chdir(tmp_path / "profiles")
    assert prepare_main(["--profile", "mine.toml"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("mine: cocojson / official split, 48 train + 24 test images")
    assert (tmp_path / "work" / "runs" / "mine" / "index").is_dir()


def test_reproduce_takes_a_profile_file_and_names_its_run_after_it(tmp_path, monkeypatch):
    path = write_profile(tmp_path / "profiles")
    monkeypatch.chdir(tmp_path / "profiles")
    args = reproduce_parser("annokit reproduce").parse_args(["--profile", "mine.toml"])
    assert args.profile == str(path.resolve())  # the notebooks run in notebooks/
    work = tmp_path / "work"
    assert run_folder(args.profile, {"work_dir": str(work)}) == work / "runs" / "mine"


@pytest.mark.parametrize("command", ["prepare", "reproduce"])
def test_a_missing_profile_file_is_one_line(tmp_path, capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        console_main([command, "--profile", str(tmp_path / "mine.toml")])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]  # below argparse's usage
    assert exit_info.value.code == 2 and len(errors) == 1, err
    assert errors[0].endswith(f"{tmp_path / 'mine.toml'}: no such profile file"), err
