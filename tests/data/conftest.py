"""A private data_manifests/ folder for the data tests that write manifests by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from annokit import paths


@pytest.fixture
def manifests_dir(tmp_path, monkeypatch) -> Path:
    """A private data_manifests/ folder: manifests are written and loaded by name there."""
    folder = tmp_path / "data_manifests"
    folder.mkdir()
    monkeypatch.setattr(paths, "manifests_dir", lambda: folder)
    return folder
