"""The demo's configuration (DemoConfig), what it intended per image
(DemoTruth), and its truth files."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annokit.demo.files import write_json

TRUTH_ARRAYS = "demo_truth.npz"
TRUTH_STRINGS = "demo_truth.json"
_COCO_ID_RANGE = 600_000  # real COCO 2014 ids are below this


@dataclass(frozen=True)
class DemoConfig:
    """Size and seed of the demo dataset."""

    n_train: int = 2000
    n_test: int = 1000
    image_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_train < 1 or self.n_test < 1:
            raise ValueError(
                f"the demo needs at least one train and one test image, got {self.n_train} / "
                f"{self.n_test}"
            )
        if self.n_train + self.n_test > _COCO_ID_RANGE // 2:
            raise ValueError(f"the demo holds at most {_COCO_ID_RANGE // 2} images")
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16 pixels, got {self.image_size}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")

    @property
    def n_images(self) -> int:
        """Train plus test images."""
        return self.n_train + self.n_test


@dataclass(frozen=True, eq=False)
class DemoTruth:
    """What the generator intended for every image, in generation order (row i = image i)."""

    label_names: tuple[str, ...]
    tag_names: tuple[str, ...]  # the NUS-WIDE tag list
    labels: np.ndarray  # (N, C) bool
    tags: np.ndarray  # (N, T) bool, NUS-WIDE user tags
    split: np.ndarray  # (N,) str, "train" / "test"
    coco_ids: np.ndarray  # (N,) int64
    coco_files: np.ndarray  # (N,) str, e.g. "train2014/COCO_train2014_000000000123.jpg"
    nuswide_paths: np.ndarray  # (N,) str, e.g. "Flickr/beach/0001_2124494179.jpg"
    captions: list[list[str]]  # N lists of 5 captions
    scene: np.ndarray  # (N,) str, the scene type (also the NUS-WIDE folder)

    def __len__(self) -> int:
        return len(self.split)

    def label_tuple(self, i: int) -> tuple[str, ...]:
        """The label names of image ``i``, sorted."""
        return tuple(name for name, on in zip(self.label_names, self.labels[i]) if on)


# --------------------------------------------------------------------------- truth files


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz np.load reads, with fixed zip timestamps so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def save_demo_truth(root: Path, truth: DemoTruth) -> None:
    """Write the truth as ``demo_truth.npz`` (matrices, ids) and ``demo_truth.json`` (strings)."""
    _write_npz(
        root / TRUTH_ARRAYS,
        {"labels": truth.labels, "tags": truth.tags, "coco_ids": truth.coco_ids},
    )
    write_json(
        root / TRUTH_STRINGS,
        {
            "label_names": list(truth.label_names),
            "tag_names": list(truth.tag_names),
            "split": truth.split.tolist(),
            "coco_files": truth.coco_files.tolist(),
            "nuswide_paths": truth.nuswide_paths.tolist(),
            "scene": truth.scene.tolist(),
            "captions": truth.captions,
        },
    )


def load_demo_truth(root: Path) -> DemoTruth:
    """Read back what ``generate_demo`` intended for the demo under ``root``."""
    root = Path(root)
    with np.load(root / TRUTH_ARRAYS, allow_pickle=False) as arrays:
        labels, tags, coco_ids = arrays["labels"], arrays["tags"], arrays["coco_ids"]
    strings = json.loads((root / TRUTH_STRINGS).read_text(encoding="utf-8"))
    return DemoTruth(
        label_names=tuple(strings["label_names"]),
        tag_names=tuple(strings["tag_names"]),
        labels=labels,
        tags=tags,
        split=np.array(strings["split"]),
        coco_ids=coco_ids,
        coco_files=np.array(strings["coco_files"]),
        nuswide_paths=np.array(strings["nuswide_paths"]),
        captions=strings["captions"],
        scene=np.array(strings["scene"]),
    )
