"""Result tables: each paper table with the reported numbers beside the reproduced ones.

The reproduced block scores the run's prediction files with ``annokit.evaluation.scoring``; a model
trained with several seeds (extra files ``<model>@seed<k>``) is reported as mean ± std.
Rows the kit does not reproduce say so; the papers' own arithmetic slips are flagged, never fixed.

Exported tables read like the papers': one column per metric and part, headed "<metric> paper",
"<metric> ours" and "<metric> Δ" with the metric named as the paper prints it (M3's "C-P", "I-F1";
Dutta's "P_L"), the same headers in Markdown, CSV and LaTeX. Δ = ours − paper. The files are
written by ``annokit.report.table_files.write_table``, the one writer for every table a notebook
writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from annokit.artifacts.predictions import available_predictions, load_predictions, prediction_path
from annokit.data.index import PreparedIndex
from annokit.evaluation.scoring import score
from annokit.methods.m3_heads import NO_TAGS, TAG_MODELS, has_tags
from annokit.report.reported import (
    REPORTED_DATASETS,
    REPORTED_TABLES,
    arithmetic_flags,
    load_reported,
)
from annokit.report.table_files import TableStyle, is_missing, write_table

M3_COMPONENTS = {
    "Upper bound (Ours)": "upper_bound",
    "MS-CNN+Tags+LQP": "mscnn_tags_lqp",
    "MS-CNN+LQP": "mscnn_lqp",
    "MS-CNN+Tags": "mscnn_tags",
    "MS-CNN": "mscnn",
    "CNN": "cnn",
}
# The copied rows of earlier methods that notebook 08 reproduces
# (annokit.methods.baselines.METHODS, files baseline_<key>).
M3_SOTA = {
    "Upper bound (Ours)": "upper_bound",
    "Ours": "mscnn_tags_lqp",
    "CNN-RNN [27]": "cnn_rnn_frequent_first",
    "TagNeighboor [23]": "baseline_tag_knn",
    "CNN+WARP [39]": "baseline_warp",
    "CNN+softmax [39]": "baseline_softmax",
    "CNN+logistic [25]": "baseline_logistic",
}
M3_LQP = {"MS-CNN": "mscnn_lqp", "MS-CNN+Tags": "mscnn_tags_lqp"}
# "multi_order_rnn" is the Multi-order RNN as the authors released it (their code
# made the paper's numbers); the paper-text variant, "multi_order_rnn_paper_text",
# appears in notebook 05's Table 1 only.
MULTI_ORDER_BASELINES = {
    "CNN (Binary Cross-Entropy)": "cnn_threshold",
    "CNN-RNN (frequent-first)": "cnn_rnn_frequent_first",
    "CNN-RNN (rare-first)": "cnn_rnn_rare_first",
    "CNN-RNN (lexicographic order)": "cnn_rnn_lexicographic",
    "Multi-order RNN (Proposed)": "multi_order_rnn",
}
MULTI_ORDER_SOTA = {
    "TagProp [12]": "baseline_tagprop",
    "2PKNN [45]": "baseline_2pknn",
    "MS-CNN+LQP [36]": "mscnn_lqp",
    "WARP [49, 11]": "baseline_warp",
    "LSEP [29]": "baseline_lsep",
    "Order-free RNN [4]": "baseline_order_free_rnn",
    "Multi-order RNN (Proposed)": "multi_order_rnn",
}
# SR-CNN-RNN trains on the rare-to-frequent order: the kit's rare-first CNN-RNN stands in for it.
MULTI_ORDER_TOP1 = {"SR-CNN-RNN": "cnn_rnn_rare_first", "Multi-order RNN": "multi_order_rnn"}

# Paper table -> (printed row -> prediction file of the kit), per run dataset.
ROW_MODELS: dict[str, dict[str, str]] = {
    "m3_table1": M3_COMPONENTS,
    "m3_table2": M3_COMPONENTS,
    "m3_table3": M3_SOTA,
    "m3_table4": M3_SOTA,
    "m3_table5": M3_LQP,
    "m3_table6": M3_LQP,
    "multi_order_table1": MULTI_ORDER_BASELINES,
    "multi_order_table2": MULTI_ORDER_SOTA,
    "multi_order_table3": MULTI_ORDER_SOTA,
    "multi_order_table4": MULTI_ORDER_TOP1,
    **dict.fromkeys(("wang2016_table1", "wang2016_table2"), {"CNN-RNN": "wang_cnn_rnn"}),  # nb 07
}
# A dataset no paper reports on (VOC 2007, your own images) is set beside NUS-WIDE's tables.
PAPER_DATASET = {"nuswide": "NUS-WIDE", "coco2014": "MS-COCO"}
OTHER_DATASETS = "NUS-WIDE"
# A printed row whose per-image columns are overall sums (its "definition" starts with
# "overall") is set beside our overall sums; every other row beside our means over images, the
# Multi-order RNN paper's Sec. 4.2.
OVERALL_SOURCE = {"S-P": "O-P", "S-R": "O-R", "S-F1": "O-F1"}
DEFINITION_NOTES = {
    "O-P": "C-P, C-R, C-F1: means over classes; I-P, I-R, I-F1: sums over all test images (M3 Eq. "
    "6), for ours as for the paper's own rows",
    "S-P": "P_L, R_L, F1_L: means over labels; P_I, R_I, F1_I: means over test images (Sec. 4.2) "
    "for ours, or sums over all test images (the kit's O-*) where the printed row used them "
    "(column definition)",
}


def tables_for(dataset: str) -> list[str]:
    """The paper tables to rebuild for a run on ``dataset`` ("nuswide" or "coco2014").

    Tables of the same dataset, plus the Multi-order RNN's baseline table (Table 1, printed for
    MS-COCO only) and its top-1 table.
    """
    wanted = PAPER_DATASET.get(dataset, OTHER_DATASETS)
    same = [
        name for name, data in REPORTED_DATASETS.items() if data == wanted and name in ROW_MODELS
    ]
    extra = [name for name in ("multi_order_table1", "multi_order_table4") if name not in same]
    return same + extra


def seed_files(run_dir: Path, model: str) -> list[str]:
    """The prediction files of a model: the main one and its extra seeds (``<model>@seed<k>``)."""
    names = available_predictions(run_dir)
    return [n for n in names if n == model or n.startswith(f"{model}@seed")]


def reproduced_scores(
    index: PreparedIndex, run_dir: Path, model: str
) -> tuple[pd.Series, pd.Series, int]:
    """Mean and standard deviation of every metric over a model's seeds, and the number of seeds."""
    rows = [
        score(index, load_predictions(prediction_path(run_dir, name)))
        for name in seed_files(run_dir, model)
    ]
    frame = pd.DataFrame(rows)
    return frame.mean(), frame.std(ddof=1) if len(frame) > 1 else frame.mean() * np.nan, len(frame)


