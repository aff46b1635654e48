"""The synthetic demo dataset: plan it from a seed, render it, write it in both real layouts.

``generate_demo(root, config)`` writes ``root/coco`` (MS-COCO 2014 layout) and
``root/nuswide`` (NUS-WIDE layout) holding the same images and labels, plus what the
generator intended (``root/demo_truth.npz`` + ``.json``) so readers can be checked against it.
Run ``python -m annokit.data.demo --root DIR`` to generate from the command line.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import shutil
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from annokit.data.demo_scenes import (
    LABEL_NAMES,
    SCENE_BY_NAME,
    TAG_NAMES,
    Instance,
    make_captions,
    render_image,
    sample_labels,
    sample_scene,
    sample_tags,
)
from annokit.data.demo_writers import coco_file_name, write_coco_layout, write_json, write_nuswide_layout

log = logging.getLogger(__name__)

# Bump when a change to the generator changes its output, so old folders are not reused.
GENERATOR_VERSION = 1
MARKER = "demo_config.json"
TRUTH_ARRAYS = "demo_truth.npz"
TRUTH_STRINGS = "demo_truth.json"
LAYOUTS = ("coco", "nuswide")
JPEG_QUALITY = 90
# Seed-sequence streams: per image (sampling, rendering) and one for dataset-wide draws.
_SAMPLE_STREAM, _RENDER_STREAM, _GLOBAL_STREAM = 11, 13, 17
_GLOBAL_INDEX = 2**40  # never an image index
_COCO_ID_RANGE = 600_000  # real COCO 2014 ids are below this


@dataclass(frozen=True)
class DemoConfig:
    """Size and seed of the demo dataset."""

    n_train: int = 3000
    n_test: int = 1500
    image_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_train < 1 or self.n_test < 1:
            raise ValueError(
                f"the demo needs at least one train and one test image, got {self.n_train} / {self.n_test}")
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


# --------------------------------------------------------------------------- planning


def image_rng(seed: int, index: int, stream: int) -> np.random.Generator:
    """The generator of one image's sampling or rendering: independent of every other image."""
    return np.random.default_rng([seed, index, stream])


def multi_hot(rows: list[tuple[str, ...]], names: tuple[str, ...]) -> np.ndarray:
    """N×len(names) bool matrix of which names each row holds."""
    column = {name: j for j, name in enumerate(names)}
    out = np.zeros((len(rows), len(names)), dtype=bool)
    for i, row in enumerate(rows):
        out[i, [column[n] for n in row]] = True
    return out


def nuswide_names(scenes: list[str], flickr_ids: np.ndarray) -> list[str]:
    """``Flickr/<folder>/<NNNN>_<flickr id>.jpg`` with a running number per folder, in generation order."""
    counters: dict[str, int] = {}
    paths = []
    for folder, flickr_id in zip(scenes, flickr_ids):
        counters[folder] = counters.get(folder, 0) + 1
        paths.append(f"Flickr/{folder}/{counters[folder]:04d}_{int(flickr_id)}.jpg")
    return paths


def plan_demo(config: DemoConfig) -> DemoTruth:
    """Sample every image's scene, labels, tags, captions, split and ids, without rendering."""
    n = config.n_images
    rng = np.random.default_rng([config.seed, _GLOBAL_INDEX, _GLOBAL_STREAM])
    split = rng.permutation(np.array(["train"] * config.n_train + ["test"] * config.n_test))
    coco_ids = 1 + rng.choice(_COCO_ID_RANGE, size=n, replace=False).astype(np.int64)
    flickr_ids = 1_000_000_000 + rng.choice(9_000_000_000, size=n, replace=False).astype(np.int64)
    scenes, labels, tags, captions = [], [], [], []
    for i in range(n):
        r = image_rng(config.seed, i, _SAMPLE_STREAM)
        scene = sample_scene(r)
        labels.append(sample_labels(scene, r))
        tags.append(sample_tags(scene, labels[-1], r))
        captions.append(make_captions(scene, labels[-1], r))
        scenes.append(scene.name)
    return DemoTruth(
        label_names=LABEL_NAMES,
        tag_names=TAG_NAMES,
        labels=multi_hot(labels, LABEL_NAMES),
        tags=multi_hot(tags, TAG_NAMES),
        split=split,
        coco_ids=coco_ids,
        coco_files=np.array([coco_file_name(str(s), int(k)) for s, k in zip(split, coco_ids)]),
        nuswide_paths=np.array(nuswide_names(scenes, flickr_ids)),
        captions=captions,
        scene=np.array(scenes),
    )


# --------------------------------------------------------------------------- rendering


