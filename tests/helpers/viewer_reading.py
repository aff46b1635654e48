"""Reading what the viewer shows back in tests: the chips of a rendered view, a run's
prediction files and label names."""

from __future__ import annotations

import re

import numpy as np

from annokit.artifacts.predictions import load_predictions, prediction_path


def predictions(run, model: str):
    return load_predictions(prediction_path(run.run_dir, model))


# Reading the rendered HTML.

CHIP = re.compile(
    r'<span class="ak-chip ak-(correct|extra|missed)"[^>]*style="([^"]*)">. (.+?) <small>'
)


def model_row(view: str, model: str) -> str:
    match = re.search(rf'<tr class="ak-model" data-model="{re.escape(model)}".*?</tr>', view)
    assert match, f"no row for {model} in the view"
    return match.group(0)


def chips(view: str, model: str) -> list[tuple[str, str]]:
    """(outcome, label) of every chip of a model's row, in the order shown."""
    return [(outcome, label) for outcome, _, label in CHIP.findall(model_row(view, model))]


def marks(view: str, model: str) -> dict[str, list[str]]:
    """The labels of a model's row by outcome, in the order shown."""
    out = {"correct": [], "extra": [], "missed": []}
    for outcome, label in chips(view, model):
        out[outcome].append(label)
    return out


def predicted(view: str, model: str) -> list[str]:
    """The labels a model's row shows as predicted (correct or extra), in the order shown."""
    return [label for outcome, label in chips(view, model) if outcome != "missed"]


def truth_shown(view: str) -> list[str]:
    block = re.search(r'<div class="ak-ground-truth".*?</div>', view).group(0)
    return re.findall(r'class="ak-chip ak-truth"[^>]*>([^<]+)<', block)


def names(run, matrix_row: np.ndarray) -> list[str]:
    return [run.index.label_names[j] for j in np.flatnonzero(matrix_row)]


def per_image_f1(annotation: np.ndarray, truth: np.ndarray) -> np.ndarray:
    correct = (annotation & truth).sum(axis=1)
    total = annotation.sum(axis=1) + truth.sum(axis=1)
    return np.where(total > 0, 2 * correct / np.maximum(total, 1), 0.0)
