"""The papers' own result tables, transcribed to CSV under ``results/reported/``.

One CSV per printed table (M3 Tables I-VI, Multi-order RNN Tables 1-4) plus
``summaries_benchmarks.csv`` for the rows that public benchmark lists credit to the CNN-RNN and
partial-label papers.
Metric columns are named by the kit's keys (see ``annokit.evaluation.metrics``); what each paper
prints instead is kept in ``REPORTED_TABLES[name].columns`` so that a notebook can label the columns
as the paper does (M3's I-P is our O-P, Dutta's P_I is our S-P).

Values are exactly as printed (percent where the paper gives percent). Nothing is fixed
here: ``arithmetic_flags`` lists the rows whose F1 / H-F1 disagree with their own P and R
(or C-F1 and O-F1) by more than printing precision, for the tables notebook to show as
notes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd

from annokit.paths import reported_dir
from annokit.report.wang_reported import WANG_DATASETS, WANG_TABLES

M3 = (
    "Niu et al. 2019, Multi-modal multi-scale deep learning for large-scale image annotation (M3), "
    "IEEE TIP"
)
MULTI_ORDER = (
    "Dutta, Verma, Jawahar 2020, Recurrent image annotation with explicit inter-label dependencies "
    "(Multi-order RNN)"
)
SUMMARIES = "Seed summaries: Wang et al. 2016 (CNN-RNN) and Durand et al. 2019 (partial labels)"


class ReportedTable(NamedTuple):
    """One transcribed table: file, source, and the paper's header for each CSV column."""

    csv: str
    paper: str
    table: str | None
    caption: str
    columns: dict[str, str]  # CSV column (kit key or descriptive) -> header as printed in the paper


_M3_COMPONENT_COLUMNS = {
    "method": "Models",
    "multi_modal": "Multi-Modal",
    # printed "Quality Prediction"; the text and the yes/no pattern
    # make it label *quantity* prediction
    "quantity_prediction": "Quality Prediction",
    "C-P": "C-P",
    "C-R": "C-R",
    "C-F1": "C-F1",
    "O-P": "I-P",
    "O-R": "I-R",
    "O-F1": "I-F1",
    "H-F1": "H-F1",
}
_M3_SOTA_COLUMNS = {**_M3_COMPONENT_COLUMNS, "method": "Methods"}
_M3_LQP_COLUMNS = {"method": "Features for LQP", "LQP-accuracy": "Accuracy", "LQP-MSE": "MSE"}
_MULTI_ORDER_COLUMNS = {
    "method": "Method",
    "C-P": "P_L",
    "C-R": "R_L",
    "C-F1": "F1_L",
    "S-P": "P_I",
    "S-R": "R_I",
    "S-F1": "F1_I",
}

