"""Cached features made by hand for tests of the heads: no notebook needs to run first."""

from __future__ import annotations

import numpy as np

from annokit.artifacts.features import CachedArrays


def fake_visual(run) -> CachedArrays:
    """f_v of every image: its labels, a little noise and a constant, as the cached MS-CNN features
    would be (a head can learn them within an epoch or two)."""
    index, rng = run.index, np.random.default_rng(0)
    labels = index.label_matrix().astype(np.float32)
    features = np.hstack([labels, np.ones((len(labels), 1), np.float32)])
    features += rng.normal(0, 0.05, features.shape).astype(np.float32)
    train, test = index.rows("train"), index.rows("test")
    meta = {"index_fingerprint": index.meta["fingerprint"]}
    return CachedArrays("mscnn_features", features[train], features[test], train, test, meta)
