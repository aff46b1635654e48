"""Scoring prediction files against the prepared index: the numbers behind every table.

A file made on another index, or listing rows outside the test split, is refused
(``stamps.check_matches_index``) rather than scored against the wrong images.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from annokit.artifacts.predictions import Predictions
from annokit.artifacts.stamps import check_matches_index
from annokit.data.index import PreparedIndex
from annokit.evaluation import metrics


def true_labels(index: PreparedIndex, predictions: Predictions) -> np.ndarray:
    """The ground truth of the images a prediction file covers, in its row order (after
    checking it was made on ``index``)."""
    check_matches_index(predictions, index)
    return index.label_matrix()[predictions.rows]


def score(index: PreparedIndex, predictions: Predictions) -> dict[str, float]:
    """Annotation metrics (C-*, O-*, S-*, H-F1) of the model's
    annotation, mAP of its scores, in percent."""
    return score_against(true_labels(index, predictions), predictions)


def score_against(y_true: np.ndarray, predictions: Predictions) -> dict[str, float]:
    """``score`` with the ground truth given directly (rows aligned with the prediction file)."""
    row = {
        key: 100 * value
        for key, value in metrics.annotation_scores(y_true, predictions.annotation).items()
    }
    row["mAP"] = 100 * metrics.mean_average_precision(y_true, predictions.scores)
    if predictions.counts is not None:
        counts = y_true.sum(axis=1)
        row["LQP-accuracy"] = 100 * metrics.label_quantity_accuracy(
            counts, predictions.counts, y_true.shape[1]
        )
        row["LQP-MSE"] = metrics.label_quantity_mse(counts, predictions.counts)
    if (
        predictions.sequences is not None
        and predictions.sequences.ndim == 2
        and predictions.sequences.shape[1]
    ):
        row["top1"] = 100 * metrics.top1_accuracy(y_true, predictions.sequences[:, 0])
    return row


def score_table(index: PreparedIndex, predictions: Iterable[Predictions]) -> pd.DataFrame:
    """One row per model: its decision rule and every metric, in percent (LQP-MSE in labels²)."""
    rows = {p.model: {"rule": p.rule, **score(index, p)} for p in predictions}
    return pd.DataFrame.from_dict(rows, orient="index")
