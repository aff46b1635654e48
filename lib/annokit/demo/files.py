"""Deterministic file output: bytes, text lines and compact JSON, identical for identical input."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

_JSON_SEPARATORS = (",", ":")  # compact, like the official files


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_text_lines(path: Path, lines: Sequence[str], newline: str = "\n") -> None:
    """Write one line per entry, each ending with ``newline``."""
    write_bytes(path, "".join(line + newline for line in lines).encode("utf-8"))


def write_json(path: Path, obj: object) -> None:
    """Compact JSON with a fixed key order (dicts are built in order, never sorted from sets)."""
    write_bytes(
        path, json.dumps(obj, separators=_JSON_SEPARATORS, ensure_ascii=False).encode("utf-8")
    )
