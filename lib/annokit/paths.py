"""Where the kit keeps things: work folder (data, indices, checkpoints), manifests, results."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


REPO_VARIABLE = "ANNOKIT_REPO"
WORK_VARIABLE = "ANNOKIT_WORK"


def package_checkout() -> Path | None:
    """The checkout this package is imported from (an editable install), None when installed."""
    candidate = _PACKAGE_DIR.parents[1]
    return candidate if (candidate / "pyproject.toml").exists() else None


def repo_root() -> Path:
    """The checkout being run: ``$ANNOKIT_REPO`` (the runner and ``make`` set it, so a notebook
    kernel started from a copy uses the copy), else the checkout holding this package, else the
    current folder."""
    given = os.environ.get(REPO_VARIABLE)
    if given:
        return Path(given).expanduser().resolve()
    return package_checkout() or Path.cwd()


def work_dir() -> Path:
    """Generated data (the demo, its pretraining set), weights, caches and run artifacts:
    ``$ANNOKIT_WORK``, else ``<repo>/.work``."""
    return Path(os.environ.get(WORK_VARIABLE) or repo_root() / ".work").expanduser()


def check_checkout() -> None:
    """Refuse to run one checkout's notebooks with another checkout's library (a copied ``.venv``
    still imports the original's ``lib/``)."""
    imported, running = package_checkout(), repo_root()
    if imported is not None and imported.resolve() != running.resolve():
        raise RuntimeError(
            f"{running} is run with the library of {imported} ({imported / 'lib'} is what this "
            f"Python imports): run `make setup` in {running} (or `.venv/bin/python -m pip install "
            "-e .` there) so it uses its own"
        )


@contextmanager
def working_in(work: Path | str | None) -> Iterator[Path]:
    """Make ``work`` (else the current work folder) the work folder of this process and of the
    notebook kernels it starts while the body runs (``$ANNOKIT_WORK``, with ``$ANNOKIT_REPO``):
    runs, demo data, pretraining set, weights and caches all follow it. Yields it, absolute."""
    folder = Path(work).expanduser().resolve() if work else work_dir().resolve()
    saved = {name: os.environ.get(name) for name in (WORK_VARIABLE, REPO_VARIABLE)}
    os.environ[REPO_VARIABLE] = str(repo_root())
    os.environ[WORK_VARIABLE] = str(folder)
    try:
        yield folder
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def manifests_dir() -> Path:
    """The committed ``data_manifests/`` folder."""
    return repo_root() / "data_manifests"


def names_manifest_file(text: str) -> bool:
    """Whether a manifest setting is a file's path (a ``.json`` name or a folder in it) rather than
    the name of a committed manifest in ``data_manifests/``."""
    return text.endswith(".json") or "/" in text or os.sep in text


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
