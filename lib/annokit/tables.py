"""Result tables: each paper table with the reported numbers beside the reproduced ones.

The reproduced block scores the run's prediction files with ``annokit.evaluation``; a model
trained with several seeds (extra files ``<model>@seed<k>``) is reported as mean ± std.
Rows the kit does not reproduce say so; the papers' own arithmetic slips are flagged, never fixed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from annokit.data.index import PreparedIndex
from annokit.evaluation import score
from annokit.predictions import available_predictions, load_predictions, prediction_path
from annokit.reported import REPORTED_DATASETS, REPORTED_TABLES, arithmetic_flags, load_reported

M3_COMPONENTS = {"Upper bound (Ours)": "upper_bound", "MS-CNN+Tags+LQP": "mscnn_tags_lqp", "MS-CNN+LQP": "mscnn_lqp",
                 "MS-CNN+Tags": "mscnn_tags", "MS-CNN": "mscnn", "CNN": "cnn"}
M3_SOTA = {"Upper bound (Ours)": "upper_bound", "Ours": "mscnn_tags_lqp", "CNN-RNN [27]": "cnn_rnn_frequent_first"}
M3_LQP = {"MS-CNN": "mscnn_lqp", "MS-CNN+Tags": "mscnn_tags_lqp"}
MORDER_BASELINES = {"CNN (Binary Cross-Entropy)": "cnn_threshold", "CNN-RNN (frequent-first)": "cnn_rnn_frequent_first",
                    "CNN-RNN (rare-first)": "cnn_rnn_rare_first", "CNN-RNN (lexicographic order)": "cnn_rnn_lexicographic",
                    "Multi-order RNN (Proposed)": "morder_rnn"}
MORDER_SOTA = {"MS-CNN+LQP [36]": "mscnn_lqp", "Multi-order RNN (Proposed)": "morder_rnn"}
# SR-CNN-RNN trains on the rare-to-frequent order: the kit's rare-first CNN-RNN stands in for it.
MORDER_TOP1 = {"SR-CNN-RNN": "cnn_rnn_rare_first", "Multi-order RNN": "morder_rnn"}

# Paper table -> (printed row -> prediction file of the kit), per run dataset.
ROW_MODELS: dict[str, dict[str, str]] = {
    "m3_table1": M3_COMPONENTS, "m3_table2": M3_COMPONENTS, "m3_table3": M3_SOTA, "m3_table4": M3_SOTA,
    "m3_table5": M3_LQP, "m3_table6": M3_LQP, "morder_table1": MORDER_BASELINES,
    "morder_table2": MORDER_SOTA, "morder_table3": MORDER_SOTA, "morder_table4": MORDER_TOP1,
}
PAPER_DATASET = {"nuswide": "NUS-WIDE", "coco2014": "MS-COCO"}


def tables_for(dataset: str) -> list[str]:
    """The paper tables to rebuild for a run on ``dataset`` ("nuswide" or "coco2014").

    Tables of the same dataset, plus the Multi-order RNN's baseline table (Table 1, printed for
    MS-COCO only) and its top-1 table.
    """
    wanted = PAPER_DATASET[dataset]
    same = [name for name, data in REPORTED_DATASETS.items() if data == wanted and name in ROW_MODELS]
    extra = [name for name in ("morder_table1", "morder_table4") if name not in same]
    return same + extra


def seed_files(run_dir: Path, model: str) -> list[str]:
    """The prediction files of a model: the main one and its extra seeds (``<model>@seed<k>``)."""
    names = available_predictions(run_dir)
    return [n for n in names if n == model or n.startswith(f"{model}@seed")]


def reproduced_scores(index: PreparedIndex, run_dir: Path, model: str) -> tuple[pd.Series, pd.Series, int]:
    """Mean and standard deviation of every metric over a model's seeds, and the number of seeds."""
    rows = [score(index, load_predictions(prediction_path(run_dir, name))) for name in seed_files(run_dir, model)]
    frame = pd.DataFrame(rows)
    return frame.mean(), frame.std(ddof=1) if len(frame) > 1 else frame.mean() * np.nan, len(frame)


