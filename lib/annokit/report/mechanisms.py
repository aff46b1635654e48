"""Why a component helps: each paper claim measured through the
mechanism it names, on the test split.

- Object size (M3: the MS-CNN's fine scales help small objects): ``recall_by_size_table`` over
  the measures of ``annokit.report.size_recall``.
- Label quantity (M3's LQP): ``quantity_accuracy_by_count`` and ``f1_by_count`` by true label count.
- Label dependencies (Dutta et al.): ``generator_rules`` and ``dependency_agreement``.
- Partial labels (Durand et al.): ``partial_bce_gap`` from notebook 06's sweep table.

Rates are in percent, like the result tables. The ``*_table`` functions read a run's prediction
files (every seed, ``<model>@seed<k>``) and give the mean and standard deviation over seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from annokit.artifacts.predictions import Predictions, load_predictions, prediction_path
from annokit.artifacts.stamps import check_matches_index
from annokit.data.annotation_table import TEST
from annokit.data.index import PreparedIndex
from annokit.demo.sampling import EXCLUSIVE, REQUIRES_ALL, REQUIRES_ANY
from annokit.evaluation.decision import predicted_quantity, top_k
from annokit.evaluation.scoring import true_labels
from annokit.report.size_recall import (
    SIZE_THRESHOLDS,
    object_sizes,
    recall_by_object_size,
    size_bins,
)
from annokit.report.tables import seed_files

# Label quantity.


def quantity_accuracy_by_count(true_counts: np.ndarray, m_hat: np.ndarray) -> pd.DataFrame:
    """Per true label count m: images, share with m̂ = m, m̂ < m and m̂ > m (%),
    and the mean m̂: where LQP errs."""
    m, guess = np.asarray(true_counts, dtype=np.int64), np.asarray(m_hat)
    if m.shape != guess.shape or m.ndim != 1:
        raise ValueError(
            f"need one true count and one m̂ per image, got shapes {m.shape} and {guess.shape}"
        )
    frame = pd.DataFrame(
        {
            "true count": m,
            "right": guess == m,
            "too few": guess < m,
            "too many": guess > m,
            "mean m̂": guess,
        }
    )
    grouped = frame.groupby("true count")
    out = 100 * grouped[["right", "too few", "too many"]].mean()
    out.columns = ["accuracy", "too few", "too many"]
    return pd.concat([grouped.size().rename("images"), out, grouped["mean m̂"].mean()], axis=1)


def image_f1(y_true: np.ndarray, annotation: np.ndarray) -> np.ndarray:
    """F1 of each image's label set (0 when it has no true or no predicted
    label, as ``metrics`` counts it)."""
    truth, chosen = np.asarray(y_true, bool), np.asarray(annotation, bool)
    both = 2.0 * (truth & chosen).sum(axis=1)
    sizes = truth.sum(axis=1) + chosen.sum(axis=1)
    return np.divide(both, sizes, out=np.zeros(len(truth)), where=(both > 0))


def f1_by_count(
    y_true: np.ndarray, top_m_hat_annotation: np.ndarray, top3_annotation: np.ndarray
) -> pd.DataFrame:
    """Per true label count: images, mean per-image F1 (%) of top-m̂ and of
    top-3, and the gain: where LQP pays."""
    truth = np.asarray(y_true, bool)
    frame = pd.DataFrame(
        {
            "true count": truth.sum(axis=1),
            "F1 top-m̂": 100 * image_f1(truth, top_m_hat_annotation),
            "F1 top-3": 100 * image_f1(truth, top3_annotation),
        }
    )
    grouped = frame.groupby("true count")
    out = pd.concat(
        [grouped.size().rename("images"), grouped[["F1 top-m̂", "F1 top-3"]].mean()], axis=1
    )
    return out.assign(gain=out["F1 top-m̂"] - out["F1 top-3"])


# Label dependencies.


@dataclass(frozen=True)
class LabelRule:
    """A hard rule of the demo generator: ``label`` needs ``others``
    (all, or any one), or excludes them."""

    kind: str  # "needs", "needs any" or "excludes"
    label: str
    others: tuple[str, ...]

    def __str__(self) -> str:
        joined = " or ".join(self.others) if self.kind == "needs any" else " and ".join(self.others)
        return (
            f"not both {self.label} and {joined}"
            if self.kind == "excludes"
            else f"{self.label} ⇒ {joined}"
        )


def generator_rules(label_names: Sequence[str] | None = None) -> list[LabelRule]:
    """The demo's hard label rules (``annokit.demo.sampling``: REQUIRES_ALL,
    REQUIRES_ANY, EXCLUSIVE), one per pair.

    Every sampled label set obeys them (sun needs sky, boats need ocean or water, no sun with
    moon ...); the scenes' co-occurrence weights are soft and not rules. Rules naming a label
    outside ``label_names`` are left out.
    """
    rules = [
        LabelRule("needs", label, (other,))
        for label, others in REQUIRES_ALL.items()
        for other in others
    ]
    rules += [
        LabelRule("needs any", label, tuple(others)) for label, others in REQUIRES_ANY.items()
    ]
    rules += [LabelRule("excludes", a, (b,)) for a, b in EXCLUSIVE]
    known = set(label_names) if label_names is not None else None
    return [r for r in rules if known is None or {r.label, *r.others} <= known]


def rule_checks(
    annotation: np.ndarray, rules: Sequence[LabelRule], label_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(images, rules) masks: the set triggers the rule (has its label; either
    label for "excludes"), and breaks it."""
    chosen, column = np.asarray(annotation, bool), {name: j for j, name in enumerate(label_names)}
    applies, broken = (
        np.zeros((len(chosen), len(rules)), bool),
        np.zeros((len(chosen), len(rules)), bool),
    )
    for r, rule in enumerate(rules):
        has, others = chosen[:, column[rule.label]], chosen[:, [column[o] for o in rule.others]]
        if rule.kind == "excludes":
            applies[:, r], broken[:, r] = has | others.any(axis=1), has & others.any(axis=1)
        elif rule.kind in ("needs", "needs any"):
            met = others.all(axis=1) if rule.kind == "needs" else others.any(axis=1)
            applies[:, r], broken[:, r] = has, has & ~met
        else:
            raise ValueError(
                f"unknown rule kind {rule.kind!r}: choose needs, needs any or excludes"
            )
    return applies, broken


