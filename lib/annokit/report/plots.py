"""Figures shared by the notebooks (matplotlib/seaborn, labelled axes, saved as PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from PIL import Image

from annokit.artifacts.predictions import Predictions
from annokit.models.losses import (
    PARTIAL_BCE_GAMMA,
    partial_bce_coefficients,
    partial_bce_normalisation,
)
from annokit.training.fit import History

# seaborn (and scipy.stats with it) is imported by the three functions that draw with it: its
# import costs every notebook's kernel about a second


def save_figure(fig: matplotlib.figure.Figure, path: Path, dpi: int = 120) -> Path:
    """Save a figure as PNG, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def label_count_histogram(
    distributions: dict[str, pd.Series], title: str = "Labels per image"
) -> matplotlib.figure.Figure:
    """Bars of how many images carry 0, 1, 2, … labels, one group per split."""
    frame = pd.DataFrame(distributions).fillna(0)
    shares = 100 * frame / frame.sum()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    shares.plot.bar(ax=ax, rot=0)
    ax.set_xlabel("labels per image")
    ax.set_ylabel("images (%)")
    ax.set_title(title)
    return fig


def label_frequency_bars(
    frequencies: pd.Series, title: str = "Images per label (train split)"
) -> matplotlib.figure.Figure:
    """Horizontal bars of label frequencies, most frequent on top."""
    fig, ax = plt.subplots(figsize=(6, max(3, 0.22 * len(frequencies))))
    import seaborn as sns

    sns.barplot(x=frequencies.to_numpy(), y=list(frequencies.index), ax=ax, color="tab:blue")
    ax.set_xlabel("training images")
    ax.set_ylabel("label")
    ax.set_title(title)
    return fig


def cooccurrence_heatmap(
    conditional: pd.DataFrame, title: str = "P(column label | row label)"
) -> matplotlib.figure.Figure:
    """Heatmap of conditional label co-occurrence."""
    size = max(5, 0.28 * len(conditional))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    import seaborn as sns

    sns.heatmap(
        conditional,
        ax=ax,
        cmap="viridis",
        vmin=0,
        vmax=1,
        square=True,
        cbar_kws={"label": "conditional probability"},
    )
    ax.set_xlabel("co-occurring label")
    ax.set_ylabel("given label")
    ax.set_title(title)
    return fig


def image_grid(
    images: Sequence[Image.Image], captions: Sequence[str], columns: int = 4
) -> matplotlib.figure.Figure:
    """Images with a caption under each (e.g. labels and tags)."""
    rows = int(np.ceil(len(images) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions):
        ax.imshow(image)
        ax.set_title(caption, fontsize=7, wrap=True)
    fig.tight_layout()
    return fig


def count_confusion(
    ax: matplotlib.axes.Axes, true_counts: np.ndarray, predicted_counts: np.ndarray, title: str
) -> None:
    """Confusion matrix of true vs predicted label counts (M3's label quantity prediction)."""
    labels = np.arange(0, max(int(true_counts.max()), int(predicted_counts.max())) + 1)
    confusion = pd.crosstab(
        pd.Categorical(true_counts, labels), pd.Categorical(predicted_counts, labels), dropna=False
    )
    import seaborn as sns

    sns.heatmap(confusion, annot=True, fmt="d", cmap="Blues", ax=ax, cbar=False)
    ax.set_xlabel("predicted label count m̂")
    ax.set_ylabel("true label count m")
    ax.set_title(title)


def per_class_f1_bars(
    label_names: Sequence[str], f1_by_model: dict[str, np.ndarray]
) -> matplotlib.figure.Figure:
    """Grouped horizontal bars of per-class F1 (in %), one colour per model,
    labels sorted by the first model."""
    frame = pd.DataFrame(
        {model: 100 * np.asarray(f1) for model, f1 in f1_by_model.items()}, index=list(label_names)
    )
    frame = frame.sort_values(frame.columns[0])
    fig, ax = plt.subplots(figsize=(6.5, max(3, 0.3 * len(frame))))
    frame.plot.barh(ax=ax, width=0.8)
    ax.set_xlabel("per-class F1 (%)")
    ax.set_ylabel("label")
    ax.legend(loc="lower right")
    return fig


def annotation_grid(
    images: Sequence[Image.Image],
    truth: Sequence[Sequence[str]],
    annotations: dict[str, Sequence[Sequence[str]]],
    columns: int = 3,
) -> matplotlib.figure.Figure:
    """Figs. 1/6 of M3: each image with its ground truth and each
    model's labels, correct ones marked ✓."""
    rows = int(np.ceil(len(images) / columns))
    lines = 1 + len(annotations)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.6 * columns, (2.6 + 0.32 * lines) * rows), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, image) in enumerate(zip(axes.flat, images)):
        ax.imshow(image)
        true_set = set(truth[i])
        text = [f"truth: {', '.join(truth[i]) or '(none)'}"]
        for model, labels in annotations.items():
            marked = [f"{label} ✓" if label in true_set else label for label in labels[i]]
            text.append(f"{model}: {', '.join(marked) or '(none)'}")
        ax.set_title("\n".join(text), fontsize=7, loc="left")
    fig.tight_layout()
    return fig


