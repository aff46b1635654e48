"""Tables written to files: the same headers and cells as CSV, Markdown and LaTeX.

``write_table`` is the one writer for every table a notebook writes (``Run.save_table`` and the
paper tables of ``annokit.report.tables``); ``TableStyle`` says which files and how they read.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TABLE_FORMATS = ("csv", "md", "tex")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?( ± \d+\.?\d*)?%?$")
_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


@dataclass(frozen=True)
class TableStyle:
    """Which files ``write_table`` writes and how they read.

    ``formats``: any of "csv", "md", "tex". ``caption``: bold above the Markdown table, the LaTeX
    float's caption. ``notes``: list items below the Markdown table. ``float_format``: a %-format
    or a function (None: in full, as ``to_csv`` writes floats). ``index``: the row labels come
    first. ``label``: the LaTeX label.
    """

    formats: Sequence[str] = ("csv", "md")
    caption: str | None = None
    notes: Sequence[str] = ()
    float_format: str | Callable[[float], str] | None = "%.2f"
    index: bool = True
    label: str | None = None


def is_missing(value) -> bool:
    """None or NaN: an empty cell."""
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))


def flat_header(column) -> str:
    """One column header: the levels of a MultiIndex column joined by a space, empty levels left
    out.

    ``("C-P", "paper")`` -> "C-P paper", ``("", "reproduction")`` -> "reproduction", "mAP" -> "mAP".
    """
    parts = column if isinstance(column, tuple) else (column,)
    return " ".join(text for text in (str(p).strip() for p in parts if not is_missing(p)) if text)


def write_table(
    frame: pd.DataFrame, folder: Path, name: str, style: TableStyle = TableStyle()
) -> list[Path]:
    """Write ``frame`` as ``folder/<name>.<format>`` for each of ``style.formats``; returns the
    paths.

    Every format gets the same headers and the same cells: MultiIndex columns are flattened by
    ``flat_header`` ("C-P paper"); with ``style.index`` the row labels come first, headed by the
    index name ("" when it has none), as ``DataFrame.to_csv`` writes them; floats are written with
    ``style.float_format``, missing values as empty cells, text as it is. The LaTeX file is a
    ``table`` float with special characters escaped (Δ and ± stay Unicode). Each file is written to
    a temporary name in ``folder`` and then renamed over the old one, so a reader never sees half a
    table. ``folder`` is created when missing.
    """
    unknown = [f for f in style.formats if f not in TABLE_FORMATS]
    if unknown:
        raise ValueError(f"unknown table format(s) {unknown}: choose from {TABLE_FORMATS}")
    text = _as_text(frame, style.float_format, style.index)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in style.formats:
        path = folder / f"{name}.{fmt}"
        if fmt == "csv":
            content = text.to_csv(index=False, lineterminator="\n")
        elif fmt == "md":
            content = _markdown(text, style.caption, list(style.notes))
        else:
            content = _latex(text, style.caption, style.label)
        _replace(path, content)
        written.append(path)
    return written


def _as_text(frame: pd.DataFrame, float_format, index: bool) -> pd.DataFrame:
    """The frame as strings under flat headers, row labels first when ``index``."""
    frame = frame.copy()
    frame.columns = [flat_header(c) for c in frame.columns]
    if index:
        names = [
            n if n is not None else ("" if frame.index.nlevels == 1 else f"level_{i}")
            for i, n in enumerate(frame.index.names)
        ]
        frame = frame.reset_index(names=names)
    else:
        frame = frame.reset_index(drop=True)
    if float_format is None:
        show = repr
    elif callable(float_format):
        show = float_format
    else:

        def show(value: float) -> str:
            return float_format % value

    def cell(value) -> str:
        if value is None or value is pd.NA or value is pd.NaT:
            return ""
        if isinstance(value, (float, np.floating)):
            return "" if math.isnan(value) else show(float(value))
        return str(value)

    return pd.DataFrame({i: frame.iloc[:, i].map(cell) for i in range(frame.shape[1])}).set_axis(
        list(frame.columns), axis=1
    )


def _markdown(text: pd.DataFrame, caption: str | None, notes: list[str]) -> str:
    align = ["right" if _numeric(text.iloc[:, i]) else "left" for i in range(text.shape[1])]
    lines = [f"**{caption}**", ""] if caption else []
    lines.append(text.to_markdown(index=False, disable_numparse=True, colalign=align))
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _numeric(column: pd.Series) -> bool:
    cells = [c for c in column if c]
    return bool(cells) and all(_NUMBER.match(c) for c in cells)


def _latex(text: pd.DataFrame, caption: str | None, label: str | None) -> str:
    return text.to_latex(
        index=False,
        escape=True,
        caption=_latex_escape(caption) if caption else None,
        label=label,
        column_format="".join(
            "r" if _numeric(text.iloc[:, i]) else "l" for i in range(text.shape[1])
        ),
    )


def _latex_escape(value: str) -> str:
    return "".join(_LATEX_SPECIAL.get(c, c) for c in value)


def _replace(path: Path, content: str) -> None:
    """Write ``content`` to a temporary file beside ``path``, then rename it to ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(content, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