def comparison(name: str, index: PreparedIndex, run_dir: Path, run_dataset: str) -> pd.DataFrame:
    """One paper table: printed rows, then reported / reproduced /
    std / difference blocks per metric."""
    reported = load_reported(name)
    if name == "multi_order_table4":
        paper_dataset = PAPER_DATASET.get(run_dataset, OTHER_DATASETS)
        reported = reported[reported["dataset"] == paper_dataset].reset_index(drop=True)
    scores = {}
    for method in reported["method"]:
        model = ROW_MODELS[name].get(method)
        if model is not None and seed_files(run_dir, model):
            scores[method] = reproduced_scores(index, run_dir, model)
    return comparison_table(name, reported, scores, tagged=has_tags(index))


def comparison_table(
    name: str,
    reported: pd.DataFrame,
    scores: dict[str, tuple[pd.Series, pd.Series, int]],
    tagged: bool = True,
) -> pd.DataFrame:
    """The comparison of ``comparison`` from numbers at hand.

    ``reported``: the paper's rows (``load_reported(name)``); ``scores``: printed row -> mean and
    std of every metric over the seeds and the number of seeds, for the rows the kit reproduced.
    Columns: (block, metric) with blocks "reported", "reproduced", "std" and "difference"
    (reproduced − reported, unrounded), then ("", "reproduction"), a note per row, and, for the
    tables that record each printed row's definition (the Multi-order RNN's), ("", "definition"):
    how the printed row and ours define P_I, R_I, F1_I (``row_definition``; ours follows the
    printed row where it used overall sums). ``tagged`` False: the dataset has no tags, and the
    rows of models that read them say they were not run.
    """
    metrics = [
        c
        for c in reported.columns
        if c in REPORTED_TABLES[name].columns
        and c != "method"
        and c not in ("multi_modal", "quantity_prediction", "type", "dataset")
    ]
    metrics = [m for m in metrics if pd.api.types.is_numeric_dtype(reported[m])]
    blocks, notes, definitions = (
        {"reported": [], "reproduced": [], "std": [], "difference": []},
        [],
        [],
    )
    for _, row in reported.iterrows():
        model = ROW_MODELS[name].get(row["method"])
        source, definition = row_definition(row)
        definitions.append(definition)
        if row["method"] in scores:
            mean, std, n = scores[row["method"]]
            ours = [mean.get(source.get(m, m), np.nan) for m in metrics]
            spread = [std.get(source.get(m, m), np.nan) for m in metrics]
            notes.append(f"{model or row['method']} ({n} seed{'s' if n > 1 else ''})")
        else:
            ours = spread = [np.nan] * len(metrics)
            untagged = not tagged and model in TAG_MODELS
            missing = NO_TAGS if untagged else f"{model}: prediction file missing"
            notes.append("not reproduced by the kit" if model is None else missing)
        printed = [row[m] for m in metrics]
        blocks["reported"].append(printed)
        blocks["reproduced"].append(ours)
        blocks["std"].append(spread)
        blocks["difference"].append([o - p for o, p in zip(ours, printed)])
    frames = {
        block: pd.DataFrame(values, columns=metrics, dtype=float)
        for block, values in blocks.items()
    }
    table = pd.concat(frames, axis=1)
    table.index = pd.Index(reported["method"], name="method")
    table[("", "reproduction")] = notes
    if "definition" in reported.columns:
        table[("", "definition")] = definitions
    table.attrs.update(
        name=name,
        caption=REPORTED_TABLES[name].caption,
        paper=REPORTED_TABLES[name].paper,
        table_number=REPORTED_TABLES[name].table,
        dataset=REPORTED_DATASETS[name],
    )
    return table


