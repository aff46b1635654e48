"""Dataset statistics of a prepared index: the numbers behind each paper's dataset description."""

from __future__ import annotations

import numpy as np
import pandas as pd

from annokit.data.annotation_table import TEST, TRAIN
from annokit.data.index import PreparedIndex


def split_statistics(index: PreparedIndex) -> pd.DataFrame:
    """Per split: images, labels and tags per image, and the shares of images without any."""
    rows = {}
    for split in (TRAIN, TEST):
        labels, tags = index.label_matrix(split), index.tag_matrix(split)
        per_image, tags_per_image = labels.sum(axis=1), tags.sum(axis=1)
        rows[split] = {
            "images": len(labels),
            "labels per image (mean)": per_image.mean() if len(labels) else np.nan,
            "labels per image (max)": per_image.max(initial=0),
            "images without label (%)": 100 * (per_image == 0).mean() if len(labels) else np.nan,
            "tags per image (mean)": tags_per_image.mean() if len(tags) else np.nan,
            "images without tag (%)": 100 * (tags_per_image == 0).mean() if len(tags) else np.nan,
        }
    return pd.DataFrame(rows)


def label_frequencies(index: PreparedIndex, split: str = TRAIN) -> pd.Series:
    """Images per label in a split, most frequent first (also the frequent-first label order)."""
    counts = index.label_matrix(split).sum(axis=0)
    return pd.Series(counts, index=list(index.label_names), name="images").sort_values(
        ascending=False, kind="stable"
    )


def label_count_distribution(index: PreparedIndex, split: str) -> pd.Series:
    """Number of images with 0, 1, 2, … labels: the quantity LQP learns to predict."""
    counts = index.label_matrix(split).sum(axis=1)
    return pd.Series(np.bincount(counts, minlength=1), name="images").rename_axis(
        "labels per image"
    )


def label_cooccurrence(index: PreparedIndex, split: str = TRAIN) -> pd.DataFrame:
    """P(column label | row label) over a split: the label dependencies the RNN models exploit."""
    labels = index.label_matrix(split).astype(np.int64)
    joint = labels.T @ labels
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = joint / np.diag(joint)[:, None]
    return pd.DataFrame(
        np.nan_to_num(conditional), index=list(index.label_names), columns=list(index.label_names)
    )


def tag_label_agreement(index: PreparedIndex, split: str = TRAIN) -> float:
    """Share of (image, true label) pairs whose label name is also among the
    image's tags: how informative tags are."""
    labels, tags = index.label_matrix(split), index.tag_matrix(split)
    tag_column = {name: j for j, name in enumerate(index.tag_names)}
    shared = [
        (c, tag_column[name]) for c, name in enumerate(index.label_names) if name in tag_column
    ]
    if not shared or not labels.any():
        return float("nan")
    hits = sum(int((labels[:, c] & tags[:, t]).sum()) for c, t in shared)
    return hits / int(labels[:, [c for c, _ in shared]].sum())
