"""Planning the demo: every image's scene, labels, tags, captions,
split and ids, before any pixel."""

from __future__ import annotations

import numpy as np

from annokit.demo.sampling import make_captions, sample_labels, sample_scene, sample_tags
from annokit.demo.seeding import _GLOBAL_INDEX, _GLOBAL_STREAM, _SAMPLE_STREAM, image_rng
from annokit.demo.truth import _COCO_ID_RANGE, DemoConfig, DemoTruth
from annokit.demo.vocabulary import LABEL_NAMES, TAG_NAMES
from annokit.demo.writers import coco_file_name


def multi_hot(rows: list[tuple[str, ...]], names: tuple[str, ...]) -> np.ndarray:
    """N×len(names) bool matrix of which names each row holds."""
    column = {name: j for j, name in enumerate(names)}
    out = np.zeros((len(rows), len(names)), dtype=bool)
    for i, row in enumerate(rows):
        out[i, [column[n] for n in row]] = True
    return out


def nuswide_names(scenes: list[str], flickr_ids: np.ndarray) -> list[str]:
    """``Flickr/<folder>/<NNNN>_<flickr id>.jpg`` with a running number
    per folder, in generation order."""
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
