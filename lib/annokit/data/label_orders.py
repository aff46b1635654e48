"""Label orders of the fixed-order CNN-RNN baselines (Dutta et al. 2020, Table 1; Wang et al. 2016).

A sequence model needs each image's label *set* written as a *sequence*. The baselines sort
the true labels of every image by one global priority:

- ``frequent_first``: most frequent label of the training split first (Wang et al.'s order);
- ``rare_first``: least frequent first (Jin and Nakayama; SR-CNN-RNN);
- ``lexicographic``: alphabetical by label name.

Ties: labels with the same training frequency keep the vocabulary order (lower label index
first), in both frequency orders; equal names cannot occur. Every order is therefore a
deterministic function of the training label matrix and the vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ORDERS = ("frequent_first", "rare_first", "lexicographic")


def label_frequencies(label_matrix: np.ndarray) -> np.ndarray:
    """Images per label (length C) of a boolean (N, C) label matrix, e.g. the training split."""
    return np.asarray(label_matrix, dtype=bool).sum(axis=0).astype(np.int64)


def label_priority(order: str, frequencies: np.ndarray, label_names: Sequence[str]) -> np.ndarray:
    """All C label indices, first to last in ``order``; ties in frequency go to the lower index."""
    frequencies = np.asarray(frequencies)
    if len(frequencies) != len(label_names):
        raise ValueError(f"{len(frequencies)} frequencies for {len(label_names)} label names")
    index = np.arange(len(frequencies))
    if order == "frequent_first":
        return np.lexsort((index, -frequencies))  # last key is the primary one
    if order == "rare_first":
        return np.lexsort((index, frequencies))
    if order == "lexicographic":
        return np.array(sorted(index, key=lambda j: (label_names[j], j)), dtype=np.int64)
    raise ValueError(f"label order {order!r} unknown: use one of {ORDERS}")


def order_labels(label_matrix: np.ndarray, priority: np.ndarray) -> list[np.ndarray]:
    """Each image's true labels as a sequence following ``priority`` (one int64 array per image)."""
    matrix = np.asarray(label_matrix, dtype=bool)
    rank = np.empty(len(priority), dtype=np.int64)
    rank[np.asarray(priority)] = np.arange(len(priority))
    return [
        labels[np.argsort(rank[labels], kind="stable")]
        for labels in (np.flatnonzero(row) for row in matrix)
    ]


def label_sequences(
    order: str, train_labels: np.ndarray, label_matrix: np.ndarray, label_names: Sequence[str]
) -> list[np.ndarray]:
    """Sequences of ``label_matrix``'s images in ``order``, with
    frequencies from ``train_labels``."""
    return order_labels(
        label_matrix, label_priority(order, label_frequencies(train_labels), label_names)
    )