REPORTED_TABLES: dict[str, ReportedTable] = {
    "m3_table1": ReportedTable(
        "m3_table1_nuswide_components.csv",
        M3,
        "I",
        "Effectiveness evaluation for the main components of our model on the NUS-WIDE dataset.",
        _M3_COMPONENT_COLUMNS,
    ),
    "m3_table2": ReportedTable(
        "m3_table2_coco_components.csv",
        M3,
        "II",
        "Effectiveness evaluation for the main components of our model on the MSCOCO dataset.",
        _M3_COMPONENT_COLUMNS,
    ),
    "m3_table3": ReportedTable(
        "m3_table3_nuswide_sota.csv",
        M3,
        "III",
        "Comparison to the state-of-the-art on the NUS-WIDE dataset.",
        _M3_SOTA_COLUMNS,
    ),
    "m3_table4": ReportedTable(
        "m3_table4_coco_sota.csv",
        M3,
        "IV",
        "Comparison to the state-of-the-art on the MSCOCO dataset.",
        _M3_SOTA_COLUMNS,
    ),
    "m3_table5": ReportedTable(
        "m3_table5_nuswide_lqp.csv",
        M3,
        "V",
        "Results of label quantity prediction (LQP) with different groups of features on the "
        "NUS-WIDE dataset.",
        _M3_LQP_COLUMNS,
    ),
    "m3_table6": ReportedTable(
        "m3_table6_coco_lqp.csv",
        M3,
        "VI",
        "Results of label quantity prediction with different groups of features on the MSCOCO "
        "dataset.",
        _M3_LQP_COLUMNS,
    ),
    "multi_order_table1": ReportedTable(
        "multi_order_table1_coco_baselines.csv",
        MULTI_ORDER,
        "1",
        "Comparison of the proposed approach with a vanilla CNN using binary cross-entropy loss, "
        "and CNN-RNN models trained with different label-ordering methods on the MS-COCO dataset",
        _MULTI_ORDER_COLUMNS,
    ),
    "multi_order_table2": ReportedTable(
        "multi_order_table2_coco_sota.csv",
        MULTI_ORDER,
        "2",
        "Comparison of the proposed approach with the state-of-the-art methods on the MS-COCO "
        "dataset",
        {**_MULTI_ORDER_COLUMNS, "type": "(row group: CNN based / CNN-RNN based)"},
    ),
    "multi_order_table3": ReportedTable(
        "multi_order_table3_nuswide_sota.csv",
        MULTI_ORDER,
        "3",
        "Comparison of the proposed approach with the state-of-the-art methods on the NUS-WIDE "
        "dataset",
        {**_MULTI_ORDER_COLUMNS, "type": "(row group: CNN based / CNN-RNN based)"},
    ),
    "multi_order_table4": ReportedTable(
        "multi_order_table4_top1.csv",
        MULTI_ORDER,
        "4",
        "Comparison between SR-CNN-RNN [31] and the proposed Multi-order RNN approach based on "
        "top-1 accuracy",
        {
            "method": "(column header)",
            "dataset": "(column group: NUS-WIDE / MS-COCO)",
            "top1": "top-1 accuracy",
        },
    ),
    **{name: ReportedTable(*spec) for name, spec in WANG_TABLES.items()},  # wang_reported.py
    "summaries_benchmarks": ReportedTable(
        "summaries_benchmarks.csv",
        SUMMARIES,
        None,
        "Related benchmarks (rows naming a dataset, a metric and a value)",
        {"task": "Task", "dataset": "Dataset", "metric": "(metric label)", "value": "Result"},
    ),
    "durand2019_partial_labels": ReportedTable(
        "durand2019_partial_labels.csv",
        SUMMARIES,
        None,
        "Partial labels (Durand et al. 2019): the summary's benchmark rows, shown beside notebook "
        "06's sweep",
        {
            "dataset": "Dataset",
            "metric": "(metric label)",
            "value": "Result",
            "known_labels": "known labels",
        },
    ),
}

# Dataset of each single-dataset table (Table 4 and the summaries carry a dataset column).
REPORTED_DATASETS: dict[str, str | None] = {
    "m3_table1": "NUS-WIDE",
    "m3_table2": "MS-COCO",
    "m3_table3": "NUS-WIDE",
    "m3_table4": "MS-COCO",
    "m3_table5": "NUS-WIDE",
    "m3_table6": "MS-COCO",
    "multi_order_table1": "MS-COCO",
    "multi_order_table2": "MS-COCO",
    "multi_order_table3": "NUS-WIDE",
    "multi_order_table4": None,
    **WANG_DATASETS,
    "summaries_benchmarks": None,
    "durand2019_partial_labels": None,
}

# Columns that identify a row within a table.
ROW_KEYS: dict[str, tuple[str, ...]] = {name: ("method",) for name in REPORTED_TABLES} | {
    "multi_order_table4": ("method", "dataset"),
    "summaries_benchmarks": ("paper", "task", "dataset", "metric"),
    "durand2019_partial_labels": ("dataset", "metric", "value"),
}

METRIC_COLUMNS = (
    "C-P",
    "C-R",
    "C-F1",
    "O-P",
    "O-R",
    "O-F1",
    "S-P",
    "S-R",
    "S-F1",
    "H-F1",
    "mAP",
    "LQP-accuracy",
    "LQP-MSE",
    "top1",
)
PERCENT_COLUMNS = tuple(c for c in METRIC_COLUMNS if c != "LQP-MSE")

# (checked value, first input, second input): the checked value must be the harmonic mean
# of the inputs (F1 = 2PR/(P+R); H-F1 = 2 C-F1 O-F1 / (C-F1 + O-F1), M3 Eq. 7).
HARMONIC_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("C-F1", "C-P", "C-R"),
    ("O-F1", "O-P", "O-R"),
    ("S-F1", "S-P", "S-R"),
    ("H-F1", "C-F1", "O-F1"),
)

