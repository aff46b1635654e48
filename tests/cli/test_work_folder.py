"""The work folder follows the checkout being run and ``--work-dir`` moves everything under it
(runs, demo data, pretraining set, weights); a relative ``data_root`` in a profile file is taken
from the file's folder, under ``reproduce`` and ``prepare`` alike."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from annokit import paths, prepare, reproduce
from annokit.profile import load_profile

REPORT = """
import json
from annokit import paths
json.dump({{"repo": str(paths.repo_root()), "work": str(paths.work_dir()),
           "demo": str(paths.demo_data_dir(0)), "weights": str(paths.weights_dir())}},
          open({out!r}, "w"))
"""


def reporting_notebook(folder: Path, out: Path) -> Path:
    """A one-notebook chain whose kernel writes where it finds the kit's folders."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('profile = "demo"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(REPORT.format(out=str(out))),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "00_report.ipynb")
    return folder / "00_report.ipynb"


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    for name in ("ANNOKIT_WORK", "ANNOKIT_WEIGHTS", "ANNOKIT_REPO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANNOKIT_RESULTS", str(tmp_path / "results"))
    return tmp_path


def test_work_dir_moves_demo_data_weights_and_runs_for_the_notebooks(clean_env, monkeypatch):
    out = clean_env / "seen.json"
    notebook = reporting_notebook(clean_env / "notebooks", out)
    monkeypatch.setattr(reproduce, "chain", lambda: [notebook])
    work = clean_env / "moved"
    assert reproduce.main(["--work-dir", str(work)]) == 0
    seen = json.loads(out.read_text())
    assert seen["work"] == str(work)
    assert Path(seen["demo"]).parent.parent == work and Path(seen["weights"]).parent == work
    assert seen["repo"] == str(paths.repo_root())
    assert (work / "runs" / "demo").is_dir()
    assert "ANNOKIT_WORK" not in os.environ  # the runner's own setting is undone


def test_the_kernel_follows_the_checkout_and_work_folder_of_the_runner(clean_env, monkeypatch):
    out = clean_env / "seen.json"
    notebook = reporting_notebook(clean_env / "notebooks", out)
    monkeypatch.setenv("ANNOKIT_WORK", str(clean_env / "work"))
    monkeypatch.chdir(clean_env)  # a kernel started elsewhere still gets the runner's folders
    reproduce.reproduce("demo", {}, [notebook])
    seen = json.loads(out.read_text())
    assert seen["repo"] == str(paths.repo_root()) and seen["work"] == str(clean_env / "work")


def test_a_copy_run_with_the_originals_library_is_refused_in_one_line(clean_env, monkeypatch):
    copy = clean_env / "copy"
    copy.mkdir()
    (copy / "pyproject.toml").write_text("")
    monkeypatch.setenv("ANNOKIT_REPO", str(copy))
    assert paths.work_dir() == copy.resolve() / ".work"
    with pytest.raises(RuntimeError) as error:
        reproduce.main([])
    message = str(error.value)
    assert "\n" not in message and str(copy) in message and "make setup" in message


def test_prepare_work_dir_also_moves_the_generated_demo_data(clean_env, monkeypatch):
    seen = {}
    monkeypatch.setattr(
        "annokit.demo.generate_demo", lambda root, config: seen.setdefault("demo", root)
    )

    def index(folder, root, *args, **kwargs):
        seen["index"], seen["root"] = folder, root
        raise SystemExit(0)

    monkeypatch.setattr(prepare, "build_index", index)
    work = clean_env / "moved"
    with pytest.raises(SystemExit):
        prepare.main(["--profile", "demo", "--work-dir", str(work)])
    assert seen["demo"].parent.parent == work and seen["root"].is_relative_to(work)
    assert seen["index"] == work / "runs" / "demo" / "index"


def test_a_relative_data_root_is_taken_from_the_profile_files_folder(tmp_path, monkeypatch):
    base = tmp_path / "profiles" / "base"
    base.mkdir(parents=True)
    (base / "mine.toml").write_text('extends = "demo"\ndata_root = "../data/coco"\n')
    (tmp_path / "profiles" / "variant.toml").write_text('extends = "base/mine.toml"\nseed = 1\n')
    expected = tmp_path / "profiles" / "data" / "coco"
    for cwd in (tmp_path, paths.repo_root() / "notebooks"):  # prepare's folder, papermill's
        monkeypatch.chdir(cwd)
        assert load_profile(base / "mine.toml").data_root.resolve() == expected
        assert load_profile(tmp_path / "profiles" / "variant.toml").data_root.resolve() == expected
