"""``baselines_reproduced``: one row per reproduced baseline, scored from its prediction files on
the test split.

Columns: the method's name, its decision rule, C-P … S-F1 and mAP (percent, mean over seeds), the
number of seeds, the spread (sample standard deviation over seeds; 0 for a method with one seed, as
the deterministic neighbour methods), what was chosen on the validation split, and the prediction
file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from annokit.artifacts.predictions import load_predictions, prediction_path
from annokit.data.index import PreparedIndex
from annokit.methods.baselines.registry import METHODS
from annokit.report.tables import reproduced_scores, seed_files

METRICS = ("C-P", "C-R", "C-F1", "O-P", "O-R", "O-F1", "S-P", "S-R", "S-F1", "mAP")


def choices_text(chosen: list[dict]) -> str:
    """What each seed chose on the validation split, in a line: ``epoch 12, 9, 14`` or
    ``K 50, theta 11.2``."""
    keys = [k for k, v in chosen[0].items() if not isinstance(v, dict)]
    return "; ".join(f"{k} " + ", ".join(f"{c.get(k, '')}" for c in chosen) for k in keys)


def summary_table(index: PreparedIndex, run_dir: Path) -> pd.DataFrame:
    """The ``baselines_reproduced`` table of a run (every method's files must exist: notebook 08
    writes them)."""
    rows = []
    for method in METHODS.values():
        files = seed_files(run_dir, method.file)
        if not files:
            path = prediction_path(run_dir, method.file)
            raise FileNotFoundError(f"no prediction file {path}: run notebook 08_baselines")
        mean, std, n = reproduced_scores(index, run_dir, method.file)
        predictions = [load_predictions(prediction_path(run_dir, f)) for f in files]
        chosen = [p.meta.get("chosen", {}) for p in predictions]
        rows.append(
            {
                "method": method.name,
                "rule": predictions[0].rule,
                **{m: mean[m] for m in METRICS},
                "seeds": n,
                **{f"{m} spread": (std[m] if n > 1 else 0.0) for m in METRICS},
                "chosen on validation": choices_text(chosen),
                "file": method.file,
            }
        )
    return pd.DataFrame(rows)


def plot_f1(summary: pd.DataFrame, metrics: tuple[str, ...] = ("C-F1", "O-F1", "S-F1")):
    """Grouped bars of the F1 scores of every baseline, the spread over seeds as error bars; returns
    the figure."""
    import matplotlib.pyplot as plt  # here, not at import: the training processes never draw

    fig, ax = plt.subplots(figsize=(10, 3.8))
    x, width = np.arange(len(summary)), 0.8 / len(metrics)
    for i, metric in enumerate(metrics):
        ax.bar(
            x + (i - (len(metrics) - 1) / 2) * width,
            summary[metric],
            width,
            yerr=summary[f"{metric} spread"],
            capsize=2,
            label=metric,
        )
    ax.set_xticks(x, summary["method"], rotation=20, ha="right")
    ax.set_ylabel("percent (test split)")
    ax.set_title("Reproduced baselines: F1 per class (C), overall (O) and per image (S)")
    ax.legend(ncol=len(metrics), fontsize=8)
    fig.tight_layout()
    return fig