def dependency_agreement(
    annotation: np.ndarray, rules: Sequence[LabelRule], label_names: Sequence[str]
) -> pd.DataFrame:
    """Per rule, then "all rules": predicted sets it applies to, sets breaking
    it, and the share following it (%).

    The "all rules" row counts a set once: it applies when any rule does, and follows
    when it breaks none; conditioning on the sets a rule applies to keeps a model that
    predicts fewer labels from scoring higher.
    """
    applies, broken = rule_checks(annotation, rules, label_names)
    applicable = np.r_[applies.sum(axis=0), applies.any(axis=1).sum()]
    breaking = np.r_[broken.sum(axis=0), broken.any(axis=1).sum()]
    followed = np.divide(
        100.0 * (applicable - breaking),
        applicable,
        out=np.full(len(applicable), np.nan),
        where=applicable > 0,
    )
    return pd.DataFrame(
        {"applicable": applicable, "broken": breaking, "followed": followed},
        index=pd.Index([str(r) for r in rules] + ["all rules"], name="rule"),
    )


# Partial labels.


def partial_bce_gap(
    sweep_table: pd.DataFrame,
    metric: str = "mAP",
    loss: str = "partial_bce",
    baselines: Sequence[str] = ("bce_negative", "bce_ignore"),
    scale: float = 100.0,
) -> pd.DataFrame:
    """``loss`` minus each plain BCE at each proportion (points; the sweep holds
    fractions), paired by seed: mean, std, seeds.

    A table without a ``seed`` column, or with one seed, gives std NaN.
    """
    table = sweep_table if "seed" in sweep_table.columns else sweep_table.assign(seed=0)
    wide = table.assign(proportion=table["proportion"].round(6)).pivot_table(
        index=["seed", "proportion"], columns="loss", values=metric, aggfunc="mean"
    )
    if loss not in wide.columns:
        raise ValueError(f"the sweep table has no {loss!r} rows (losses: {sorted(wide.columns)})")
    frames = []
    for baseline in (b for b in baselines if b in wide.columns):
        gap = (
            (scale * (wide[loss] - wide[baseline]))
            .dropna()
            .groupby(level="proportion")
            .agg(["mean", "std", "count"])
        )
        frames.append(
            gap.rename(columns={"mean": "gap", "count": "seeds"})
            .reset_index()
            .assign(baseline=baseline)
        )
    columns = ["baseline", "proportion", "gap", "std", "seeds"]
    return (
        pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    )


