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
from pathlib import Path

import numpy as np
import pandas as pd

from annokit.artifacts.predictions import Predictions
from annokit.data.annotation_table import TEST
from annokit.data.index import PreparedIndex
from annokit.evaluation.decision import top_k
from annokit.evaluation.metrics import annotation_scores
from annokit.evaluation.scoring import score, true_labels
from annokit.report.claim_list import CLAIMS, RULES_FOLLOWED, SMALL_GAIN, TOP3
from annokit.report.claim_types import QUALITATIVE, Claim, TableMeasure
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


# The paper's figures.


def paper_figure(claim: Claim, dataset: str | None) -> tuple[float | str, str]:
    """The paper's A − B for ``claim`` on the run's dataset (best of B by the paper's
    numbers), and where it is printed."""
    if claim.tables is None:
        return (QUALITATIVE if claim.figure is None else claim.figure), claim.text
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


def table_values(table: pd.DataFrame, measure: TableMeasure, model: str) -> dict[str, float]:
    """``model``'s values in a results table (points), by seed: the rows whose ``measure.key`` is
    ``model`` and whose columns match ``measure.at``, averaged within a seed."""
    if measure.key not in table.columns or measure.column not in table.columns:
        return {}
    table = table if "seed" in table.columns else table.assign(seed=0)
    chosen = (table[measure.key] == model).to_numpy().copy()
    for column, wanted in measure.at.items():
        if column not in table.columns:
            return {}
        values = table[column]
        if isinstance(wanted, str):
            chosen &= (values.astype(str) == wanted).to_numpy()
        else:
            chosen &= np.isclose(pd.to_numeric(values, errors="coerce"), wanted)
    rows = table[chosen]
    return {
        str(seed): measure.scale * float(group[measure.column].mean())
        for seed, group in rows.groupby("seed")
    }


def claim_tables(tables_dir: Path, claims: tuple[Claim, ...] = CLAIMS) -> dict[str, pd.DataFrame]:
    """The results tables the claims read, by name, from ``results/<profile>/tables`` (those
    present: a missing one makes its claims "not run")."""
    names = {c.measure.table for c in claims if c.measure is not None}
    return {
        n: pd.read_csv(tables_dir / f"{n}.csv")
        for n in sorted(names)
        if (tables_dir / f"{n}.csv").exists()
    }


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
    tables: Mapping[str, pd.DataFrame] | None = None,
    sizes: np.ndarray | None = None,
    claims: tuple[Claim, ...] = CLAIMS,
) -> pd.DataFrame:
    """One row per claim: claim, paper, measured, spread, holds, then
    metric, models, seeds, source and a note.

    ``tables``: the notebooks' results tables by name (``claim_tables``); a claim read from a table
    that is absent is "not run". ``sizes``: ``object_sizes`` of the test rows, read from the COCO
    instance annotations when None. A claim that cannot be measured (its prediction files or table
    missing, no object sizes, not the demo's label rules) is "unclear", noted "not run: …".
    """
    cache, scores, tables = {}, {}, tables or {}

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
        if claim.measure is not None:
            values, note = _from_table(claim.measure, tables, models)
        elif claim.metric in unmeasured:
            values, note = {}, unmeasured[claim.metric]
        else:
            values, note = (
                {m: per_seed(m, claim.metric, measures.get(claim.metric)) for m in models},
                None,
            )
        rows.append(_row(claim, paper, source, values, note))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _from_table(
    measure: TableMeasure, tables: Mapping[str, pd.DataFrame], models: tuple[str, ...]
) -> tuple[dict[str, dict[str, float]], str | None]:
    """Each model's per-seed values from its results table, or why there are none."""
    if measure.table not in tables:
        return {}, f"not run: no {measure.table} table (notebook {measure.notebook})"
    values = {m: table_values(tables[measure.table], measure, m) for m in models}
    if not any(values.values()):
        where = ", ".join(f"{k} = {v}" for k, v in measure.at.items()) or "any setting"
        return values, f"not run: the {measure.table} table has no rows at {where}"
    return values, None


def _top3(metric: str) -> Callable[[Predictions, np.ndarray], float]:
    """Per file: ``metric`` (points) of the annotation by the file's three highest scores."""

    def value(p: Predictions, y: np.ndarray) -> float:
        return 100 * float(annotation_scores(y, top_k(p.scores, 3))[metric])

    return value


def _mechanism_measures(
    index: PreparedIndex, sizes: np.ndarray | None
) -> tuple[dict, dict[str, str]]:
    """Per-file measures of the mechanism claims, and why a
    mechanism cannot be measured on this run."""
    measures, unmeasured = {metric: _top3(key) for key, metric in TOP3.items()}, {}
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
