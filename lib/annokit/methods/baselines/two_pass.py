"""2PKNN (Verma and Jawahar, ECCV 2012): the two-pass k-nearest-neighbour label transfer.

For a query image J:

1. image-to-label pass: for every label y_k, T_k holds the training images annotated with y_k; the
   K1 images of T_k nearest to J join J's neighbourhood T_J (the union over labels, each image
   once), so every label, rare or frequent, has K1 of its own images in it;
2. image-to-image pass: P(y_k | J) ∝ Σ_{I ∈ T_J} θ_{J,I} · [y_k ∈ Y_I], with
   θ_{J,I} = exp(−w · d(J, I)).

The kit divides by Σ_{I ∈ T_J} θ_{J,I}, so a score is the share of the neighbourhood's weight that
carries the label (in [0, 1], comparable across images for mAP; an image's label ranking is the
paper's). K1 and the scale w (the metric the paper learns in 2PKNN+ML, here one number) are chosen
on the validation split.
"""

from __future__ import annotations

import numpy as np

from annokit.methods.baselines.neighbours import chunks, smallest, squared_distances


def neighbourhood(distances: np.ndarray, base_labels: np.ndarray, k1: int) -> np.ndarray:
    """T_J of every query as a boolean (nq, nb) mask: for each label, its K1 nearest images that
    carry it."""
    labels = np.asarray(base_labels, dtype=bool)
    member = np.zeros(distances.shape, dtype=bool)
    rows = np.arange(len(distances))[:, None]
    for k in range(labels.shape[1]):
        group = np.flatnonzero(labels[:, k])
        if group.size == 0:
            continue
        picked, _ = smallest(distances[:, group], min(k1, group.size))
        member[rows, group[picked]] = True
    return member


def weighted_vote(
    distances: np.ndarray, member: np.ndarray, base_labels: np.ndarray, scale: float
) -> np.ndarray:
    """Second pass: Σ_{I ∈ T_J} θ_{J,I} [y_k ∈ Y_I] / Σ_{I ∈ T_J} θ_{J,I}, θ = exp(−w d), float32
    (nq, C)."""
    nearest = np.where(member, distances, np.inf).min(axis=1, keepdims=True)
    nearest = np.where(np.isfinite(nearest), nearest, 0.0)
    shifted = np.exp(-scale * (distances - nearest))  # shifted by the nearest: the same ratios
    theta = np.where(member, shifted, 0.0).astype(np.float32)
    weight = theta.sum(axis=1, keepdims=True)
    # float32: a paper-sized chunk stays under a gigabyte
    votes = theta @ np.asarray(base_labels, dtype=np.float32)
    return np.where(weight > 0, votes / np.where(weight > 0, weight, 1.0), 0.0).astype(np.float32)


def two_pass_scores(
    distances: np.ndarray, base_labels: np.ndarray, k1: int, scale: float
) -> np.ndarray:
    """P(y_k | J) of every query and label: the θ-weighted share of T_J that carries y_k (float32
    (nq, C))."""
    return weighted_vote(distances, neighbourhood(distances, base_labels, k1), base_labels, scale)


def two_pass_predict(
    query: np.ndarray, base: np.ndarray, base_labels: np.ndarray, k1: int, scale: float
) -> np.ndarray:
    """``two_pass_scores`` for unit-row features, a chunk of queries at a time."""
    out = np.empty((len(query), np.asarray(base_labels).shape[1]), dtype=np.float32)
    for part in chunks(len(query)):
        out[part] = two_pass_scores(squared_distances(query[part], base), base_labels, k1, scale)
    return out
