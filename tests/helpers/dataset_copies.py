"""Copies of the tiny demo's layouts and hand-written manifests, for tests that damage them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from annokit.data.manifest import record_manifest
from annokit.data.manifest_file import Manifest

LAYOUTS = {"coco": "coco2014", "nuswide": "nuswide"}


def copy_layout(tiny_demo, tmp_path: Path, layout: str) -> Path:
    """A private copy of one layout of the tiny demo, free to damage."""
    root, _ = tiny_demo
    copy = tmp_path / layout
    shutil.copytree(root / layout, copy)
    return copy


def recorded(root: Path, layout: str, rule: str = "m3", name: str = "tiny") -> Manifest:
    """A manifest of a root as it is now."""
    return record_manifest(root, LAYOUTS[layout], rule, name=name, source="test")


def write_manifest(path: Path, content: object) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path