def comparison(name: str, index: PreparedIndex, run_dir: Path, run_dataset: str) -> pd.DataFrame:
    """One paper table: printed rows, then reported / reproduced / std / difference blocks per metric."""
    reported = load_reported(name)
    if name == "morder_table4":
        reported = reported[reported["dataset"] == PAPER_DATASET[run_dataset]].reset_index(drop=True)
    metrics = [c for c in reported.columns if c in REPORTED_TABLES[name].columns and c != "method"
               and c not in ("multi_modal", "quantity_prediction", "type", "dataset")]
    metrics = [m for m in metrics if pd.api.types.is_numeric_dtype(reported[m])]
    blocks, notes = {"reported": [], "reproduced": [], "std": [], "difference": []}, []
    for _, row in reported.iterrows():
        model = ROW_MODELS[name].get(row["method"])
        have = model is not None and seed_files(run_dir, model)
        if have:
            mean, std, n = reproduced_scores(index, run_dir, model)
            ours = [mean.get(m, np.nan) for m in metrics]
            spread = [std.get(m, np.nan) for m in metrics]
            notes.append(f"{model} ({n} seed{'s' if n > 1 else ''})")
        else:
            ours = spread = [np.nan] * len(metrics)
            notes.append("not reproduced by the kit" if model is None else f"{model}: prediction file missing")
        printed = [row[m] for m in metrics]
        blocks["reported"].append(printed)
        blocks["reproduced"].append(ours)
        blocks["std"].append(spread)
        blocks["difference"].append([o - p for o, p in zip(ours, printed)])
    frames = {block: pd.DataFrame(values, columns=metrics) for block, values in blocks.items()}
    table = pd.concat(frames, axis=1)
    table.index = pd.Index(reported["method"], name="method")
    table[("", "reproduction")] = notes
    table.attrs.update(name=name, caption=REPORTED_TABLES[name].caption, paper=REPORTED_TABLES[name].paper,
                       table_number=REPORTED_TABLES[name].table, dataset=REPORTED_DATASETS[name])
    return table


def paper_headers(table: pd.DataFrame) -> pd.DataFrame:
    """The same table with each metric named as the paper prints it (M3's I-P, Dutta's P_I …)."""
    columns = REPORTED_TABLES[table.attrs["name"]].columns
    renamed = table.copy()
    renamed.columns = pd.MultiIndex.from_tuples([(block, columns.get(metric, metric)) for block, metric in table.columns])
    return renamed


def flag_notes(name: str) -> list[str]:
    """The paper's own rows whose F1 or H-F1 disagree with their P and R (shown, never fixed)."""
    flags = arithmetic_flags(load_reported(name), table=name)
    return [f"{f.method}: printed {f.check} {f.printed:.2f}, but its inputs give {f.recomputed:.2f}" for f in flags.itertuples()]


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """Reported, reproduced (± std over seeds) and difference side by side, as text for reading."""
    paper = paper_headers(table)
    out = pd.DataFrame(index=paper.index)
    metrics = [m for block, m in paper.columns if block == "reported"]
    for metric in metrics:
        digits = 3 if metric == "MSE" else 2
        out[(metric, "paper")] = paper[("reported", metric)].map(lambda v: _number(v, digits))
        mean, std = paper[("reproduced", metric)], paper[("std", metric)]
        out[(metric, "ours")] = [_number(m, digits) if np.isnan(s) else f"{_number(m, digits)} ± {s:.{digits}f}" for m, s in zip(mean, std)]
        out[(metric, "Δ")] = paper[("difference", metric)].map(lambda v: "" if np.isnan(v) else f"{v:+.{digits}f}")
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    out[("", "reproduction")] = paper[("", "reproduction")]
    return out


def _number(value: float, digits: int = 2) -> str:
    return "" if value is None or np.isnan(value) else f"{value:.{digits}f}"


def export(table: pd.DataFrame, folder: Path) -> list[Path]:
    """Write a comparison as Markdown, CSV and LaTeX into ``folder``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    name, shown = table.attrs["name"], display_table(table)
    caption = f"{table.attrs['paper'].split(',')[0]} Table {table.attrs['table_number']}: {table.attrs['caption']}"
    paths = [folder / f"{name}.csv", folder / f"{name}.md", folder / f"{name}.tex"]
    flat = table.copy()
    flat.columns = [f"{block} {metric}".strip() for block, metric in table.columns]
    flat.to_csv(paths[0])
    notes = "".join(f"\n- flagged in the paper: {note}" for note in flag_notes(name))
    paths[1].write_text(f"**{caption}**\n\n{shown.to_markdown()}\n{notes}\n")
    paths[2].write_text(shown.to_latex(caption=caption, label=f"tab:{name}"))
    return paths
