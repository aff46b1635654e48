"""A run: one profile's prepared index, data root, artifacts folder and results folder, opened by each notebook."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from annokit import paths
from annokit.data.index import PreparedIndex, load_index
from annokit.profile import Profile, load_profile


@dataclass(frozen=True)
class Run:
    """Where a notebook reads and writes for a profile."""

    profile: Profile
    run_dir: Path
    index: PreparedIndex
    data_root: Path
    results: Path

    def figure(self, name: str) -> Path:
        """``results/<profile>/figures/<name>.png``."""
        return self.results / "figures" / f"{name}.png"

    def table(self, name: str) -> Path:
        """``results/<profile>/tables/<name>.csv`` (folder created)."""
        path = self.results / "tables" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def open_run(profile: str, data_root: str = "", work_dir: str = "", **overrides) -> Run:
    """The run of a prepared profile (notebook 00 prepares it); empty strings mean the defaults."""
    loaded = load_profile(profile, data_root=data_root or None, **overrides)
    run_dir = loaded.run_dir(Path(work_dir) if work_dir else None)
    index = load_index(run_dir / "index")
    return Run(profile=loaded, run_dir=run_dir, index=index, data_root=Path(index.meta["data_root"]),
               results=paths.profile_results_dir(profile))
