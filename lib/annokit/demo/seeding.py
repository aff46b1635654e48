"""Seeded random streams of the demo: one generator per image and purpose, and a seeded pick."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

# Seed-sequence streams: per image (sampling, rendering) and one for dataset-wide draws.
_SAMPLE_STREAM, _RENDER_STREAM, _GLOBAL_STREAM = 11, 13, 17
_GLOBAL_INDEX = 2**40  # never an image index


def image_rng(seed: int, index: int, stream: int) -> np.random.Generator:
    """The generator of one image's sampling or rendering: independent of every other image."""
    return np.random.default_rng([seed, index, stream])


def _pick(options: Sequence[T], rng: np.random.Generator) -> T:
    return options[int(rng.integers(len(options)))]
