"""The curriculum's labelling strategies (Durand et al. 2019, Sec. 3.3): which unknown training
entries the model labels between two rounds, and as what.

Every strategy reads the model's scores on the training images and returns new targets in which
only unknown entries (0) may become positive (1) or negative (−1); known ones never change.

- ``score_threshold``: σ(x) ≥ θ positive, σ(x) ≤ 1 − θ negative (the paper thresholds x at ±θ_x).
- ``score_proportion``: the share θ of the unknown entries with the most confident scores.
- ``positive_only``: σ(x) ≥ θ positive; no negative is ever added.
- ``ensemble``: the score threshold on the mean probability of several models.
- ``bayesian``: the share θ of the unknown entries whose Monte-Carlo dropout probability varies
  least (Kendall and Gal's uncertainty), labelled by the sign of the mean.
- ``none``: nothing is added; the round only trains on (the control of the comparison).

``choose_theta`` picks θ on the validation split; ``strategy_scores`` computes what a strategy
reads (one model, several, or dropout samples).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from annokit.methods.partial_labels import NEGATIVE, POSITIVE, UNKNOWN, predict_probabilities

# kinds whose θ is a threshold on σ(x) in (0.5, 1]; the others take a share of the unknown entries
THRESHOLD_KINDS = ("score_threshold", "positive_only", "ensemble")
SHARE_KINDS = ("score_proportion", "bayesian")
STRATEGY_KINDS = (
    "none",
    "score_threshold",
    "score_proportion",
    "positive_only",
    "ensemble",
    "bayesian",
)
TITLES = {
    "none": "no curriculum (same rounds, no label added)",
    "score_threshold": "score threshold",
    "score_proportion": "score proportion",
    "positive_only": "positive labels only",
    "ensemble": "model ensemble",
    "bayesian": "Bayesian uncertainty (MC dropout)",
}


@dataclass(frozen=True)
class Strategy:
    """A labelling strategy: its ``kind`` (``STRATEGY_KINDS``) and ``theta``, a threshold on σ(x)
    or a share of the unknown entries (see the module docstring)."""

    kind: str
    theta: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in STRATEGY_KINDS:
            raise ValueError(f"strategy {self.kind!r}: use one of {', '.join(STRATEGY_KINDS)}")

    @property
    def title(self) -> str:
        """The strategy's name as the tables print it."""
        return TITLES[self.kind]


@dataclass(frozen=True)
class LabellingScores:
    """What a strategy reads: the mean probability σ(x) (N, C) and, for ``bayesian``, the
    variance of the dropout samples."""

    probabilities: np.ndarray
    variance: np.ndarray | None = None


def score_threshold_labels(
    probabilities: np.ndarray, targets: np.ndarray, theta: float
) -> np.ndarray:
    """New targets: unknown entries with σ(x) ≥ θ become positive, σ(x) ≤ 1 − θ negative; known
    ones never change.

    The paper thresholds the score x at ±θ_x; a threshold on σ(x) is the same rule with
    θ = σ(θ_x).
    """
    _check_threshold(theta)
    targets = np.asarray(targets, dtype=np.int8)
    probabilities = np.asarray(probabilities)
    unknown = targets == UNKNOWN
    new = targets.copy()
    new[unknown & (probabilities >= theta)] = POSITIVE
    # σ ≤ 1 − θ, written so that 0.1 counts at θ = 0.9
    new[unknown & (1.0 - probabilities >= theta)] = NEGATIVE
    return new


def positive_only_labels(
    probabilities: np.ndarray, targets: np.ndarray, theta: float
) -> np.ndarray:
    """New targets: unknown entries with σ(x) ≥ θ become positive; nothing becomes negative."""
    _check_threshold(theta)
    targets = np.asarray(targets, dtype=np.int8)
    new = targets.copy()
    new[(targets == UNKNOWN) & (np.asarray(probabilities) >= theta)] = POSITIVE
    return new