FLAG_COLUMNS = (
    "table",
    "method",
    "check",
    "printed",
    "recomputed",
    "difference",
    "consistent_low",
    "consistent_high",
)


def load_reported(name: str) -> pd.DataFrame:
    """One transcribed table as printed; ``frame.attrs`` carries its name and source."""
    try:
        spec = REPORTED_TABLES[name]
    except KeyError:
        raise KeyError(
            f"unknown reported table {name!r}; known: {sorted(REPORTED_TABLES)}"
        ) from None
    frame = pd.read_csv(reported_dir() / spec.csv, keep_default_na=False, na_values=[""])
    for column in METRIC_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].astype(float)
    frame.attrs.update(
        table=name, csv=spec.csv, paper=spec.paper, table_number=spec.table, caption=spec.caption
    )
    return frame


def with_paper_columns(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The same frame with its columns renamed to the headers the paper prints."""
    columns = REPORTED_TABLES[name].columns
    return frame.rename(columns={c: columns[c] for c in frame.columns if c in columns})


def _harmonic(a: float, b: float) -> float:
    return 0.0 if a + b == 0 else 2.0 * a * b / (a + b)


def _decimals(value: float, max_decimals: int = 6) -> int:
    """Fewest decimals that write ``value`` exactly (the precision it was printed with, at most)."""
    for d in range(max_decimals + 1):
        scaled = value * 10**d
        if abs(scaled - round(scaled)) < 1e-6:
            return d
    return max_decimals


def _half_unit(*values: float) -> float:
    """Half a unit of the last printed digit of a row's triple.

    The finest precision among the three values is the row's printing precision: 45.60 / 45.03
    / 45.31 were printed to 2 decimals, while 40.50 / 30.40 / 34.70 (rows copied from papers
    that print one decimal, padded with a zero) are only known to 1 decimal.
    """
    return 0.5 * 10.0 ** (-max(_decimals(v) for v in values))


def arithmetic_flags(
    frame: pd.DataFrame, tolerance: float = 0.015, table: str | None = None
) -> pd.DataFrame:
    """Rows whose F1 (or H-F1) cannot follow from their own printed P and R (or C-F1 and O-F1).

    The printed inputs are rounded, so the true P lies in [P - u, P + u] (u = half a unit of
    the row's last printed digit, 0.005 for two decimals) and likewise R; the harmonic mean is
    increasing in both, so the F1 values consistent with the printed P and R form the interval
    [hm(P - u, R - u), hm(P + u, R + u)], and the printed F1, itself rounded, may sit up to u
    outside it. A value is flagged when it lies more than ``tolerance`` (absolute, in the
    table's units: percentage points for every table here) beyond that. Rows with a missing
    input are skipped. Returns one row per violation; the frame is never modified.
    """
    name = table if table is not None else frame.attrs.get("table")
    rows = []
    for _, row in frame.iterrows():
        method = row["method"] if "method" in frame.columns else None
        if "dataset" in frame.columns and "method" in frame.columns:
            method = f"{row['method']} ({row['dataset']})"
        for target, first, second in HARMONIC_CHECKS:
            if not {target, first, second} <= set(frame.columns):
                continue
            printed, a, b = row[target], row[first], row[second]
            if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (printed, a, b)):
                continue
            printed, a, b = float(printed), float(a), float(b)
            u = _half_unit(printed, a, b)
            low = _harmonic(max(a - u, 0.0), max(b - u, 0.0))
            high = _harmonic(a + u, b + u)
            excess = max(low - u - printed, printed - high - u, 0.0)
            if excess > tolerance + 1e-9:
                recomputed = _harmonic(a, b)
                rows.append(
                    {
                        "table": name,
                        "method": method,
                        "check": target,
                        "printed": printed,
                        "recomputed": round(recomputed, 4),
                        "difference": round(printed - recomputed, 4),
                        "consistent_low": round(low - u, 4),
                        "consistent_high": round(high + u, 4),
                    }
                )
    return pd.DataFrame(rows, columns=list(FLAG_COLUMNS))


def all_arithmetic_flags(tolerance: float = 0.015) -> pd.DataFrame:
    """``arithmetic_flags`` over every transcribed table, concatenated."""
    frames = [arithmetic_flags(load_reported(name), tolerance) for name in REPORTED_TABLES]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(FLAG_COLUMNS))
    return pd.concat(frames, ignore_index=True)
