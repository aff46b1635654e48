"""Generating the demo under a root: the config marker, reuse or refusal, and the summary."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from annokit.demo.coco_json_writer import COCO_JSON_LAYOUT, write_coco_json_layout
from annokit.demo.csv_layout_writer import CSV_LAYOUT, write_csv_layout
from annokit.demo.files import write_json
from annokit.demo.plan import plan_demo
from annokit.demo.render import render_demo
from annokit.demo.staging import (
    interrupted_publish,
    move_into,
    publish_lock,
    remove_stale_staging,
    staging_dir,
)
from annokit.demo.truth import (
    TRUTH_ARRAYS,
    TRUTH_STRINGS,
    DemoConfig,
    DemoTruth,
    load_demo_truth,
    save_demo_truth,
)
from annokit.demo.voc_layout import VOC_LAYOUT, write_voc_layout
from annokit.demo.writers import write_coco_layout, write_nuswide_layout

log = logging.getLogger(__name__)

# Bump when a change to the generator changes its output, so old folders are not reused.
GENERATOR_VERSION = 1
MARKER = "demo_config.json"
# Rendered layouts; the VOC, the folder + CSV and the COCO JSON layouts are derived from "coco"
# afterwards and added to an older demo.
RENDERED_LAYOUTS = ("coco", "nuswide")
DERIVED_LAYOUTS = {
    VOC_LAYOUT: write_voc_layout,
    CSV_LAYOUT: write_csv_layout,
    COCO_JSON_LAYOUT: write_coco_json_layout,
}
LAYOUTS = (*RENDERED_LAYOUTS, *DERIVED_LAYOUTS)


def config_marker(config: DemoConfig) -> dict:
    """What ``demo_config.json`` holds for a configuration."""
    # "annokit.data.demo" is the generator's on-disk name (its module path when markers
    # were introduced), not an import path: changing it would make check_replaceable refuse
    # every demo folder generated before.
    return {"generator": "annokit.data.demo", "version": GENERATOR_VERSION, **asdict(config)}


def describe(marker: dict) -> str:
    """A marker as ``n_train=..., n_test=..., image_size=..., seed=... (generator version v)``."""
    fields = ", ".join(f"{k}={marker.get(k)}" for k in ("n_train", "n_test", "image_size", "seed"))
    return f"{fields} (generator version {marker.get('version')})"


def existing_marker(root: Path) -> dict | None:
    """The configuration of the demo already under ``root``, or None when there is none."""
    path = Path(root) / MARKER
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def is_complete(root: Path, config: DemoConfig) -> bool:
    """Whether ``root`` holds a finished demo generated with ``config`` (its derived layouts
    aside)."""
    present = all((root / name).is_dir() for name in RENDERED_LAYOUTS) and all(
        (root / name).is_file() for name in (TRUTH_ARRAYS, TRUTH_STRINGS)
    )
    return present and existing_marker(root) == config_marker(config)


def check_replaceable(root: Path, config: DemoConfig, overwrite: bool) -> None:
    """Refuse to replace data that is not this configuration's demo unless ``overwrite`` is set."""
    marker = existing_marker(root)
    if overwrite or marker == config_marker(config):
        return  # our own (possibly incomplete) output for this config: safe to redo
    occupied = [root / name for name in LAYOUTS if (root / name).exists()]
    if marker is not None:
        raise FileExistsError(
            f"{occupied[0] if occupied else root} holds a demo generated with {describe(marker)}, "
            f"not {describe(config_marker(config))}; use another root or delete that folder "
            "(python -m annokit.demo --overwrite replaces it)"
        )
    if occupied:
        raise FileExistsError(
            f"{occupied[0]} already exists but was not written by the demo generator (no "
            f"{root / MARKER}); use another root or delete that folder (python -m annokit.demo "
            "--overwrite replaces it)"
        )


def remove_demo(root: Path) -> None:
    """Delete the demo generator's own outputs under ``root`` (nothing else there)."""
    for name in LAYOUTS:
        if (root / name).is_dir():
            shutil.rmtree(root / name)
        elif (root / name).exists():
            (root / name).unlink()
    for name in (MARKER, TRUTH_ARRAYS, TRUTH_STRINGS):
        (root / name).unlink(missing_ok=True)


def clear_interrupted(root: Path) -> None:
    """Remove what an interrupted generation left: staging folders of processes that are gone, and
    a half-moved demo under ``root`` (its publish marker's process is gone)."""
    remove_stale_staging(root)
    if interrupted_publish(root):
        log.info("an interrupted demo generation left %s half written: redone", root)
        remove_demo(root)


def reuse_demo(root: Path) -> DemoTruth:
    """The truth of the complete demo under ``root`` (its derived layouts added when it predates
    them)."""
    truth = load_demo_truth(root)
    for name, write in DERIVED_LAYOUTS.items():
        if not (root / name).is_dir():  # a demo written before this layout existed
            write(root / name, truth, root / "coco")
    return truth


def write_demo(folder: Path, config: DemoConfig) -> DemoTruth:
    """Plan, render and write every layout, the truth and (last) the marker into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = plan_demo(config)
    images, instances = render_demo(truth, config)
    write_coco_layout(folder / "coco", truth, images, instances, config.image_size)
    write_nuswide_layout(folder / "nuswide", truth, images)
    for name, write in DERIVED_LAYOUTS.items():
        write(folder / name, truth, folder / "coco")
    save_demo_truth(folder, truth)
    write_json(folder / MARKER, config_marker(config))
    return truth


def generate_demo(
    root: Path, config: DemoConfig | None = None, overwrite: bool = False
) -> DemoTruth:
    """Write the demo in its five layouts under ``root`` (skipped when already there) and return
    its truth; written beside ``root`` first and moved in when complete (annokit.demo.staging)."""
    root, config = Path(root), config or DemoConfig()
    root.mkdir(parents=True, exist_ok=True)
    clear_interrupted(root)
    if is_complete(root, config) and not overwrite:
        log.info("demo data for %s already under %s: not regenerated", config, root)
        return reuse_demo(root)
    check_replaceable(root, config, overwrite)
    staging = staging_dir(root)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        truth = write_demo(staging, config)
        with publish_lock(root) as publishing:
            if is_complete(root, config) and not overwrite:  # a run beside ours finished first
                log.info("demo data for %s written under %s by another run", config, root)
                return reuse_demo(root)
            try:
                check_replaceable(root, config, overwrite)
            except FileExistsError:
                publishing.unlink()  # nothing was moved: not an interrupted publish
                raise
            remove_demo(root)
            # the marker last: its presence means the demo is complete
            move_into(staging, root, (*LAYOUTS, TRUTH_ARRAYS, TRUTH_STRINGS, MARKER))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("demo data for %s written under %s", config, root)
    return truth


def summary(truth: DemoTruth) -> str:
    """A few lines describing a generated demo."""
    counts = np.bincount(truth.labels.sum(axis=1), minlength=1)
    return "\n".join(
        [
            f"{len(truth)} images ({int((truth.split == 'train').sum())} train, "
            f"{int((truth.split == 'test').sum())} test), "
            f"{len(truth.label_names)} labels, {len(truth.tag_names)} tags",
            "labels per image: " + ", ".join(f"{k}: {int(c)}" for k, c in enumerate(counts)),
            f"images without label: {float((counts[0]) / len(truth)):.1%}, "
            f"without tag: {float((~truth.tags.any(axis=1)).mean()):.1%}",
        ]
    )
