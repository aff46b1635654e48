"""Notebook 07's table and figure: Wang et al.'s CNN-RNN beside the CNN of notebook 01 and the
paper's own numbers, for the run's dataset.

NUS-WIDE and MS-COCO layouts (Tables 1-2 of the paper): C-P/C-R/C-F1 and O-P/O-R/O-F1 with the
top k = 3 labels of each model's scores, in percent, mean and standard deviation over the seeds,
and the CNN-RNN's own beam-search label sets beside them. VOC layout (Table 3): AP per class and
mAP, VOC 2007's 11-point AP. The paper's row is the first row (or column).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from annokit.artifacts.predictions import Predictions
from annokit.evaluation.decision import top_k
from annokit.evaluation.metrics import (
    annotation_scores,
    average_precision_per_class,
    mean_average_precision,
)
from annokit.report.reported import load_reported
from annokit.report.wang_reported import WANG_TABLE_OF

AT_K = ("C-P", "C-R", "C-F1", "O-P", "O-R", "O-F1")
VOC_AP = "voc11"  # VOC 2007's 11-point interpolated AP
# row labels of the table, in order
PAPER_ROW = "CNN-RNN (paper)"
CNN_ROW = "CNN, notebook 01 (top-{k})"
FROZEN_ROW = "CNN-RNN, CNN unchanged (top-{k})"
TOP_K_ROW = "CNN-RNN (top-{k})"
BEAM_ROW = "CNN-RNN, beam search's label set"


def scores_of(y_true: np.ndarray, predictions: Predictions, k: int | None) -> dict[str, float]:
    """C-*/O-* in percent of the top ``k`` labels of the scores (None: the file's own annotation),
    and mAP."""
    chosen = predictions.annotation if k is None else top_k(predictions.scores, k)
    row = annotation_scores(np.asarray(y_true, dtype=bool), chosen)
    out = {key: 100 * row[key] for key in AT_K}
    out["mAP"] = 100 * mean_average_precision(y_true, predictions.scores)
    return out


def over_seeds(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean of every metric over the seeds, the standard deviation of C-F1 and O-F1, and the
    number of seeds."""
    frame = pd.DataFrame(list(rows))
    out = frame.mean().to_dict()
    for key in ("C-F1", "O-F1"):
        out[f"{key} std"] = float(frame[key].std(ddof=1)) if len(frame) > 1 else np.nan
    out["seeds"] = len(frame)
    return out


def at_k_table(
    models: dict[str, Sequence[Predictions]], y_true: np.ndarray, dataset: str, k: int = 3
) -> pd.DataFrame:
    """Tables 1-2 of the paper with ours beside: ``models`` holds the seeds' files of ``"cnn"``,
    ``"frozen"`` (phase 1) and ``"cnn_rnn"`` (the final model)."""
    readings = [
        (CNN_ROW.format(k=k), "cnn", k),
        (FROZEN_ROW.format(k=k), "frozen", k),
        (TOP_K_ROW.format(k=k), "cnn_rnn", k),
        (BEAM_ROW, "cnn_rnn", None),
    ]
    rows = {}
    if dataset in ("nuswide", "coco2014"):
        printed = load_reported(WANG_TABLE_OF[dataset]).set_index("method").loc["CNN-RNN"]
        rows[PAPER_ROW] = {key: float(printed[key]) for key in AT_K}
    for label, model, kk in readings:
        if models.get(model):
            rows[label] = over_seeds([scores_of(y_true, p, kk) for p in models[model]])
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "method"
    return frame


def voc_table(
    models: dict[str, Sequence[Predictions]], y_true: np.ndarray, label_names: Sequence[str]
) -> pd.DataFrame:
    """Table 3 of the paper with ours beside: AP per class in percent (rows), the paper's CNN-RNN
    where the class has its VOC name, then each model's mean over its seeds; last row mAP."""
    printed = load_reported(WANG_TABLE_OF["voc2007"]).iloc[0]
    index = [*label_names, "mAP"]
    columns = {PAPER_ROW: [float(printed[n]) if n in printed else np.nan for n in index]}
    for label, model in (("CNN, notebook 01", "cnn"), ("CNN-RNN", "cnn_rnn")):
        if not models.get(model):
            continue
        per_seed = np.array(
            [
                100 * average_precision_per_class(y_true, p.scores, interpolation=VOC_AP)
                for p in models[model]
            ]
        )
        ap = per_seed.mean(axis=0)
        columns[label] = [*ap, float(np.nanmean(ap))]
    frame = pd.DataFrame(columns, index=pd.Index(index, name="class"))
    return frame


def comparison_figure(
    table: pd.DataFrame, curves: dict[str, dict[str, list[float]]]
) -> matplotlib.figure.Figure:
    """Left: the validation score of every epoch, per seed and phase (what each phase's epoch is
    chosen by). Right: C-F1 and O-F1 of the table's rows (NUS-WIDE/COCO layout) or mAP per model
    (VOC layout), with the spread over seeds."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for seed, phases in curves.items():
        start = 0
        for phase, scores in phases.items():
            epochs = np.arange(start + 1, start + len(scores) + 1)
            left.plot(epochs, 100 * np.asarray(scores), marker="o", label=f"seed {seed}, {phase}")
            start += len(scores)
    left.set_xlabel("epoch (phase 1, then phase 2)")
    left.set_ylabel("validation (C-F1 + O-F1) / 2, %")
    left.set_title("Epochs chosen on the validation split")
    left.legend(fontsize=7)
    if "C-F1" in table.columns:
        shown = table[["C-F1", "O-F1"]]
        errors = table.reindex(columns=["C-F1 std", "O-F1 std"]).fillna(0.0).to_numpy().T
        shown.plot.barh(ax=right, xerr=errors, capsize=2)
        right.set_xlabel("%")
    else:
        table.loc[["mAP"]].T.plot.barh(ax=right, legend=False)
        right.set_xlabel("mAP, %")
    right.set_ylabel("")
    right.set_title("CNN-RNN beside the CNN and the paper")
    fig.tight_layout()
    return fig