def row_definition(row: pd.Series) -> tuple[dict[str, str], str]:
    """Which of our metrics fills each printed column of a row (kit key -> kit
    key), and what the row says about it.

    Only tables that record a definition per row (the Multi-order RNN's) have one: a row
    copied with overall sums (definition "overall …") gets our O-* in its per-image columns,
    every other row our S-* (Sec. 4.2).
    """
    printed = row.get("definition")
    if not isinstance(printed, str):
        return {}, ""
    said = f"paper: {printed}; ours: P_I, R_I, F1_I as"
    if printed.startswith("overall"):
        return OVERALL_SOURCE, f"{said} sums over all test images (O-*), as printed"
    return {}, f"{said} means over test images (S-*, Sec. 4.2)"


def definition_note(table: pd.DataFrame) -> list[str]:
    """The table's note on how its columns are defined, for ours and the paper's rows
    (none for the LQP and top-1 tables)."""
    metrics = {m for block, m in table.columns if block == "reported"}
    return [f"definitions: {text}" for key, text in DEFINITION_NOTES.items() if key in metrics]


def paper_headers(table: pd.DataFrame) -> pd.DataFrame:
    """The same table with each metric named as the paper prints it (M3's I-P, Dutta's P_I …)."""
    columns = REPORTED_TABLES[table.attrs["name"]].columns
    renamed = table.copy()
    renamed.columns = pd.MultiIndex.from_tuples(
        [(block, columns.get(metric, metric)) for block, metric in table.columns]
    )
    return renamed