# Over a run's seed files.


def seed_predictions(run_dir: Path, index: PreparedIndex, model: str) -> dict[str, Predictions]:
    """A model's prediction files by seed suffix ("" for the profile seed,
    "@seed<k>"), each checked against ``index``."""
    found = {}
    for name in seed_files(run_dir, model):
        predictions = load_predictions(prediction_path(run_dir, name))
        check_matches_index(predictions, index)
        found[name[len(model) :]] = predictions
    return found


def over_seeds(
    index: PreparedIndex,
    run_dir: Path,
    models: Sequence[str],
    measure: Callable[[Predictions, np.ndarray], pd.DataFrame],
    value: str,
) -> pd.DataFrame:
    """``measure(file, its truth)`` for every seed file of each model: every column's mean over
    seeds, ``value``'s std, the seeds."""
    frames = []
    for model in models:
        per_seed = [
            measure(p, true_labels(index, p))
            for p in seed_predictions(run_dir, index, model).values()
        ]
        if not per_seed:
            continue
        grouped = pd.concat(per_seed).groupby(level=0, sort=False)
        frame = grouped.mean().assign(std=grouped[value].std(ddof=1), seeds=len(per_seed))
        counts = [
            c
            for c in per_seed[0].columns
            if per_seed[0][c].dtype.kind in "iu" and (frame[c] % 1 == 0).all()
        ]
        frame[counts] = frame[counts].astype(np.int64)  # counts equal in every seed stay counts
        frames.append(frame.reset_index().assign(model=model))
    if not frames:
        return pd.DataFrame(columns=["model", value, "std", "seeds"])
    out = pd.concat(frames, ignore_index=True)
    return out[["model"] + [c for c in out.columns if c != "model"]]


def recall_by_size_table(
    index: PreparedIndex,
    run_dir: Path,
    models: Sequence[str] = ("cnn", "mscnn"),
    thresholds: Sequence[float] = SIZE_THRESHOLDS,
    sizes: np.ndarray | None = None,
) -> pd.DataFrame:
    """Recall by object size of each model (mean, std over seeds); ``sizes``: ``object_sizes``
    of the test rows, read when None."""
    test_rows = index.rows(TEST)
    bins = size_bins(object_sizes(index, test_rows) if sizes is None else sizes, thresholds)
    at = pd.Series(np.arange(len(test_rows)), index=test_rows)
    return over_seeds(
        index,
        run_dir,
        models,
        lambda p, y: recall_by_object_size(y, p.annotation, bins[at[p.rows].to_numpy()]),
        "recall",
    )


def quantity_accuracy_table(
    index: PreparedIndex, run_dir: Path, models: Sequence[str] = ("mscnn_lqp", "mscnn_tags_lqp")
) -> pd.DataFrame:
    """LQP accuracy by true label count of each LQP model (mean, std over seeds)."""

    def measure(p: Predictions, y: np.ndarray) -> pd.DataFrame:
        return quantity_accuracy_by_count(y.sum(axis=1), predicted_quantity(p.counts, y.shape[1]))

    return over_seeds(index, run_dir, models, measure, "accuracy")


def f1_by_count_table(
    index: PreparedIndex,
    run_dir: Path,
    models: Sequence[str] = ("mscnn_lqp", "mscnn_tags_lqp"),
    k: int = 3,
) -> pd.DataFrame:
    """Per-image F1 by true count of each LQP model's top-m̂ against top-k of the same scores;
    the gain's mean, std over seeds."""
    return over_seeds(
        index,
        run_dir,
        models,
        lambda p, y: f1_by_count(y, p.annotation, top_k(p.scores, k)),
        "gain",
    )


def dependency_table(
    index: PreparedIndex,
    run_dir: Path,
    models: Sequence[str] = ("multi_order_rnn", "cnn_threshold"),
    rules: Sequence[LabelRule] | None = None,
) -> pd.DataFrame:
    """Share of predicted sets following each generator rule, per model (mean,
    std over seeds), and of the truth."""
    rules = generator_rules(index.label_names) if rules is None else rules
    table = over_seeds(
        index,
        run_dir,
        models,
        lambda p, y: dependency_agreement(p.annotation, rules, index.label_names),
        "followed",
    )
    truth = dependency_agreement(index.label_matrix(TEST), rules, index.label_names).reset_index()
    return pd.concat(
        [table, truth.assign(model="ground truth", std=np.nan, seeds=1)], ignore_index=True
    )
