"""Every notebook is paired with a percent-format script (the text that diffs, lints and reviews):
the two agree on their cells' sources, and the version git would commit has no outputs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jupytext
import nbformat
import pytest

from annokit.notebook_strip import stripped_text

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
FILTER = "annokit-strip"


def cells(notebook) -> list[tuple[str, str, tuple[str, ...]]]:
    """What a reader sees: each cell's type, source and tags (never outputs or counts)."""
    return [
        (c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in notebook.cells
    ]


def git(folder: Path, *args: str) -> str | None:
    """A read-only git command's output in ``folder``; None outside a checkout or without git."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def committed_text(notebook: Path) -> str:
    """The notebook as git would commit it: run through the clean filter where ``.gitattributes``
    names it and the checkout registered it (``make setup``), else the file as it is."""
    text = notebook.read_text(encoding="utf-8")
    folder = notebook.parent
    attribute = git(folder, "check-attr", "filter", "--", notebook.name) or ""
    registered = git(folder, "config", "--get", f"filter.{FILTER}.clean")
    return stripped_text(text) if attribute.endswith(f": {FILTER}") and registered else text


def check_committed(name: str, text: str) -> None:
    """The committed notebook has no outputs and opens with its parameters cell."""
    ipynb = nbformat.reads(text, as_version=4)
    code = [c for c in ipynb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), (
        f"{name} has outputs: run `make setup` (registers the git filter that strips them), or "
        "clear them in JupyterLab (Edit > Clear Outputs of All Cells) and save"
    )
    assert "parameters" in code[0].metadata.get("tags", []), (
        f"{name}: the first code cell must be `parameters`"
    )


def check_pair(name: str, text: str, script: Path) -> None:
    """The notebook and its script hold the same cells (type, source, tags)."""
    ipynb, paired = nbformat.reads(text, as_version=4), jupytext.read(script, fmt="py:percent")
    assert cells(ipynb) == cells(paired), (
        f"{name} and {script.name} differ: run `make notebooks` (jupytext --sync) after editing "
        "either"
    )


def test_every_notebook_has_its_script_and_every_script_its_notebook():
    assert PAIRS, "no notebooks found"
    scripts = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    assert [p.stem for p in PAIRS] == [p.stem for p in scripts]


@pytest.mark.parametrize("notebook", PAIRS, ids=lambda p: p.stem)
def test_pair_is_in_sync(notebook):
    check_pair(notebook.name, notebook.read_text(encoding="utf-8"), notebook.with_suffix(".py"))


@pytest.mark.parametrize("notebook", PAIRS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs_and_opens_with_parameters(notebook):
    check_committed(notebook.name, committed_text(notebook))


def saved_by_jupyterlab(notebook: Path) -> str:
    """The notebook as JupyterLab saves it after a run: outputs, counts, timings, its kernel."""
    data = json.loads(notebook.read_text(encoding="utf-8"))
    for n, cell in enumerate(c for c in data["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = n + 1
        cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": ["ran\n"]}]
        cell["metadata"]["execution"] = {"iopub.status.busy": "2025-01-01T00:00:00.000Z"}
    data["metadata"]["kernelspec"] = {"display_name": "annokit (.venv)", "name": "annokit"}
    data["metadata"]["language_info"] = {"name": "python", "version": "3.11.9"}
    return json.dumps(data, indent=1)


def test_a_notebook_run_in_jupyterlab_is_committed_unchanged_and_reruns_nothing(tmp_path):
    from annokit.reproduce import stamp

    notebook = PAIRS[0]
    saved = tmp_path / notebook.name
    saved.write_text(saved_by_jupyterlab(notebook), encoding="utf-8")
    with pytest.raises(AssertionError, match="has outputs"):
        check_committed(saved.name, saved.read_text(encoding="utf-8"))
    assert stamp(saved, {"profile": "demo"}) == stamp(notebook, {"profile": "demo"})
    check_pair(saved.name, saved.read_text(encoding="utf-8"), notebook.with_suffix(".py"))
    stripped = stripped_text(saved.read_text(encoding="utf-8"))
    assert stripped.encode() == notebook.read_bytes()
    check_committed(saved.name, stripped)


def test_the_filter_declared_in_gitattributes_strips_what_git_add_stages(tmp_path):
    """Through git itself: a repository with the kit's .gitattributes and the filter registered as
    `make setup` does stages the committed bytes, and one without it registered still works."""
    import sys

    notebook = PAIRS[0]
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    attributes = (NOTEBOOKS.parent / ".gitattributes").read_text(encoding="utf-8")
    (repo / ".gitattributes").write_text(attributes, encoding="utf-8")
    (repo / "notebooks" / notebook.name).write_text(saved_by_jupyterlab(notebook), "utf-8")

    def run(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
        ).stdout

    run("init", "-q")
    run("add", "notebooks")  # no filter registered yet: git adds the file as it is
    run("config", f"filter.{FILTER}.clean", f"{sys.executable} -m annokit.notebook_strip")
    run("add", "--renormalize", "notebooks")
    staged = run("show", f":notebooks/{notebook.name}")
    assert staged.encode() == notebook.read_bytes()
