"""The validation split: training images held out with a fixed seed, on which every choice is made.

Epochs, checkpoints, thresholds and neighbour counts are chosen on these images, and training curves
are scored on them; the test split is read once, by the final predictions. The positions refer to the
training split's rows in ``index.rows("train")`` order, which is also the order of every cached array.
"""

from __future__ import annotations

import numpy as np

from annokit.profile import EvaluationSettings


def validation_split(n_train: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted positions (fit, validation) of ``n_train`` training images; ``round(fraction · n_train)`` are held out.

    The draw depends on (n_train, seed) only, so every stage of a run holds out the same images.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the validation fraction must be in [0, 1), got {fraction}")
    n_validation = int(round(fraction * n_train))
    if n_validation >= n_train:
        raise ValueError(f"holding out {n_validation} of {n_train} training images leaves none to train on")
    order = np.random.default_rng(seed).permutation(n_train)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


def split_of(settings: EvaluationSettings, n_train: int) -> tuple[np.ndarray, np.ndarray]:
    """``validation_split`` with a profile's ``[evaluation]`` settings."""
    return validation_split(n_train, settings.validation_fraction, settings.validation_seed)


def curve_subset(n_validation: int, limit: int) -> np.ndarray:
    """The validation positions scored for a training curve: all of them, or the first ``limit`` (a fixed subset)."""
    return np.arange(min(n_validation, limit))
