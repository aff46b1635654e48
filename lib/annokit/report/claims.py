"""The papers' claims, one row each: the paper's figure, ours as mean over
seeds, the spread, and whether it holds.

Every claim is "A beats B" in one metric; B may be several models, then the best of them (by our
mean; by the paper's numbers for the paper's figure). ``measured`` is A − B in points, averaged over
seeds: paired by seed (the same ``@seed<k>`` files on both sides, at least two) with ``spread`` the
std of the per-seed differences, else from the two models' own std's, √(s_A² + s_B²). ``holds`` is
"yes" when the difference has the paper's sign (positive for a qualitative claim) and exceeds twice
the spread, "no" for the opposite sign beyond twice the spread, else "unclear", also when the spread
is unknown (a single run) or the claim could not be measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from annokit.artifacts.predictions import Predictions
from annokit.data.annotation_table import TEST
from annokit.data.index import PreparedIndex
from annokit.evaluation.scoring import score, true_labels
from annokit.report.mechanisms import dependency_agreement, generator_rules, seed_predictions
from annokit.report.reported import load_reported
from annokit.report.size_recall import (
    SIZE_BINS,
    SIZE_THRESHOLDS,
    is_demo,
    object_sizes,
    recall_by_object_size,
    size_bins,
)
from annokit.report.tables import ROW_MODELS
from annokit.report.verdict import difference, holds

QUALITATIVE = "qualitative"
COLUMNS = (
    "claim",
    "paper",
    "measured",
    "spread",
    "holds",
    "metric",
    "models",
    "seeds",
    "source",
    "note",
)
# (A − B) recall on small objects minus (A − B) on large ones
SMALL_GAIN = "recall gain small − large"
RULES_FOLLOWED = "sets following the rules"
PARTIAL_PROPORTION = 0.1
SWEEP_METRIC = "mAP at 10 %"  # of notebook 06's sweep table, not of a prediction file


@dataclass(frozen=True)
class Claim:
    """One claim: ``better`` beats ``worse`` (the best of them) in ``metric``;
    the paper's figure from ``tables``."""

    claim: str
    metric: str  # a key of ``evaluation.score``, SMALL_GAIN, RULES_FOLLOWED or SWEEP_METRIC
    better: str
    worse: tuple[str, ...]
    # run dataset -> reported table; None: the paper states it without a number
    tables: Mapping[str, str] | None = None
    text: str = ""  # where a claim without a number is stated


M3_TABLES = {"nuswide": "m3_table1", "coco2014": "m3_table2"}
LQP_TABLES = {"nuswide": "m3_table5", "coco2014": "m3_table6"}
# printed for MS-COCO only
ORDER_TABLES = {"nuswide": "multi_order_table1", "coco2014": "multi_order_table1"}
TOP1_TABLES = {"nuswide": "multi_order_table4", "coco2014": "multi_order_table4"}
FIXED_ORDERS = ("cnn_rnn_frequent_first", "cnn_rnn_rare_first", "cnn_rnn_lexicographic")
M3_OTHERS = ("cnn", "mscnn", "mscnn_tags", "mscnn_lqp")

