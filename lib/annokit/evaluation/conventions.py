"""How far today's metric conventions move the numbers: one small table per model, in percent.

The same metric names are computed differently by the repositories people compare with
(facts from their code; see docs/deviations.md, "Conventions of today's repositories"):

* C-F1 / S-F1: the papers' F1 of the averaged P and R (M3 Eq. 6, Dutta Sec. 4.2; the
  Multi-order RNN's eval/multilabel_metrics.py, ML-GCN's util.py) or the mean of each
  class's (image's) F1 (Alibaba-MIIL/ASL validate.py's F_C, scikit-learn, torchmetrics).
* mAP: non-interpolated AP (scikit-learn, ML-GCN, ASL, Multi-order RNN) or VOC all-point
  interpolated AP (SlongLiu/query2labels lib/utils/metric.py).
* top-3: always three labels (the papers; Multi-order RNN's ``annotate_topK``) or three
  labels of which those scoring below 0.5 are dropped (megvii-research/ML-GCN util.py).

The first option of each is the kit's default, because it is what the papers define.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from annokit.evaluation.decision import top_k
from annokit.evaluation.metrics import annotation_scores, mean_average_precision

EFFECT_COLUMNS = ("C-F1", "S-F1", "mAP", "used by")
DEFAULT_ROW = "papers: F1 of means, non-interpolated AP (default)"
MEAN_F1_ROW = "F1: mean of per-class (per-image) F1"
VOC_ROW = "AP: VOC all-point interpolated"

USED_BY = {
    DEFAULT_ROW: "F1: M3 Eq. 6, Dutta Sec. 4.2, ayushidutta/multi-order-rnn "
    "eval/multilabel_metrics.py, megvii-research/ML-GCN util.py; AP: scikit-learn "
    "average_precision_score, ML-GCN util.py, Alibaba-MIIL/ASL "
    "src/helper_functions/helper_functions.py, multi-order-rnn",
    MEAN_F1_ROW: "Alibaba-MIIL/ASL validate.py (F_C); scikit-learn "
    "f1_score(average='macro'/'samples'); torchmetrics multilabel F1 (macro)",
    VOC_ROW: "SlongLiu/query2labels lib/utils/metric.py (voc_mAP)",
    "top-k": "the papers' top-3 rows; ayushidutta/multi-order-rnn eval/multilabel_metrics.py "
    "(annotate_topK)",
    "top-k, score ≥ 0.5": "megvii-research/ML-GCN util.py (overall_topk: logit ≥ 0)",
}


def _f1_row(y_true: np.ndarray, annotation: np.ndarray, f1: str) -> dict[str, float]:
    """C-F1 and S-F1 of an annotation under one F1 convention, in percent."""
    scores = annotation_scores(y_true, annotation, f1=f1)
    return {"C-F1": 100 * scores["C-F1"], "S-F1": 100 * scores["S-F1"]}


def _map(y_true: np.ndarray, scores: np.ndarray, interpolation: str) -> float:
    """mAP under one interpolation convention, in percent."""
    return 100 * mean_average_precision(y_true, scores, interpolation=interpolation)


def convention_effects(
    y_true: np.ndarray, scores: np.ndarray | None, annotation: np.ndarray, k: int = 3
) -> pd.DataFrame:
    """C-F1, S-F1 and mAP of one model under each repository's convention, in percent.

    Rows, each changing one convention from the default (first row):

    * the default: C-F1/S-F1 of ``annotation`` as the harmonic mean of the averaged P and R,
      mAP = mean non-interpolated AP of ``scores``;
    * mean of per-class (per-image) F1 for C-F1 (S-F1) of the same ``annotation``;
    * VOC all-point interpolated mAP of the same ``scores``;
    * with ``scores``: C-F1/S-F1 (default F1) of the top-k annotation of ``scores``, without
      and with ML-GCN's "score ≥ 0.5" condition; compare these two rows with each other.

    A metric the row's convention does not touch is NaN (read it from the first row); without
    ``scores`` the mAP and top-k entries are left out. Column "used by" names the repository
    (and path) that computes the row's number that way. Zero division follows
    ``annotation_scores`` (empty classes and images count as 0) and ``mean_average_precision``
    (classes without a positive are left out; a ValueError when no class has one).
    """
    rows = {
        DEFAULT_ROW: _f1_row(y_true, annotation, "of-means"),
        MEAN_F1_ROW: _f1_row(y_true, annotation, "mean-of-per-class"),
    }
    if scores is not None:
        rows[DEFAULT_ROW]["mAP"] = _map(y_true, scores, "none")
        rows[VOC_ROW] = {"mAP": _map(y_true, scores, "voc")}
        rows[f"top-{k}"] = _f1_row(y_true, top_k(scores, k), "of-means")
        rows[f"top-{k}, score ≥ 0.5"] = _f1_row(y_true, top_k(scores, k, min_score=0.5), "of-means")
    for name, row in rows.items():
        row["used by"] = USED_BY[name.replace(f"top-{k}", "top-k")]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(EFFECT_COLUMNS))
    table.index.name = "convention"
    return table


def effects_by_model(
    truth_and_predictions: dict[str, tuple[np.ndarray, object]], k: int = 3
) -> pd.DataFrame:
    """``convention_effects`` of several models stacked in one table, rows (model, convention).

    ``truth_and_predictions`` maps a row label (e.g. "M3 (top-m̂)") to (y_true, prediction file)
    with the truth aligned to the file's rows (``annokit.evaluation.scoring.true_labels``).
    """
    frames = {
        name: convention_effects(y_true, p.scores, p.annotation, k)
        for name, (y_true, p) in truth_and_predictions.items()
    }
    frame = pd.concat(frames, names=["model", "convention"])
    return frame
