"""Where the kit keeps things: work folder (data, indices, checkpoints), manifests, results."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path:
    """The checkout holding this package (editable install), else the current folder."""
    candidate = _PACKAGE_DIR.parents[1]
    return candidate if (candidate / "pyproject.toml").exists() else Path.cwd()


def work_dir() -> Path:
    """Generated data and run artifacts; ``$ANNOKIT_WORK``
    overrides the default ``<repo>/.work``."""
    return Path(os.environ.get("ANNOKIT_WORK", repo_root() / ".work")).expanduser()


def manifests_dir() -> Path:
    """The committed ``data_manifests/`` folder."""
    return repo_root() / "data_manifests"


def results_dir() -> Path:
    """``results/``: ``reported/`` plus one folder per profile;
    ``$ANNOKIT_RESULTS`` moves the profile folders."""
    return Path(os.environ.get("ANNOKIT_RESULTS", repo_root() / "results")).expanduser()


def demo_data_dir(seed: int = 0) -> Path:
    """Where the demo generator writes both layouts for a seed."""
    return work_dir() / "data" / f"demo-seed{seed}"


def weights_dir() -> Path:
    """Pretrained weights a profile names by file name (the demo's stand-in is built here):
    ``$ANNOKIT_WEIGHTS``, else ``<work>/weights``."""
    return Path(os.environ.get("ANNOKIT_WEIGHTS", work_dir() / "weights")).expanduser()


def profile_results_dir(profile: str) -> Path:
    """``results/<profile>/``: executed notebooks, tables and figures of one run profile."""
    return results_dir() / profile


def reported_dir() -> Path:
    """``results/reported/``: the papers' own numbers as CSV (committed, never moved)."""
    return repo_root() / "results" / "reported"