CLAIMS: tuple[Claim, ...] = (
    *(Claim(f"MS-CNN beats CNN ({m})", m, "mscnn", ("cnn",), M3_TABLES) for m in ("C-F1", "O-F1")),
    *(
        Claim(f"tags help: MS-CNN+Tags beats MS-CNN ({m})", m, "mscnn_tags", ("mscnn",), M3_TABLES)
        for m in ("C-F1", "O-F1")
    ),
    *(
        Claim(f"LQP helps: MS-CNN+LQP beats MS-CNN ({m})", m, "mscnn_lqp", ("mscnn",), M3_TABLES)
        for m in ("C-F1", "O-F1")
    ),
    *(
        Claim(f"tags and LQP together are best ({m})", m, "mscnn_tags_lqp", M3_OTHERS, M3_TABLES)
        for m in ("C-F1", "O-F1")
    ),
    Claim(
        "tags make LQP's count more accurate",
        "LQP-accuracy",
        "mscnn_tags_lqp",
        ("mscnn_lqp",),
        LQP_TABLES,
    ),
    Claim(
        "MS-CNN's recall gain is larger on small objects than on large ones",
        SMALL_GAIN,
        "mscnn",
        ("cnn",),
        text="M3 Sec. II-A: the highest-level features miss the low-level ones with local "
        "information",
    ),
    *(
        Claim(
            f"Multi-order RNN beats every fixed order ({m})",
            m,
            "multi_order_rnn",
            FIXED_ORDERS,
            ORDER_TABLES,
        )
        for m in ("C-F1", "S-F1")
    ),
    Claim(
        "Multi-order RNN's top-1 beats rare-first",
        "top1",
        "multi_order_rnn",
        ("cnn_rnn_rare_first",),
        TOP1_TABLES,
    ),
    Claim(
        "Multi-order RNN's sets follow the label dependencies more often than the CNN's",
        RULES_FOLLOWED,
        "multi_order_rnn",
        ("cnn_threshold",),
        text="Multi-order RNN Sec. 1: an RNN after the CNN encodes inter-label dependencies",
    ),
    Claim(
        "partial-BCE beats BCE at 10 % known labels",
        SWEEP_METRIC,
        "partial_bce",
        ("bce_negative", "bce_ignore"),
        text="Durand et al. 2019 (seed summary: partial-BCE 80.7 mAP at 10 % on VOC 2007, no BCE "
        "figure)",
    ),
)


# The paper's figures.


def paper_figure(claim: Claim, dataset: str | None) -> tuple[float | str, str]:
    """The paper's A − B for ``claim`` on the run's dataset (best of B by the paper's
    numbers), and where it is printed."""
    if claim.tables is None:
        return QUALITATIVE, claim.text
    if dataset not in claim.tables:
        return math.nan, f"no reported table for dataset {dataset!r}"
    name = claim.tables[dataset]
    reported = load_reported(name)
    if "dataset" in reported.columns:  # Table 4: both datasets in one table
        reported = reported[
            reported["dataset"] == {"nuswide": "NUS-WIDE", "coco2014": "MS-COCO"}[dataset]
        ]
    row_of = {model: row for row, model in ROW_MODELS[name].items()}
    value = reported.set_index("method")[claim.metric]
    worse = {row_of[m]: value[row_of[m]] for m in claim.worse if m in row_of}
    best = max(worse, key=worse.get)
    paper = "M3" if name.startswith("m3_") else "Multi-order RNN"
    where = f"{paper} Table {reported.attrs['table_number']}: {row_of[claim.better]} − {best}"
    if name == "multi_order_table1" and dataset != "coco2014":
        where += " (printed for MS-COCO only)"
    return float(value[row_of[claim.better]] - worse[best]), where


# Our figures.


def sweep_values(
    sweep: pd.DataFrame, loss: str, proportion: float = PARTIAL_PROPORTION, metric: str = "mAP"
) -> dict[str, float]:
    """A loss's ``metric`` (percent) at one proportion of the partial-label sweep, by seed."""
    table = sweep if "seed" in sweep.columns else sweep.assign(seed=0)
    rows = table[(table["loss"] == loss) & np.isclose(table["proportion"], proportion)]
    return {str(seed): 100 * float(group[metric].mean()) for seed, group in rows.groupby("seed")}


def _size_gain(sizes: np.ndarray, rows: np.ndarray) -> Callable[[Predictions, np.ndarray], float]:
    """Per file: recall on small objects minus recall on large ones (points)."""
    bins, at = size_bins(sizes, SIZE_THRESHOLDS), pd.Series(np.arange(len(rows)), index=rows)

    def value(p: Predictions, y: np.ndarray) -> float:
        recall = recall_by_object_size(y, p.annotation, bins[at[p.rows].to_numpy()])["recall"]
        return float(recall[SIZE_BINS[0]] - recall[SIZE_BINS[-1]])

    return value


