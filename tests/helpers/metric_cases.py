"""Random cases and independent reference implementations for the metric convention tests."""

from __future__ import annotations

import numpy as np

SEEDS = [0, 1, 2, 3, 4]


SHAPES = [(30, 4), (200, 20), (500, 81)]


def harmonic(p: float, r: float) -> float:
    """F1 of a precision and a recall, 0 when both are 0."""
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def binary_case(shape: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random truth and correlated predictions, with every empty row/column
    the conventions treat specially."""
    rng = np.random.default_rng(seed)
    density = rng.uniform(0.05, 0.5)
    y_true = rng.random(shape) < density
    y_pred = np.where(rng.random(shape) < 0.7, y_true, rng.random(shape) < density)
    y_true[:, 0] = False  # a class with no positive
    y_pred[:, 1] = False  # a class never predicted
    y_true[:, 2] = y_pred[:, 2] = False  # a class with neither
    y_pred[0] = False  # an image with no prediction
    y_true[1] = False  # an image with no label
    y_true[2] = y_pred[2] = False  # an image with neither
    return y_true, y_pred


def score_case(
    shape: tuple[int, int], seed: int, decimals: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Random truth and informative scores; rounded scores give
    many ties; class 0 has no positive."""
    rng = np.random.default_rng(seed)
    y_true = rng.random(shape) < 0.25
    scores = rng.random(shape) + 0.6 * y_true
    if decimals is not None:
        scores = np.round(scores, decimals)
    y_true[:, 0] = False
    y_true[0] = False  # an image with no label: a negative for every class
    return y_true, scores


def voc_ap_reference(truth: np.ndarray, score: np.ndarray) -> float:
    """All-point interpolated AP from its textbook definition, one
    operating point per distinct threshold."""
    positives = truth.sum()
    precision, recall = [], []
    for t in sorted(
        set(score.tolist()), reverse=True
    ):  # threshold: predict every image scoring >= t
        predicted = score >= t
        hits = np.sum(predicted & truth)
        precision.append(hits / predicted.sum())
        recall.append(hits / positives)
    ap, previous_recall = 0.0, 0.0
    for r in recall:
        # best precision at recall >= r
        envelope = max(p for p, r2 in zip(precision, recall) if r2 >= r)
        ap += (r - previous_recall) * envelope
        previous_recall = r
    return ap


def ml_gcn_top_k_reference(scores: np.ndarray, k: int) -> np.ndarray:
    """ML-GCN's overall_topk, ties to the lower index: take the k best
    labels, keep those scoring >= 0.5."""
    out = np.zeros(scores.shape, dtype=bool)
    for i, row in enumerate(scores):
        best = sorted(range(len(row)), key=lambda j: (-row[j], j))[:k]
        for j in best:
            out[i, j] = row[j] >= 0.5
    return out
