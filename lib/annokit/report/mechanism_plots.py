"""Figures of ``annokit.report.mechanisms``: each claim's mechanism, per model, with the
spread over seeds as error bars."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from annokit.report.size_recall import SIZE_BINS, SIZE_THRESHOLDS


def grouped_bars(
    ax: matplotlib.axes.Axes,
    table: pd.DataFrame,
    x: str,
    value: str,
    group: str = "model",
    ticks: Sequence[str] | None = None,
) -> None:
    """Bars of ``value`` at each ``x``, one per ``group``, with
    ``std`` (when given) as error bars."""
    positions = list(dict.fromkeys(table[x]))
    groups = list(dict.fromkeys(table[group]))
    width = 0.8 / max(1, len(groups))
    for k, name in enumerate(groups):
        part = table[table[group] == name].set_index(x).reindex(positions)
        errors = part["std"].fillna(0).to_numpy() if "std" in part else None
        ax.bar(
            np.arange(len(positions)) + (k - (len(groups) - 1) / 2) * width,
            part[value].to_numpy(),
            width,
            yerr=errors,
            capsize=3,
            label=str(name),
        )
    ax.set_xticks(
        np.arange(len(positions)), ticks if ticks is not None else [str(p) for p in positions]
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend()


def _fraction(value: float) -> str:
    return (
        f"1/{round(1 / value)}"
        if value < 1 and abs(1 / value - round(1 / value)) < 1e-9
        else f"{value:g}"
    )


def recall_by_size_bars(
    table: pd.DataFrame, thresholds: Sequence[float] = SIZE_THRESHOLDS
) -> matplotlib.figure.Figure:
    """Recall of each model by the size of the label's largest instance (M3: do the
    fine scales help small objects?)."""
    edges = [_fraction(t) for t in thresholds]
    ranges = (
        [f"< {edges[0]}"] + [f"{a} to {b}" for a, b in zip(edges, edges[1:])] + [f"≥ {edges[-1]}"]
    )
    positives = table.drop_duplicates("size").set_index("size")["positives"]
    names = list(dict.fromkeys(table["size"]))
    ticks = [
        f"{n}\n{ranges[SIZE_BINS.index(n)] if n in SIZE_BINS else ''}\n{int(positives[n])} labels"
        for n in names
    ]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    grouped_bars(ax, table, "size", "recall", ticks=ticks)
    ax.set_xlabel("largest instance of the label (share of the image area)")
    ax.set_ylabel("recall (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Recall by object size (mean ± std over seeds)")
    return fig


def quantity_accuracy_bars(table: pd.DataFrame) -> matplotlib.figure.Figure:
    """LQP accuracy by true label count per model: which counts the regressor gets right."""
    images = table.drop_duplicates("true count").set_index("true count")["images"]
    counts = list(dict.fromkeys(table["true count"]))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    grouped_bars(
        ax, table, "true count", "accuracy", ticks=[f"{c}\n{int(images[c])} images" for c in counts]
    )
    ax.set_xlabel("true label count m")
    ax.set_ylabel("images with m̂ = m (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Label quantity prediction: accuracy by true count")
    return fig


def f1_by_count_plot(table: pd.DataFrame) -> matplotlib.figure.Figure:
    """Per-image F1 of top-m̂ and of top-3 by true label count, one
    colour per model: where LQP pays off."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for k, (model, part) in enumerate(table.groupby("model", sort=False)):
        colour = f"C{k}"
        ax.plot(
            part["true count"], part["F1 top-m̂"], marker="o", color=colour, label=f"{model}: top-m̂"
        )
        ax.plot(
            part["true count"],
            part["F1 top-3"],
            marker="s",
            linestyle="--",
            color=colour,
            label=f"{model}: top-3",
        )
    ax.set_xlabel("true label count m")
    ax.set_ylabel("mean per-image F1 (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Top-m̂ against top-3 by true label count")
    return fig


def dependency_bars(table: pd.DataFrame) -> matplotlib.figure.Figure:
    """Share of predicted sets following each of the generator's label rules,
    per model (Multi-order RNN claim)."""
    rules = list(dict.fromkeys(table["rule"]))
    fig, ax = plt.subplots(figsize=(max(7, 0.7 * len(rules) + 2), 4.5))
    grouped_bars(ax, table, "rule", "followed")
    ax.set_xticklabels(rules, rotation=40, ha="right")
    ax.set_xlabel("label rule of the demo generator")
    ax.set_ylabel("predicted sets following it (%)")
    ax.set_ylim(0, 105)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title("Label dependencies in the predicted sets")
    return fig


def partial_gap_plot(gaps: pd.DataFrame, metric: str = "mAP") -> matplotlib.figure.Figure:
    """partial-BCE minus each plain BCE against the proportion of known labels, ± std over seeds."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for baseline, part in gaps.groupby("baseline", sort=False):
        part = part.sort_values("proportion")
        ax.errorbar(
            100 * part["proportion"],
            part["gap"],
            yerr=part["std"].fillna(0),
            marker="o",
            capsize=3,
            label=f"partial-BCE − {baseline}",
        )
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_xlabel("proportion of known training labels (%)")
    ax.set_ylabel(f"{metric} difference (points)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"Gap of partial-BCE to plain BCE ({metric})")
    return fig