def encode_jpeg(image: Image.Image) -> bytes:
    """JPEG bytes at the fixed quality (encoded once, written to both layouts)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def render_demo(truth: DemoTruth, config: DemoConfig) -> tuple[list[bytes], list[list[Instance]]]:
    """JPEG bytes and instances of every image, in generation order."""
    images, instances = [], []
    for i in range(len(truth)):
        image, drawn = render_image(SCENE_BY_NAME[str(truth.scene[i])], truth.label_tuple(i), config.image_size,
                                    image_rng(config.seed, i, _RENDER_STREAM))
        images.append(encode_jpeg(image))
        instances.append(drawn)
    return images, instances


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
    _write_npz(root / TRUTH_ARRAYS, {"labels": truth.labels, "tags": truth.tags, "coco_ids": truth.coco_ids})
    write_json(root / TRUTH_STRINGS, {
        "label_names": list(truth.label_names),
        "tag_names": list(truth.tag_names),
        "split": truth.split.tolist(),
        "coco_files": truth.coco_files.tolist(),
        "nuswide_paths": truth.nuswide_paths.tolist(),
        "scene": truth.scene.tolist(),
        "captions": truth.captions,
    })


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


# --------------------------------------------------------------------------- generation


def config_marker(config: DemoConfig) -> dict:
    """What ``demo_config.json`` holds for a configuration."""
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
    """Whether ``root`` holds a finished demo generated with ``config``."""
    present = all((root / name).is_dir() for name in LAYOUTS) and all(
        (root / name).is_file() for name in (TRUTH_ARRAYS, TRUTH_STRINGS))
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
            f"not {describe(config_marker(config))}; use another root, delete that folder, "
            "or pass overwrite=True (--overwrite)"
        )
    if occupied:
        raise FileExistsError(
            f"{occupied[0]} already exists but was not written by the demo generator (no {root / MARKER}); "
            "use another root, or pass overwrite=True (--overwrite) to replace it"
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


def generate_demo(root: Path, config: DemoConfig = DemoConfig(), overwrite: bool = False) -> DemoTruth:
    """Write the demo in both layouts under ``root`` (skipped when already there) and return its truth."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if is_complete(root, config) and not overwrite:
        log.info("demo data for %s already under %s: not regenerated", config, root)
        return load_demo_truth(root)
    check_replaceable(root, config, overwrite)
    remove_demo(root)
    truth = plan_demo(config)
    images, instances = render_demo(truth, config)
    write_coco_layout(root / "coco", truth, images, instances, config.image_size)
    write_nuswide_layout(root / "nuswide", truth, images)
    save_demo_truth(root, truth)
    write_json(root / MARKER, config_marker(config))  # last: its presence means the demo is complete
    log.info("demo data for %s written under %s", config, root)
    return truth


def summary(truth: DemoTruth) -> str:
    """A few lines describing a generated demo."""
    counts = np.bincount(truth.labels.sum(axis=1), minlength=1)
    return "\n".join([
        f"{len(truth)} images ({int((truth.split == 'train').sum())} train, "
        f"{int((truth.split == 'test').sum())} test), "
        f"{len(truth.label_names)} labels, {len(truth.tag_names)} tags",
        "labels per image: " + ", ".join(f"{k}: {int(c)}" for k, c in enumerate(counts)),
        f"images without label: {float((counts[0]) / len(truth)):.1%}, "
        f"without tag: {float((~truth.tags.any(axis=1)).mean()):.1%}",
    ])


def main(argv: list[str] | None = None) -> None:
    """Command line: generate (or reuse) the demo under --root and print what is there."""
    parser = argparse.ArgumentParser(
        description="Generate the synthetic demo dataset in the COCO 2014 and NUS-WIDE layouts.")
    defaults = DemoConfig()
    parser.add_argument("--root", type=Path, required=True, help="folder to write coco/ and nuswide/ into")
    parser.add_argument("--n-train", type=int, default=defaults.n_train)
    parser.add_argument("--n-test", type=int, default=defaults.n_test)
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--overwrite", action="store_true", help="replace whatever coco/ and nuswide/ hold")
    args = parser.parse_args(argv)
    config = DemoConfig(args.n_train, args.n_test, args.image_size, args.seed)
    reused = is_complete(args.root, config) and not args.overwrite
    start = time.perf_counter()
    try:
        truth = generate_demo(args.root, config, overwrite=args.overwrite)
    except FileExistsError as error:
        raise SystemExit(f"error: {error}") from None
    seconds = time.perf_counter() - start
    state = "already there, not regenerated" if reused else f"written in {seconds:.1f} s"
    print(f"demo {config}: {state}")
    for name in LAYOUTS:
        print(f"  {args.root / name}")
    print(f"  {args.root / TRUTH_ARRAYS}, {args.root / TRUTH_STRINGS}, {args.root / MARKER}")
    print("  " + summary(truth).replace("\n", "\n  "))


if __name__ == "__main__":
    main()
