"""The viewer tests' tiny run: the tiny demo with fake prediction files, opened as a run."""

from __future__ import annotations

import numpy as np
import pytest

from annokit.artifacts.run import open_run
from annokit.viewer import Browser
from annokit.viewer.widget import AnnotationViewer
from helpers.viewer_run import PROFILE, write_tiny_run


@pytest.fixture(scope="module")
def tiny_run(tiny_demo, tmp_path_factory):
    """The opened run (``annokit.artifacts.run.Run``) of the tiny demo with fake predictions."""
    root, _ = tiny_demo
    work = tmp_path_factory.mktemp("viewer-work")
    write_tiny_run(root, work)
    return open_run(PROFILE, work_dir=str(work))


@pytest.fixture
def viewer(tiny_run) -> AnnotationViewer:
    return AnnotationViewer(Browser.from_run(tiny_run))


@pytest.fixture(scope="module")
def truth(tiny_run) -> np.ndarray:
    return tiny_run.index.label_matrix("test")