def paper_claims(
    run_dir: Path,
    index: PreparedIndex,
    sweep: pd.DataFrame | None = None,
    sizes: np.ndarray | None = None,
    claims: tuple[Claim, ...] = CLAIMS,
) -> pd.DataFrame:
    """One row per claim: claim, paper, measured, spread, holds, then
    metric, models, seeds, source and a note.

    ``sweep``: notebook 06's ``partial_labels`` table (None: that claim is "not run"). ``sizes``:
    ``object_sizes`` of the test rows, read from the COCO instance annotations when None. A claim
    that cannot be measured (its prediction files missing, no sweep, no object sizes, not the demo's
    label rules) is "unclear", noted "not run: …".
    """
    cache, scores = {}, {}

    def per_seed(
        model: str, metric: str, per_file: Callable[[Predictions, np.ndarray], float] | None
    ) -> dict[str, float]:
        if model not in cache:
            cache[model] = seed_predictions(run_dir, index, model)
        if per_file is not None:
            return {seed: per_file(p, true_labels(index, p)) for seed, p in cache[model].items()}
        for seed, p in cache[model].items():
            if (model, seed) not in scores:
                scores[model, seed] = score(index, p)
        return {
            seed: scores[model, seed][metric]
            for seed in cache[model]
            if metric in scores[model, seed]
        }

    measures, unmeasured = _mechanism_measures(index, sizes)
    rows = []
    for claim in claims:
        paper, source = paper_figure(claim, index.meta.get("dataset"))
        models = (claim.better, *claim.worse)
        if claim.metric == SWEEP_METRIC:
            values = {m: sweep_values(sweep, m) for m in models} if sweep is not None else {}
            note = "not run: no partial-label sweep table (notebook 06)" if sweep is None else None
            if sweep is not None and not any(values.values()):
                note = f"not run: the sweep has no {PARTIAL_PROPORTION:.0%} rows"
        elif claim.metric in unmeasured:
            values, note = {}, unmeasured[claim.metric]
        else:
            values, note = (
                {m: per_seed(m, claim.metric, measures.get(claim.metric)) for m in models},
                None,
            )
        rows.append(_row(claim, paper, source, values, note))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _mechanism_measures(
    index: PreparedIndex, sizes: np.ndarray | None
) -> tuple[dict, dict[str, str]]:
    """Per-file measures of the mechanism claims, and why a
    mechanism cannot be measured on this run."""
    measures, unmeasured = {}, {}
    if sizes is None:
        try:
            sizes = object_sizes(index, index.rows(TEST))
        except (OSError, ValueError) as error:
            unmeasured[SMALL_GAIN] = f"not run: no object sizes ({error})"
    if sizes is not None:
        measures[SMALL_GAIN] = _size_gain(sizes, index.rows(TEST))
    if is_demo(index):
        rules = generator_rules(index.label_names)
        measures[RULES_FOLLOWED] = lambda p, y: float(
            dependency_agreement(p.annotation, rules, index.label_names)["followed"].iloc[-1]
        )
    else:
        unmeasured[RULES_FOLLOWED] = (
            "not run: the label rules are the demo generator's, and this run is not the demo"
        )
    return measures, unmeasured


def _row(
    claim: Claim,
    paper: float | str,
    source: str,
    values: Mapping[str, Mapping[str, float]],
    note: str | None,
) -> dict:
    """A claim's row from each model's per-seed values (empty when not run)."""
    worse = [m for m in claim.worse if values.get(m)]
    best = max(worse, key=lambda m: np.mean(list(values[m].values()))) if worse else claim.worse[0]
    diff = difference(values.get(claim.better, {}), values.get(best, {}), (claim.better, best))
    if note is None and diff.note == "not run":
        missing = [m for m in (claim.better, *claim.worse) if not values.get(m)]
        note = f"not run: no {', '.join(missing)}"
    if len(claim.worse) > 1 and worse:
        diff_note = f"against {best}, the best of {', '.join(worse)} here; {diff.note}"
    else:
        diff_note = diff.note
    return {
        "claim": claim.claim,
        "paper": paper,
        "measured": diff.measured,
        "spread": diff.spread,
        "holds": holds(diff.measured, diff.spread, paper),
        "metric": claim.metric,
        "models": f"{claim.better} vs {best}",
        "seeds": diff.seeds,
        "source": source,
        "note": note if note is not None else diff_note,
    }
