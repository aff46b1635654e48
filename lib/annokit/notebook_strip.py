"""The notebooks' git clean filter and the runner's fingerprint of a notebook: code and parameters,
never outputs.

``python -m annokit.notebook_strip`` reads a notebook on stdin and writes it on stdout without
outputs, execution counts, run metadata (papermill's, JupyterLab's timings and view state) or the
kernel JupyterLab picked, in the layout jupytext writes, so a notebook run and saved in JupyterLab
is committed byte for byte as before. ``.gitattributes`` names it for ``notebooks/*.ipynb``
(``filter=annokit-strip``); ``make setup`` registers it in a git checkout. Input that is not a
notebook is passed through unchanged: the filter never stops git.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

# Cell metadata that is part of the notebook (jupytext writes these); everything else is run state.
KEPT_CELL_METADATA = ("tags", "lines_to_next_cell")
KEPT_NOTEBOOK_METADATA = ("jupytext",)
# What the committed notebooks declare; papermill runs them with this kernel whatever is saved.
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}


def strip_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell without outputs, execution count or run metadata."""
    out = dict(cell)
    out["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in KEPT_CELL_METADATA}
    if out.get("cell_type") == "code":
        out["outputs"], out["execution_count"] = [], None
    return out


def strip_notebook(notebook: dict[str, Any]) -> dict[str, Any]:
    """A notebook as committed: its cells stripped, its metadata reduced to jupytext's pairing and
    the default kernel."""
    meta = notebook.get("metadata", {})
    kept = {k: v for k, v in meta.items() if k in KEPT_NOTEBOOK_METADATA}
    return {
        **notebook,
        "cells": [strip_cell(c) for c in notebook.get("cells", [])],
        "metadata": {**kept, "kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO},
    }


def stripped_text(text: str) -> str:
    """The notebook text as committed (nbformat's layout: indent 1, sorted keys, UTF-8); text that
    is not a notebook comes back unchanged."""
    try:
        notebook = json.loads(text)
    except ValueError:
        return text
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return text
    return json.dumps(strip_notebook(notebook), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def code_fingerprint(path: Path) -> str:
    """A digest of what a notebook runs: each cell's type, source and tags (the parameters cell
    included), not its outputs, execution counts or kernel metadata."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = [
        [
            cell.get("cell_type"),
            "".join(cell.get("source", "")),
            list(cell.get("metadata", {}).get("tags", [])),
        ]
        for cell in notebook.get("cells", [])
    ]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def main() -> int:
    """The clean filter: a notebook on stdin, the same without outputs on stdout."""
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        sys.stdout.buffer.write(data)
        return 0
    sys.stdout.buffer.write(stripped_text(text).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