def most_confident_labels(
    confidence: np.ndarray, positive: np.ndarray, targets: np.ndarray, share: float
) -> np.ndarray:
    """New targets: the share ``share`` of the unknown entries (rounded to the nearest count) with
    the highest ``confidence`` become positive where ``positive``, else negative. Ties go to the
    first entries in row-major order."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"a share of the unknown labels lies in [0, 1], got {share}")
    targets = np.asarray(targets, dtype=np.int8)
    unknown = np.flatnonzero(targets.ravel() == UNKNOWN)
    count = int(round(share * len(unknown)))
    order = np.argsort(-np.asarray(confidence).ravel()[unknown], kind="stable")
    chosen = unknown[order[:count]]
    new = targets.copy().ravel()
    new[chosen] = np.where(np.asarray(positive).ravel()[chosen], POSITIVE, NEGATIVE)
    return new.reshape(targets.shape)


def apply_strategy(
    strategy: Strategy, scores: LabellingScores | None, targets: np.ndarray
) -> np.ndarray:
    """The targets after one labelling step of ``strategy`` (a copy; known entries unchanged)."""
    targets = np.asarray(targets, dtype=np.int8)
    if strategy.kind == "none":
        return targets.copy()
    p, theta = scores.probabilities, strategy.theta
    if strategy.kind in ("score_threshold", "ensemble"):
        return score_threshold_labels(p, targets, theta)
    if strategy.kind == "positive_only":
        return positive_only_labels(p, targets, theta)
    if strategy.kind == "score_proportion":
        return most_confident_labels(np.abs(p - 0.5), p >= 0.5, targets, theta)
    if scores.variance is None:
        raise ValueError("the bayesian strategy needs the variance of Monte-Carlo dropout samples")
    return most_confident_labels(-scores.variance, p >= 0.5, targets, theta)


def _check_threshold(theta: float) -> None:
    if not 0.5 < theta <= 1.0:
        raise ValueError(
            f"theta must lie in (0.5, 1] so that positive and negative never overlap, got {theta}"
        )


# Scores of the models.


@torch.no_grad()
def dropout_samples(
    model: nn.Module,
    features: np.ndarray | Dataset,
    samples: int,
    seed: int,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """σ(model(features)) under ``samples`` dropout masks (Monte-Carlo dropout), (T, N, C).

    Everything but the dropout layers is in eval mode; the masks are drawn from ``seed``.
    """
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout) and m.p > 0]
    if not dropouts:
        raise ValueError(
            "the bayesian strategy needs dropout before the classifier: set [partial] dropout > 0"
        )
    model.eval().to(device)
    for layer in dropouts:
        layer.train()
    is_array = isinstance(features, np.ndarray)
    x = torch.as_tensor(features, dtype=torch.float32) if is_array else features
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            out = []
            for _ in range(samples):
                batches = DataLoader(x, batch_size=1024)
                out.append(torch.cat([torch.sigmoid(model(b.to(device))).cpu() for b in batches]))
    finally:
        model.eval()
    return torch.stack(out).numpy().astype(np.float32)


def strategy_scores(
    strategy: Strategy,
    model: nn.Module,
    features: np.ndarray | Dataset,
    *,
    ensemble: Sequence[nn.Module] = (),
    samples: int = 10,
    device: str | torch.device = "cpu",
) -> LabellingScores | None:
    """What ``strategy`` reads on ``features``: the model's probabilities, the mean over the model
    and the ``ensemble``, or the mean and variance of ``samples`` dropout passes (None: nothing)."""
    if strategy.kind == "none":
        return None
    if strategy.kind == "ensemble":
        members = [model, *ensemble]
        stacked = np.stack([predict_probabilities(m, features, device) for m in members])
        return LabellingScores(stacked.mean(axis=0))
    if strategy.kind == "bayesian":
        drawn = dropout_samples(model, features, samples, seed=0, device=device)
        return LabellingScores(drawn.mean(axis=0), drawn.var(axis=0))
    return LabellingScores(predict_probabilities(model, features, device))


# θ on the validation split.


def choose_theta(
    kind: str,
    scores: LabellingScores,
    targets: np.ndarray,
    labels: np.ndarray,
    candidates: Sequence[float],
    min_accuracy: float,
) -> tuple[float, pd.DataFrame]:
    """θ for ``kind`` from validation images: the candidate that labels the most unknown entries
    of ``targets`` while at least ``min_accuracy`` of those labels are right (``labels``: the
    images' full labels); the most conservative candidate if none is that accurate.

    Returns θ and one row per candidate (labelled, accuracy, chosen).
    """
    rows = []
    for theta in candidates:
        new = apply_strategy(Strategy(kind, float(theta)), scores, targets)
        added = (new != UNKNOWN) & (np.asarray(targets) == UNKNOWN)
        right = ((new == POSITIVE) == np.asarray(labels, dtype=bool))[added]
        accuracy = float(right.mean()) if added.any() else float("nan")
        labelled = int(added.sum())
        rows.append(
            {"strategy": kind, "theta": float(theta), "labelled": labelled, "accuracy": accuracy}
        )
    table = pd.DataFrame(rows)
    good = table[table["accuracy"] >= min_accuracy]
    if len(good):
        chosen = float(good.sort_values("labelled", kind="stable").iloc[-1]["theta"])
    else:  # the fewest labels: the strictest threshold, the smallest share
        chosen = float(table.sort_values("labelled", kind="stable").iloc[0]["theta"])
    return chosen, table.assign(chosen=np.isclose(table["theta"], chosen))
