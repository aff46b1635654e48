"""The ``annokit`` command: its subcommands, each the tool's own command line."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from annokit.annotate.model_menu import MODELS
from annokit.console import SUBCOMMANDS, main
from helpers.viewer_run import PROFILE, write_tiny_run


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "annokit.console", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_package_installs_the_annokit_command():
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts["annokit"] == "annokit.console:main"


def test_help_lists_every_subcommand():
    out = run("--help")
    assert out.returncode == 0
    for name in (
        "reproduce",
        "prepare",
        "verify",
        "profile",
        "demo",
        "bench",
        "viewer",
        "annotate",
    ):
        assert name in out.stdout and name in SUBCOMMANDS


def test_every_subcommand_reaches_its_tool():
    for name in SUBCOMMANDS:
        assert callable(SUBCOMMANDS[name].main()), name


def test_a_subcommand_runs_the_tool_and_its_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as done:
        main(["profile", "check", "demo"])
    assert done.value.code == 0 and "valid" in capsys.readouterr().out
    out = run("profile", "check", "no-such-profile")
    assert out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith("annokit profile: error:") and "no-such-profile" in out.stderr


def test_annotate_errors_are_one_line_without_traceback(tmp_path):
    out = run("annotate", "--model", "resnet", "--work-dir", str(tmp_path), str(tmp_path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "annokit annotate: error: unknown model 'resnet': choose one of "
        + "; ".join(f"{c.name} ({c.summary})" for c in MODELS.values())
    ]


def test_an_unknown_subcommand_names_the_choices():
    out = run("reproduec")
    assert out.returncode == 2 and "invalid choice" in out.stderr and "reproduce" in out.stderr


def test_viewer_writes_the_gallery_of_a_run(tiny_demo, tmp_path):
    root, _ = tiny_demo
    write_tiny_run(root, tmp_path / "work")
    out = tmp_path / "gallery.html"
    with pytest.raises(SystemExit) as done:
        main(
            [
                "viewer",
                "--profile",
                PROFILE,
                "--work-dir",
                str(tmp_path / "work"),
                "--out",
                str(out),
                "--size",
                "4",
            ]
        )
    assert done.value.code == 0
    html = out.read_text()
    assert html.count("<img") >= 4 and "ak-chip" in html
