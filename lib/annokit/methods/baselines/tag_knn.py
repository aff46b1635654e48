"""A TagNeighbors-style multi-modal kNN: neighbours found by the noisy tags and by the image, labels
voted.

Johnson, Ballan and Fei-Fei (ICCV 2015, M3's "TagNeighbour [23]") find an image's neighbours by the
Jaccard similarity of its metadata (tags) and learn a network over the image's and its neighbours'
CNN features. The kit keeps their neighbourhood and replaces the learned network by a
similarity-weighted vote, as the other kNN rows:

    s_ij = λ · Jaccard(t_i, t_j) + (1 − λ) · cos(f_i, f_j)       λ ∈ [0, 1]: the share of the tags
    score_ik = Σ_{j ∈ N_K(i)} s_ij y_jk / Σ_{j ∈ N_K(i)} s_ij

with N_K(i) the K training images of highest s_ij.

λ = 1 votes over the tag neighbours alone, λ = 0 is a plain visual kNN; λ and K are chosen on the
validation split.
"""

from __future__ import annotations

import numpy as np

from annokit.methods.baselines.neighbours import chunks, jaccard, smallest


def similarity(
    visual_query: np.ndarray,
    visual_base: np.ndarray,
    tags_query: np.ndarray,
    tags_base: np.ndarray,
    tag_weight: float,
) -> np.ndarray:
    """s_ij = λ · Jaccard + (1 − λ) · cosine (unit-row features), float32 (nq, nb)."""
    if not 0.0 <= tag_weight <= 1.0:
        raise ValueError(f"the tag weight λ must lie in [0, 1], got {tag_weight}")
    visual = visual_query @ visual_base.T
    tags = jaccard(tags_query, tags_base)
    return (tag_weight * tags + (1.0 - tag_weight) * visual).astype(np.float32)


def vote(similarities: np.ndarray, base_labels: np.ndarray, k: int) -> np.ndarray:
    """Σ_{K most similar} s y / Σ s for every query (negative similarities count 0); 0 where all are
    0."""
    picked, values = smallest(-similarities, k)
    weights = np.maximum(-values, 0.0)
    labels = np.asarray(base_labels, dtype=np.float32)[picked]  # (nq, K, C)
    total = weights.sum(axis=1, keepdims=True)
    votes = np.einsum("nk,nkc->nc", weights, labels)
    return np.where(total > 0, votes / np.where(total > 0, total, 1.0), 0.0).astype(np.float32)


def tag_knn_predict(
    visual_query: np.ndarray,
    visual_base: np.ndarray,
    tags_query: np.ndarray,
    tags_base: np.ndarray,
    base_labels: np.ndarray,
    tag_weight: float,
    k: int,
) -> np.ndarray:
    """``vote`` over ``similarity``, a chunk of queries at a time (float32 (nq, C))."""
    out = np.empty((len(visual_query), np.asarray(base_labels).shape[1]), dtype=np.float32)
    for part in chunks(len(visual_query)):
        s = similarity(visual_query[part], visual_base, tags_query[part], tags_base, tag_weight)
        out[part] = vote(s, base_labels, k)
    return out