def plot_history(history: History | dict, ax=None):
    """Training curve: train loss per epoch, eval losses on the same
    axis, other metrics on a twin axis."""
    h = history if isinstance(history, History) else History.from_dict(history)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    ax.plot(h.epoch, h.train_loss, marker="o", label="train loss")
    keys = sorted({k for m in h.metrics for k in m})
    other = None
    for key in keys:
        xs = [e for e, m in zip(h.epoch, h.metrics) if key in m]
        ys = [m[key] for m in h.metrics if key in m]
        if "loss" in key:
            ax.plot(xs, ys, marker="o", label=key)
        else:
            other = other or ax.twinx()
            other.plot(
                xs,
                ys,
                marker="s",
                linestyle="--",
                label=key,
                color=f"C{len(other.lines) + len(ax.lines) + 1}",
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    if other is not None:
        other.set_ylabel("metric")
        more = other.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(handles, labels, loc="best")
    return fig


def plot_step_scores(
    predictions: Predictions,
    y_true: np.ndarray,
    label_names: Sequence[str],
    images: Sequence[int],
    top: int = 5,
    threshold: float = 0.5,
) -> matplotlib.figure.Figure:
    """Fig. 3: the ``top`` labels with their probabilities at every
    step, one row of panels per test image.

    Bars of true labels are green, others grey; the label fed to the next step is outlined; the
    dashed line is the decision threshold.
    """
    steps = np.asarray(predictions.step_scores)
    truth = np.asarray(y_true, dtype=bool)
    t_count = steps.shape[1]
    fig = plt.figure(figsize=(2.7 * t_count, 2.3 * len(images)), layout="constrained")
    for sub, i in zip(np.atleast_1d(fig.subfigures(len(images), 1)), images):
        true_names = ", ".join(label_names[j] for j in np.flatnonzero(truth[i])) or "none"
        pooled = (
            ", ".join(label_names[j] for j in np.flatnonzero(predictions.annotation[i])) or "none"
        )
        sub.suptitle(
            f"test image {i}    truth: {true_names}    assigned (max-pooled > 0.5): {pooled}",
            fontsize=9,
            x=0.01,
            ha="left",
        )
        for t, ax in enumerate(np.atleast_1d(sub.subplots(1, t_count))):
            best = np.argsort(-steps[i, t], kind="stable")[:top][::-1]
            bars = ax.barh(
                range(len(best)),
                steps[i, t, best],
                color=["tab:green" if truth[i, j] else "0.65" for j in best],
            )
            if predictions.sequences is not None and predictions.sequences[i, t] in best:
                picked = bars[list(best).index(predictions.sequences[i, t])]
                picked.set_edgecolor("black")
                picked.set_linewidth(1.5)
            ax.set_yticks(range(len(best)), [label_names[j] for j in best], fontsize=8)
            ax.axvline(threshold, color="k", linestyle="--", linewidth=0.8)
            ax.set_xlim(0, 1)
            ax.set_title(f"t = {t + 1}", fontsize=9)
            ax.set_xlabel("probability", fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
    return fig


def plot_scale_maps(
    image: Image.Image, maps: Sequence, fused: Sequence
) -> matplotlib.figure.Figure:
    """One image, its ResNet maps M1..M5 (top) and the fused maps M~1..M~5
    (bottom), each as its channel mean."""
    fig, axes = plt.subplots(
        2, len(maps) + 1, figsize=(2.2 * (len(maps) + 1), 4.6), layout="constrained"
    )
    for row, (name, tensors) in enumerate((("M", maps), ("M~", fused))):
        axes[row, 0].imshow(image)
        axes[row, 0].set_title("input", fontsize=9)
        for level, tensor in enumerate(tensors, start=1):
            ax = axes[row, level]
            ax.imshow(tensor.float().mean(dim=0).numpy(), cmap="viridis")
            ax.set_title(
                f"{name}{level}: {tensor.shape[1]}x{tensor.shape[2]}, {tensor.shape[0]} ch",
                fontsize=8,
            )
    for ax in axes.flat:
        ax.set_xlabel("x (map cells)", fontsize=7)
        ax.set_ylabel("y", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_against_proportion(
    table: pd.DataFrame, metric: str = "mAP", ax=None, title: str | None = None
) -> matplotlib.figure.Figure:
    """The paper's headline figure: a test metric against the proportion of known labels, one curve
    per loss (the mean over seeds, with ± one standard deviation as error bars)."""
    fig, ax = plt.subplots(figsize=(6, 4)) if ax is None else (ax.figure, ax)
    for _, group in table.groupby("loss", sort=False):
        # over seeds, when there are several
        points = group.groupby("proportion")[metric].agg(["mean", "std"]).sort_index()
        ax.errorbar(
            100 * points.index,
            100 * points["mean"],
            yerr=100 * points["std"].fillna(0.0),
            marker="o",
            capsize=3,
            label=group["title"].iloc[0],
        )
    ax.set_xlabel("proportion of known training labels (%)")
    ax.set_ylabel(f"test {metric} (%)" if metric == "mAP" else f"test {metric}, threshold 0.5 (%)")
    ax.set_xticks(sorted(100 * table["proportion"].unique()))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title or f"{metric} against the proportion of known labels")
    return fig


def plot_normalisation(gammas: tuple[float, ...] = (0.5, 1.0, 2.0)) -> matplotlib.figure.Figure:
    """g(p) = α p^γ + β for a few γ (each with g(1) = 1, g(0.1) = 5): the
    weight partial-BCE gives an image."""
    p = torch.linspace(0.05, 1.0, 96)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for gamma in gammas:
        alpha, beta = partial_bce_coefficients(gamma)
        label = f"γ = {gamma:g}: α = {alpha:.2f}, β = {beta:.2f}" + (
            " (paper)" if gamma == PARTIAL_BCE_GAMMA else ""
        )
        ax.plot(100 * p, partial_bce_normalisation(p, gamma), label=label)
    ax.plot(100 * p, 1 / p, color="gray", linestyle=":", label="1 / p (mean over known labels)")
    ax.set_ylim(0, 12)
    ax.set_xlabel("proportion of known labels p (%)")
    ax.set_ylabel("g(p)")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
