"""Figures shared by the notebooks (matplotlib/seaborn, labelled axes, saved as PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from PIL import Image


def save_figure(fig: matplotlib.figure.Figure, path: Path, dpi: int = 120) -> Path:
    """Save a figure as PNG, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def label_count_histogram(distributions: dict[str, pd.Series], title: str = "Labels per image") -> matplotlib.figure.Figure:
    """Bars of how many images carry 0, 1, 2, … labels, one group per split."""
    frame = pd.DataFrame(distributions).fillna(0)
    shares = 100 * frame / frame.sum()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    shares.plot.bar(ax=ax, rot=0)
    ax.set_xlabel("labels per image")
    ax.set_ylabel("images (%)")
    ax.set_title(title)
    return fig


def label_frequency_bars(frequencies: pd.Series, title: str = "Images per label (train split)") -> matplotlib.figure.Figure:
    """Horizontal bars of label frequencies, most frequent on top."""
    fig, ax = plt.subplots(figsize=(6, max(3, 0.22 * len(frequencies))))
    sns.barplot(x=frequencies.to_numpy(), y=list(frequencies.index), ax=ax, color="tab:blue")
    ax.set_xlabel("training images")
    ax.set_ylabel("label")
    ax.set_title(title)
    return fig


def cooccurrence_heatmap(conditional: pd.DataFrame, title: str = "P(column label | row label)") -> matplotlib.figure.Figure:
    """Heatmap of conditional label co-occurrence."""
    size = max(5, 0.28 * len(conditional))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    sns.heatmap(conditional, ax=ax, cmap="viridis", vmin=0, vmax=1, square=True, cbar_kws={"label": "conditional probability"})
    ax.set_xlabel("co-occurring label")
    ax.set_ylabel("given label")
    ax.set_title(title)
    return fig


def image_grid(images: Sequence[Image.Image], captions: Sequence[str], columns: int = 4) -> matplotlib.figure.Figure:
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


def count_confusion(ax: matplotlib.axes.Axes, true_counts: np.ndarray, predicted_counts: np.ndarray, title: str) -> None:
    """Confusion matrix of true vs predicted label counts (M3's label quantity prediction)."""
    labels = np.arange(0, max(int(true_counts.max()), int(predicted_counts.max())) + 1)
    confusion = pd.crosstab(pd.Categorical(true_counts, labels), pd.Categorical(predicted_counts, labels), dropna=False)
    sns.heatmap(confusion, annot=True, fmt="d", cmap="Blues", ax=ax, cbar=False)
    ax.set_xlabel("predicted label count m̂")
    ax.set_ylabel("true label count m")
    ax.set_title(title)


def per_class_f1_bars(label_names: Sequence[str], f1_by_model: dict[str, np.ndarray]) -> matplotlib.figure.Figure:
    """Grouped horizontal bars of per-class F1 (in %), one colour per model, labels sorted by the first model."""
    frame = pd.DataFrame({model: 100 * np.asarray(f1) for model, f1 in f1_by_model.items()}, index=list(label_names))
    frame = frame.sort_values(frame.columns[0])
    fig, ax = plt.subplots(figsize=(6.5, max(3, 0.3 * len(frame))))
    frame.plot.barh(ax=ax, width=0.8)
    ax.set_xlabel("per-class F1 (%)")
    ax.set_ylabel("label")
    ax.legend(loc="lower right")
    return fig


def annotation_grid(images: Sequence[Image.Image], truth: Sequence[Sequence[str]],
                    annotations: dict[str, Sequence[Sequence[str]]], columns: int = 3) -> matplotlib.figure.Figure:
    """Figs. 1/6 of M3: each image with its ground truth and each model's labels, correct ones marked ✓."""
    rows = int(np.ceil(len(images) / columns))
    lines = 1 + len(annotations)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, (2.6 + 0.32 * lines) * rows), squeeze=False)
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
