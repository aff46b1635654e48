"""Every notebook is paired with a percent-format script (the text that diffs, lints and reviews):
the two agree."""

from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def cells(notebook) -> list[tuple[str, str, tuple[str, ...]]]:
    """What a reader sees: each cell's type, source and tags."""
    return [
        (c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in notebook.cells
    ]


def test_every_notebook_has_its_script_and_every_script_its_notebook():
    assert PAIRS, "no notebooks found"
    scripts = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    assert [p.stem for p in PAIRS] == [p.stem for p in scripts]


@pytest.mark.parametrize("notebook", PAIRS, ids=lambda p: p.stem)
def test_pair_is_in_sync(notebook):
    script = notebook.with_suffix(".py")
    ipynb, text = nbformat.read(notebook, as_version=4), jupytext.read(script, fmt="py:percent")
    assert cells(ipynb) == cells(text), (
        f"{notebook.name} and {script.name} differ: run `make notebooks` (jupytext --sync) after "
        "editing either"
    )


@pytest.mark.parametrize("notebook", PAIRS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs_and_opens_with_parameters(notebook):
    ipynb = nbformat.read(notebook, as_version=4)
    code = [c for c in ipynb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), (
        f"{notebook.name} has outputs"
    )
    assert "parameters" in code[0].metadata.get("tags", []), (
        f"{notebook.name}: the first code cell must be `parameters`"
    )
