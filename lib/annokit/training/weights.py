"""Pretrained weights a profile names: where the file is, and its manifest entry (checksum, recipe).

A profile's ``[cnn] weights_path`` is empty (torchvision's ImageNet file in the torch hub cache), an
absolute path, or a file name looked up in ``<work>/weights`` (``paths.weights_dir``): the demo's
stand-in ``resnet18-standin.pth`` lives there as a paper user's ``resnet101-63fe2227.pth`` may. A
file with a manifest entry beside it (``<name>.json``: SHA-256 and the recipe that built it) is
checked against it before it is loaded, so a damaged or swapped file is named, never silently used.
"""

from __future__ import annotations

import json
from pathlib import Path

from annokit import paths
from annokit.atomic import atomic_write_text
from annokit.data.manifest import sha256_of


class WeightsError(RuntimeError):
    """A weights file that is missing or does not match its manifest entry."""


def resolve_weights_path(weights_path: str) -> Path | None:
    """The file a profile's ``weights_path`` names; None for the torch hub cache (empty setting)."""
    if not weights_path:
        return None
    path = Path(weights_path).expanduser()
    return path if path.is_absolute() else paths.weights_dir() / path


def entry_path(weights: Path) -> Path:
    """``<name>.json`` beside ``<name>.pth``: the file's manifest entry."""
    return Path(weights).with_suffix(".json")


def write_entry(weights: Path, recipe: dict, **measured) -> dict:
    """Record beside the file its SHA-256, size, the recipe that built it and the ``measured``."""
    entry = {
        "file": Path(weights).name,
        "sha256": sha256_of(weights),
        "bytes": Path(weights).stat().st_size,
        "recipe": recipe,
        **measured,
    }
    atomic_write_text(json.dumps(entry, indent=1, sort_keys=True), entry_path(weights))
    return entry


def read_entry(weights: Path) -> dict | None:
    """The file's manifest entry, or None when it has none (a file the user brought)."""
    path = entry_path(weights)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise WeightsError(
            f"manifest entry {path} is unreadable ({error}): delete it and {_rebuild_hint(weights)}"
        ) from error


def verify_weights(weights: Path) -> Path:
    """``weights`` if it exists and matches its manifest entry (if any), else a WeightsError."""
    weights = Path(weights)
    if not weights.is_file():
        raise WeightsError(f"pretrained weights {weights} are missing: {_rebuild_hint(weights)}")
    entry = read_entry(weights)
    if entry is not None and entry.get("sha256") != sha256_of(weights):
        raise WeightsError(
            f"pretrained weights {weights} do not match the checksum in {entry_path(weights)}: the "
            f"file changed or is damaged; delete both and {_rebuild_hint(weights)}"
        )
    return weights


def _rebuild_hint(weights: Path) -> str:
    if Path(weights).name.endswith("-standin.pth"):
        return "run notebook 00 to build the demo's stand-in again"
    return "copy the torchvision state dict there, or set [cnn] weights_path in the profile"