def flag_notes(name: str) -> list[str]:
    """The paper's own rows whose F1 or H-F1 disagree with their P and R (shown, never fixed)."""
    flags = arithmetic_flags(load_reported(name), table=name)
    return [
        f"{f.method}: printed {f.check} {f.printed:.2f}, but its inputs give {f.recomputed:.2f}"
        for f in flags.itertuples()
    ]


DELTA_NOTE = (
    "Δ = ours − paper, of the numbers as shown; ours is the mean ± std over seeds where the kit "
    "trained several"
)


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """Reported, reproduced (± std over seeds) and Δ side by side, as text for reading.

    Columns (metric, part) with part "paper", "ours" or "Δ" and the metric named as the paper prints
    it; ``write_table`` flattens them to "C-P paper", "C-P ours", "C-P Δ". Numbers have two decimals
    (three for MSE) and Δ = ours − paper of those shown numbers, so each row adds up as printed.
    Then ("", "reproduction") says which prediction file (and how many seeds) each row comes from,
    and ("", "definition"), where the table has it, how the printed row and ours define the metrics.
    """
    paper = paper_headers(table)
    out = pd.DataFrame(index=paper.index)
    not_run = [note == NO_TAGS for note in paper[("", "reproduction")]]  # said in each cell
    metrics = [m for block, m in paper.columns if block == "reported"]
    for metric in metrics:
        digits = 3 if metric == "MSE" else 2
        printed, mean, std = (
            paper[("reported", metric)],
            paper[("reproduced", metric)],
            paper[("std", metric)],
        )
        out[(metric, "paper")] = [_number(p, digits) for p in printed]
        out[(metric, "ours")] = [
            "not run"
            if skipped
            else _number(m, digits)
            if is_missing(s) or is_missing(m)
            else f"{_number(m, digits)} ± {s:.{digits}f}"
            for m, s, skipped in zip(mean, std, not_run)
        ]
        out[(metric, "Δ")] = [_delta(m, p, digits) for m, p in zip(mean, printed)]
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    out[("", "reproduction")] = paper[("", "reproduction")]
    if ("", "definition") in paper.columns:
        out[("", "definition")] = paper[("", "definition")]
    return out


def _number(value: float, digits: int = 2) -> str:
    return "" if is_missing(value) else f"{value:.{digits}f}"


def _delta(ours: float, paper: float, digits: int = 2) -> str:
    """ours − paper of the two numbers as shown with ``digits``
    decimals, signed ("+0.71", "-1.20")."""
    if is_missing(ours) or is_missing(paper):
        return ""
    delta = round(round(ours, digits) - round(paper, digits), digits)
    return f"{delta if delta else 0.0:+.{digits}f}"  # no "-0.00"


def export(table: pd.DataFrame, folder: Path) -> list[Path]:
    """Write a ``comparison`` as CSV, Markdown and LaTeX into ``folder``; returns the paths.

    All three hold ``display_table``'s text under the same headers: the row label "method", then
    "<metric> paper", "<metric> ours" (mean ± std over seeds) and "<metric> Δ" per metric, where
    Δ = ours − paper (of the numbers as shown), then "reproduction" (and "definition" where the
    table has it). The Markdown file opens with the paper's caption and ends with notes: the Δ
    rule, the metric definitions and the paper's own arithmetic slips.
    """
    attrs, shown = table.attrs, display_table(table)
    name, paper = attrs["name"], attrs["paper"].split(",")[0]
    caption = f"{paper} Table {attrs['table_number']}: {attrs['caption']}"
    notes = [DELTA_NOTE, *definition_note(table)] + [
        f"flagged in the paper: {note}" for note in flag_notes(name)
    ]
    written = write_table(shown, folder, name, TableStyle(("csv", "md"), caption, notes))
    tex = TableStyle(("tex",), f"{caption} Δ = ours − paper.", label=f"tab:{name}")
    return written + write_table(shown, folder, name, tex)
