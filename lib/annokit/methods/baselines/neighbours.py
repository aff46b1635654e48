"""Nearest neighbours on the CNN features and on the noisy tags, for the kNN baselines (TagProp,
2PKNN, tag kNN).

Images are compared by the squared Euclidean distance of their L2-normalised CNN features, d = 2 − 2
cos ∈ [0, 4] (the scale-free form of the Euclidean distance the kNN papers use), and by the Jaccard
similarity of their tag sets. Queries are processed in chunks, so a paper-sized split never holds a
full query × base matrix. Ties go to the lower base index, so every neighbour list is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

CHUNK = 2048  # query images per block of the distance matrix


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Every row divided by its L2 norm (a zero row stays zero), as float32."""
    x = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def squared_distances(query: np.ndarray, base: np.ndarray) -> np.ndarray:
    """(nq, nb) squared Euclidean distances of unit rows, 2 − 2 cos, clipped at 0 (rounding)."""
    return np.maximum(0.0, 2.0 - 2.0 * (query @ base.T)).astype(np.float32)


def chunks(n: int, size: int = CHUNK) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` over range(n)."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def nearest(
    query: np.ndarray, base: np.ndarray, k: int, *, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest base images of every query (unit rows): indices and distances (nq, k),
    nearest first.

    ``exclude``: for every query, a base index that is not its neighbour (the image itself:
    leave-one-out).
    """
    available = len(base) - int(exclude is not None)
    if not 1 <= k <= available:
        raise ValueError(f"cannot take {k} neighbours among {available} base images")
    indices = np.empty((len(query), k), dtype=np.int64)
    distances = np.empty((len(query), k), dtype=np.float32)
    for part in chunks(len(query)):
        d = squared_distances(query[part], base)
        if exclude is not None:
            d[np.arange(d.shape[0]), np.asarray(exclude)[part]] = np.inf
        indices[part], distances[part] = smallest(d, k)
    return indices, distances


def smallest(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``k`` smallest entries of every row, ascending, ties to the
    lower index."""
    kth = np.partition(values, k - 1, axis=1)[:, k - 1 : k]
    below, tied = values < kth, values == kth
    # how many of the tied entries to take: those of the lowest indices
    fill = k - below.sum(axis=1, keepdims=True)
    keep = below | (tied & (np.cumsum(tied, axis=1) <= fill))
    candidates = np.nonzero(keep)[1].reshape(len(values), k)
    picked = np.take_along_axis(values, candidates, axis=1)
    order = np.lexsort((candidates, picked), axis=1)
    candidates = np.take_along_axis(candidates, order, axis=1)
    return candidates, np.take_along_axis(picked, order, axis=1)


def jaccard(query_tags: np.ndarray, base_tags: np.ndarray) -> np.ndarray:
    """(nq, nb) Jaccard similarity |A ∩ B| / |A ∪ B| of binary tag vectors; 0 where both sets are
    empty."""
    a, b = np.asarray(query_tags, dtype=np.float32), np.asarray(base_tags, dtype=np.float32)
    common = a @ b.T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - common
    return np.where(union > 0, common / np.maximum(union, 1.0), 0.0).astype(np.float32)
