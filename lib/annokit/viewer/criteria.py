"""What the viewer lists: the selected model's decision rule, the filter, the sort orders and the
per-image counts they read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annokit.evaluation import decision
from annokit.viewer.store import ModelOutput

RULES = {"own": "the model's own rule", "threshold": "threshold t", "top_k": "top-k"}
OUTCOMES = {
    "any": "any outcome",
    "all_correct": "all correct",
    "missed": "has missed labels",
    "extra": "has extra labels",
    "count_wrong": "label count wrong",
}
SORTS = {
    "test_order": "test-split order",
    "f1_worst": "per-image F1, worst first",
    "f1_best": "per-image F1, best first",
}


@dataclass(frozen=True)
class Rule:
    """How the selected model's scores become labels: its own stored
    annotation, a threshold t, or the top k."""

    kind: str = "own"
    threshold: float = 0.5
    k: int = 3

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise ValueError(f"rule kind must be one of {list(RULES)}, not {self.kind!r}")

    def apply(self, model: ModelOutput, positions: np.ndarray) -> np.ndarray:
        """(len(positions), C) boolean annotation of those images."""
        if self.kind == "own":
            return model.take("annotation", positions).astype(bool)
        scores = model.take("scores", positions)
        if self.kind == "threshold":
            return decision.threshold(scores, self.threshold)
        return decision.top_k(scores, self.k)

    def describe(self, model: ModelOutput) -> str:
        if self.kind == "threshold":
            return f"threshold {self.threshold:.2f} (own rule: {model.rule})"
        if self.kind == "top_k":
            return f"top-{self.k} (own rule: {model.rule})"
        return model.rule


@dataclass(frozen=True)
class Filter:
    """Which test images are listed: those with ``label`` (in the truth or in the selected model's
    annotation) and a given outcome of the selected model; None and "any" keep everything."""

    label: str | None = None
    label_in: str = "truth"
    outcome: str = "any"

    def __post_init__(self) -> None:
        if self.label_in not in ("truth", "prediction"):
            raise ValueError(f"label_in must be 'truth' or 'prediction', not {self.label_in!r}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {list(OUTCOMES)}, not {self.outcome!r}")

    @property
    def needs_predictions(self) -> bool:
        return self.outcome != "any" or (self.label is not None and self.label_in == "prediction")


@dataclass(frozen=True)
class ImageStats:
    """Per-image counts of one model under one rule, over the whole test
    split (for filters and sorting)."""

    annotation: np.ndarray
    correct: np.ndarray
    extra: np.ndarray
    missed: np.ndarray
    predicted_count: np.ndarray
    true_count: np.ndarray
    f1: np.ndarray
    covered: np.ndarray

    def outcome_mask(self, outcome: str) -> np.ndarray:
        tests = {
            "any": np.ones_like(self.covered),
            "all_correct": (self.extra == 0) & (self.missed == 0),
            "missed": self.missed > 0,
            "extra": self.extra > 0,
            "count_wrong": self.predicted_count != self.true_count,
        }
        return tests[outcome] & (self.covered if outcome != "any" else True)


def image_f1(correct: np.ndarray, predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """F1 of each image, 2·|P∩T| / (|P|+|T|): the harmonic mean of its P and R, 0 when both are
    empty (the zero-division convention of ``annokit.evaluation.metrics``)."""
    denominator = np.asarray(predicted + true, dtype=np.float64)
    return np.divide(
        2.0 * correct, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )


def image_stats(truth: np.ndarray, predicted: np.ndarray, covered: np.ndarray) -> ImageStats:
    """Counts and F1 of every image from its boolean truth and prediction rows."""
    correct = (truth & predicted).sum(axis=1)
    predicted_count, true_count = predicted.sum(axis=1), truth.sum(axis=1)
    return ImageStats(
        predicted,
        correct,
        predicted_count - correct,
        true_count - correct,
        predicted_count,
        true_count,
        image_f1(correct, predicted_count, true_count),
        covered,
    )
