"""Checkpoints that survive interruptions: atomic writes, ``weights_only`` loads, clear errors.

Two kinds of file, both plain dicts that ``torch.load(..., weights_only=True)`` reads:

* ``epoch_NNN.pt`` after each epoch: weights, optimizer/scheduler/AMP-scaler state, the
  number of finished epochs, the run's config, its history and the RNG states, so that
  :func:`annokit.training.fit.fit` can resume bit-exactly.
* ``final.pt`` at the end of a stage: weights, config and history only, what later stages
  load with :func:`load_weights`.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from annokit.atomic import atomic_torch_save

FORMAT = "annokit-checkpoint-v1"
FINAL_FILE = "final.pt"  # a finished stage's weights, config and history
EPOCH_FILE = re.compile(r"^epoch_(\d+)\.pt$")
_REQUIRED = {
    "epoch": ("model", "optimizer", "scheduler", "epoch", "config", "history", "rng"),
    "final": ("model", "config", "history"),
}


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and the fix."""


class ConfigMismatchError(CheckpointError):
    """A checkpoint made with other settings than the current run."""


def epoch_path(run_dir: Path, epoch: int) -> Path:
    """``run_dir/epoch_003.pt`` for epoch 3 (epochs count from 1)."""
    return Path(run_dir) / f"epoch_{epoch:03d}.pt"


def epoch_checkpoints(run_dir: Path) -> list[Path]:
    """The per-epoch checkpoints of a run folder, oldest first (temp files ignored)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [
        (int(m.group(1)), p)
        for p in run_dir.iterdir()
        if (m := EPOCH_FILE.match(p.name)) and p.is_file()
    ]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest ``epoch_NNN.pt`` in ``run_dir``, or None."""
    files = epoch_checkpoints(run_dir)
    return files[-1] if files else None


@dataclass(frozen=True)
class TrainingState:
    """What an epoch checkpoint restores besides its record: the weights, the optimiser's, the
    scheduler's and the AMP scaler's states (None when AMP is off) and the RNG states."""

    model: Mapping[str, torch.Tensor]
    optimizer: dict
    scheduler: dict
    rng: dict
    scaler: dict | None = None


def save_checkpoint(
    path: Path,
    state: TrainingState,
    *,
    epoch: int,
    config: dict,
    history: dict,
    meta: dict | None = None,
) -> Path:
    """Write an epoch checkpoint atomically (a temp file in the folder, ``os.replace``), without
    the fsyncs of a final file: one is written every epoch (``annokit.atomic``)."""
    payload = {
        "format": FORMAT,
        "kind": "epoch",
        "model": dict(state.model),
        "optimizer": state.optimizer,
        "scheduler": state.scheduler,
        "scaler": state.scaler,
        "epoch": int(epoch),
        "config": plain(config),
        "history": plain(history),
        "rng": state.rng,
        "meta": plain(meta or {}),
    }
    return atomic_torch_save(payload, path, durable=False)


def save_final(
    path: Path,
    *,
    model_state: Mapping[str, torch.Tensor],
    config: dict,
    history: dict,
    meta: dict | None = None,
) -> Path:
    """Write a stage's finished weights with its config and history (atomically)."""
    payload = {
        "format": FORMAT,
        "kind": "final",
        "model": dict(model_state),
        "config": plain(config),
        "history": plain(history),
        "meta": plain(meta or {}),
    }
    return atomic_torch_save(payload, path)


def load_checkpoint(
    path: Path, expected_config: dict | None = None, *, ignore: Iterable[str] = ()
) -> dict:
    """Load an annokit checkpoint on CPU with ``weights_only=True``; check its config if given.

    ``ignore`` lists flattened config keys allowed to differ (e.g. ``"fit.num_workers"``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}: check the run folder, or train that stage first"
        )
    if not (zipfile.is_zipfile(path) or _starts_like_a_pickle(path)):
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint (neither a zip archive nor a pickle: damaged, "
            "truncated or another kind of file). Delete it and resume from the previous epoch "
            "(fit picks the newest epoch_NNN.pt left), or retrain."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only" in str(err).lower():
            raise CheckpointError(
                f"{path} is not an annokit checkpoint: it holds objects that weights_only=True "
                "refuses (e.g. a whole pickled model). Re-save its state_dict, or delete it and "
                "retrain."
            ) from err
        raise _corrupt(path, err) from err
    except Exception as err:  # zip reader, EOF, unpickling: all mean a damaged file
        raise _corrupt(path, err) from err

    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        hint = (
            " (it looks like a bare state_dict: load it with model.load_state_dict)"
            if _looks_like_state_dict(checkpoint)
            else ""
        )
        raise CheckpointError(
            f"{path} is not an annokit checkpoint{hint}: delete it or use another run folder"
        )
    missing = [k for k in _REQUIRED.get(checkpoint.get("kind"), ("kind",)) if k not in checkpoint]
    if missing:
        raise CheckpointError(
            f"{path} is not a complete annokit checkpoint (missing keys: {', '.join(missing)}): "
            "delete it and resume from the previous epoch, or retrain"
        )
    if expected_config is not None:
        check_config(path, checkpoint["config"], expected_config, ignore=ignore)
    return checkpoint


def _starts_like_a_pickle(path: Path) -> bool:
    """PyTorch's legacy (non-zip) format is a pickle: protocol 2+ files start with byte 0x80."""
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


