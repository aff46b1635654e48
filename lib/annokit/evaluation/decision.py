"""Decision rules: from label scores to an annotation (a binary label matrix).

- ``threshold``: every label whose probability exceeds 0.5 (Multi-order RNN inference).
- ``top_k``: the k best labels of every image; k = 3 is the literature's "top-3" rule, used
  for M3's rows without label quantity prediction (Tables I–IV). ``min_score=0.5`` adds
  ML-GCN's condition (megvii-research/ML-GCN util.py ``overall_topk``): a top-k label is kept
  only if its score is ≥ 0.5 (ML-GCN tests logit ≥ 0: sigmoid ≥ 0.5 up to rounding).
- ``top_m_hat``: M3's Algorithm 2: the top m̂ labels, m̂ = the LQP prediction rounded to the
  nearest integer (half up) and clamped to [1, C].
- ``upper_bound``: the top m labels with m the true label count (Tables I/II "Upper bound").
Ties between equal scores go to the lower label index, so every rule is deterministic (as
the argmax loop of the Multi-order RNN's eval/multilabel_metrics.py ``annotate_topK``; ML-GCN's
``torch.topk`` leaves the order of ties unspecified).
"""

from __future__ import annotations

import numpy as np


def _scores(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a 2-D (images, labels) array, got shape {scores.shape}")
    return scores


def threshold(scores: np.ndarray, t: float = 0.5) -> np.ndarray:
    """Labels whose score is above t."""
    return _scores(scores) > t


def top_m(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The ``counts[i]`` highest-scoring labels of every image i."""
    scores = _scores(scores)
    counts = np.asarray(counts, dtype=np.int64)
    if counts.shape != (len(scores),):
        raise ValueError(
            f"need one count per image: {counts.shape} counts for {len(scores)} images"
        )
    if (counts < 0).any() or (counts > scores.shape[1]).any():
        raise ValueError(f"counts must lie in [0, {scores.shape[1]}]")
    order = np.argsort(-scores, axis=1, kind="stable")  # stable: ties go to the lower index
    ranks = np.empty_like(order)
    np.put_along_axis(
        ranks, order, np.arange(scores.shape[1])[None, :].repeat(len(scores), axis=0), axis=1
    )
    return ranks < counts[:, None]


def top_k(scores: np.ndarray, k: int = 3, min_score: float | None = None) -> np.ndarray:
    """The k highest-scoring labels of every image (k capped at the number of labels).

    ``min_score=None`` (default): always k labels per image, the literature's top-k.
    ``min_score=0.5``: ML-GCN's top-3 (util.py ``overall_topk``), which drops any of the k
    labels scoring below 0.5, so an image may get fewer than k labels, or none; no label
    beyond the k-th is taken in its place.
    """
    scores = _scores(scores)
    chosen = top_m(scores, np.full(len(scores), min(k, scores.shape[1])))
    if min_score is not None:
        chosen &= scores >= min_score
    return chosen


def round_half_up(values: np.ndarray) -> np.ndarray:
    """Nearest integer, halves rounded up (numpy's ``round`` sends 2.5 to 2)."""
    return np.floor(np.asarray(values, dtype=np.float64) + 0.5).astype(np.int64)


def predicted_quantity(raw_counts: np.ndarray, num_labels: int) -> np.ndarray:
    """m̂ of Algorithm 2: the regressor's output rounded and clamped to [1, C]."""
    return np.clip(round_half_up(raw_counts), 1, num_labels)


def top_m_hat(scores: np.ndarray, raw_counts: np.ndarray) -> np.ndarray:
    """M3's annotation: the top m̂ labels with m̂ from label quantity prediction."""
    scores = _scores(scores)
    return top_m(scores, predicted_quantity(raw_counts, scores.shape[1]))


def upper_bound(scores: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """The top m labels with m the true number of labels (M3 Tables I/II, "Upper bound")."""
    return top_m(scores, np.asarray(y_true).astype(bool).sum(axis=1))
