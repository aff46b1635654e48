"""Synthetic JPEGs for the benchmark when no dataset is given: NUS-WIDE's
typical 500×375, as a prepared index.

The pictures are smooth colour fields with sensor-like noise, so a file decodes about as hard as a
photograph of that size (its mean size in bytes is reported with the rates).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from annokit.data.annotation_table import TRAIN
from annokit.data.index import PreparedIndex

# width × height of most NUS-WIDE images (Flickr's 500-pixel "medium" size)
NUSWIDE_SIZE = (500, 375)
LABELS = 81  # NUS-WIDE's concepts
TAGS = 1000  # NUS-WIDE's tag vocabulary


def synthetic_picture(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A smooth random colour field with Gaussian noise (σ = 8 grey
    levels), ``size`` = (width, height)."""
    width, height = size
    field = Image.fromarray((rng.random((6, 8, 3)) * 255).astype(np.uint8)).resize(
        (width, height), Image.BILINEAR
    )
    noisy = np.asarray(field, dtype=np.float32) + rng.normal(0.0, 8.0, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def write_synthetic_jpegs(
    folder: Path, count: int, size: tuple[int, int] = NUSWIDE_SIZE, seed: int = 0, quality: int = 90
) -> PreparedIndex:
    """``count`` JPEGs under ``folder/<W>x<H>-q<quality>-seed<seed>/`` (files already there are
    reused) and a prepared index of them, all in the train split."""
    batch = f"{size[0]}x{size[1]}-q{quality}-seed{seed}"
    (Path(folder) / batch).mkdir(parents=True, exist_ok=True)
    names = [f"{batch}/{i:06d}.jpg" for i in range(count)]
    for i, name in enumerate(names):
        if not (Path(folder) / name).exists():
            synthetic_picture(np.random.default_rng([seed, i]), size).save(
                Path(folder) / name, "JPEG", quality=quality
            )
    rng = np.random.default_rng(seed)
    labels = [np.sort(rng.choice(LABELS, size=3, replace=False)).astype(np.int16) for _ in names]
    tags = [np.sort(rng.choice(TAGS, size=5, replace=False)).astype(np.int16) for _ in names]
    frame = pd.DataFrame(
        {
            "image_id": [Path(n).stem for n in names],
            "path": names,
            "split": TRAIN,
            "labels": labels,
            "tags": tags,
        }
    )
    meta = {"fingerprint": f"synthetic-{count}-{batch}", "profile": "bench"}
    return PreparedIndex(
        frame=frame,
        label_names=tuple(f"label{j}" for j in range(LABELS)),
        tag_names=tuple(f"tag{j}" for j in range(TAGS)),
        meta=meta,
    )


def mean_file_bytes(folder: Path, index: PreparedIndex) -> float:
    """Mean size of the index's image files, for the report."""
    return float(np.mean([(Path(folder) / path).stat().st_size for path in index.frame["path"]]))