def _corrupt(path: Path, err: Exception) -> CheckpointError:
    return CheckpointError(
        f"{path} is corrupt or truncated ({type(err).__name__}: {err}). Delete it and resume from "
        "the previous epoch (fit picks the newest epoch_NNN.pt left), or retrain."
    )


def _looks_like_state_dict(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and bool(obj)
        and all(isinstance(v, torch.Tensor) for v in obj.values())
    )


def check_config(path: Path, stored: dict, expected: dict, *, ignore: Iterable[str] = ()) -> None:
    """Raise :class:`ConfigMismatchError` listing every key whose value differs."""
    old, new = flatten(plain(stored)), flatten(plain(expected))
    skip = set(ignore)
    missing = object()
    diffs = [
        (k, old.get(k, missing), new.get(k, missing))
        for k in sorted(old.keys() | new.keys())
        if k not in skip and old.get(k, missing) != new.get(k, missing)
    ]
    if diffs:

        def show(key: str, value: Any) -> str:
            return f"{key} unset" if value is missing else f"{key}={value!r}"

        made = ", ".join(show(k, a) for k, a, _ in diffs)
        now = ", ".join(show(k, b) for k, _, b in diffs)
        raise ConfigMismatchError(
            f"{path}: checkpoint was made with {made}, this run has {now}: use another run folder "
            f"or delete {path.parent} to start over"
        )


def flatten(config: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"fit": {"lr": 0.1}}`` -> ``{"fit.lr": 0.1}``."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def plain(value: Any) -> Any:
    """Configs as weights_only-safe data: dicts, lists, str, int, float, bool, None."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (os.PathLike, torch.device, torch.dtype)):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    for kind in (bool, int, float, str):  # also strips subclasses (torch.__version__, enums)
        if isinstance(value, kind):
            return kind(value)
    if value is None or isinstance(value, torch.Tensor):
        return value
    return repr(value)


def load_weights(
    path: Path, model: nn.Module, expected_config: dict | None = None, *, ignore: Iterable[str] = ()
) -> dict:
    """Load a finished (or epoch) checkpoint's weights into ``model``; returns the checkpoint dict.

    ``ignore``: flattened config keys allowed to differ (the machine's settings, e.g.
    ``"fit.num_workers"``).
    """
    path = Path(path)
    checkpoint = load_checkpoint(path, expected_config, ignore=ignore)
    module = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    state, current = checkpoint["model"], module.state_dict()
    problems = []
    if missing := [k for k in current if k not in state]:
        problems.append(f"missing in file: {_some(missing)}")
    if unexpected := [k for k in state if k not in current]:
        problems.append(f"not in model: {_some(unexpected)}")
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in current.items()
        if k in state and state[k].shape != v.shape
    ]
    if shapes:
        problems.append(f"shape file vs model: {_some(shapes)}")
    if problems:
        raise CheckpointError(
            f"{path} does not fit {type(module).__name__} ({'; '.join(problems)}): build the model "
            "with the settings of that stage, or retrain it"
        )
    module.load_state_dict(state)
    return checkpoint


def _some(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" … (+{len(items) - n})" if len(items) > n else "")


# RNG states as tensors/lists, so checkpoints stay weights_only-loadable.


def rng_state() -> dict:
    """The torch (CPU and CUDA), numpy-global and python ``random`` states of this process."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all()
        if torch.cuda.is_available() and torch.cuda.is_initialized()
        else [],
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": version,
            "state": torch.tensor(internal, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    if (
        state["cuda"]
        and torch.cuda.is_available()
        and len(state["cuda"]) == torch.cuda.device_count()
    ):
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(
        (
            n["name"],
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    p = state["python"]
    random.setstate((p["version"], tuple(int(x) for x in p["state"].tolist()), p["gauss_next"]))
