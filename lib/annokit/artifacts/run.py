"""A run: a profile's prepared index, its data root, work, run and results folders, its device.

Every notebook after 00 opens with ``run = open_stage(profile, data_root, work_dir, device)`` and
hands ``run`` to each stage, which takes the run, not its parts::

    cnn, history = train_cnn(run, epochs=epochs, monitor=monitor)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from annokit import __version__, paths
from annokit.artifacts.features import CachedArrays, load_cached
from annokit.artifacts.predictions import Predictions, load_predictions, prediction_path
from annokit.artifacts.stamps import check_matches_index
from annokit.atomic import atomic_write_text
from annokit.data.index import PreparedIndex, load_index
from annokit.profile import Profile, load_profile
from annokit.training.fit import resolve_device

SETTINGS_RECORD = "settings.json"


@dataclass(frozen=True)
class Run:
    """Where a notebook reads and writes for a profile, and the device its stages train on."""

    profile: Profile
    run_dir: Path  # <work>/runs/<profile>
    index: PreparedIndex
    data_root: Path
    results: Path  # results/<profile>
    work_dir: Path  # holds runs/, data/, weights/ and cache/
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    source: str = ""  # the profile's name or TOML path as opened ("": its name)

    @cached_property
    def validation(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions (fit, validation) in the training split: stages train on the first, choose
        on the second."""
        from annokit.training.validation import validation_positions

        return validation_positions(self.profile, self.index)

    def on(self, device: torch.device | str) -> Run:
        """The same run with its stages on ``device``."""
        return replace(self, device=torch.device(device))

    def figure(self, name: str) -> Path:
        """``results/<profile>/figures/<name>.png``."""
        return self.results / "figures" / f"{name}.png"

    def table(self, name: str) -> Path:
        """``results/<profile>/tables/<name>.csv`` (folder created)."""
        path = self.results / "tables" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def save_table(self, frame: pd.DataFrame, name: str, **options) -> list[Path]:
        """Write a table to ``results/<profile>/tables/<name>.{csv,md}`` (the one writer)."""
        from annokit.report.table_files import TableStyle, write_table

        return write_table(frame, self.results / "tables", name, TableStyle(**options))

    def predictions(self, model: str) -> Predictions:
        """A prediction file of this run (``<run>/predictions/<model>.npz``), refused unless made on
        its index."""
        predictions = load_predictions(prediction_path(self.run_dir, model))
        check_matches_index(predictions, self.index)
        return predictions

    def cached(self, name: str) -> CachedArrays:
        """Cached per-image arrays of this run (``<run>/features/<name>.npz``), refused unless made
        on its index."""
        cached = load_cached(self.run_dir, name)
        check_matches_index(cached, self.index)
        return cached


def open_run(profile: str, data_root: str = "", work_dir: str = "", **overrides) -> Run:
    """The run of a prepared profile (notebook 00 prepares it); empty strings mean the defaults."""
    loaded = load_profile(profile, data_root=data_root or None, **overrides)
    work = Path(work_dir) if work_dir else paths.work_dir()
    run_dir = loaded.run_dir(work)
    index = load_index(run_dir / "index")
    return Run(
        profile=loaded,
        run_dir=run_dir,
        index=index,
        data_root=Path(index.meta["data_root"]),
        results=paths.profile_results_dir(loaded.name),
        work_dir=work,
        source=str(profile),
    )


def record_settings(run: Run) -> Path:
    """Write the run's resolved settings to ``<run>/settings.json``: every result traces to them."""
    record = {
        "profile": run.profile.name,
        "annokit_version": __version__,
        "index": run.index.meta.get("fingerprint"),
        "settings": run.profile.to_dict(),
    }
    return atomic_write_text(json.dumps(record, indent=1), run.run_dir / SETTINGS_RECORD)


def open_stage(
    profile: str,
    data_root: str = "",
    work_dir: str = "",
    device: str = "auto",
    workers: int | None = None,
    **overrides,
) -> Run:
    """What every stage notebook starts with: the run on its device, its settings recorded.

    ``workers`` (None: the profile's ``[loader] workers``) overrides how many processes decode
    images.
    """
    run = open_run(profile, data_root, work_dir, **overrides)
    if workers is not None:
        run = replace(
            run,
            profile=replace(run.profile, loader=replace(run.profile.loader, workers=int(workers))),
        )
    run = run.on(resolve_device(device or "auto"))
    record_settings(run)
    counts = {split: len(run.index.rows(split)) for split in ("train", "test")}
    print(
        f"{run.profile.name}: {run.profile.description}\n  {counts['train']:,} train / "
        f"{counts['test']:,} test images, {len(run.index.label_names)} labels, "
        f"{len(run.index.tag_names)} tags | device: {run.device} | run folder: {run.run_dir}"
    )
    return run
