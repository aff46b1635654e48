"""Result tables as written: headers like the papers' ("C-P paper", "C-P ours", "C-P Δ") in CSV,
Markdown and LaTeX, Δ = ours − paper on hand-made numbers, and the one table writer."""

import csv
import io

import numpy as np
import pandas as pd
import pytest

from annokit.report import tables
from annokit.report.reported import load_reported
from annokit.report.table_files import TableStyle, flat_header, write_table

# M3's headers for C-*, O-* (I-*), H-F1
M3_PRINTED = ["C-P", "C-R", "C-F1", "I-P", "I-R", "I-F1", "H-F1"]
M3_KEYS = ["C-P", "C-R", "C-F1", "O-P", "O-R", "O-F1", "H-F1"]
M3_HEADERS = (
    ["method"]
    + [f"{m} {part}" for m in M3_PRINTED for part in ("paper", "ours", "Δ")]
    + ["reproduction"]
)

# Hand-made reproduction of two rows of M3 Table I (printed: MS-CNN+Tags+LQP 80.27
# 60.95 69.29 84.55 76.80 80.49 74.47)
OURS_3_SEEDS = dict(zip(M3_KEYS, [81.004, 60.0, 69.296, 84.55, 77.5, 79.0, 75.125]))
STD_3_SEEDS = dict(zip(M3_KEYS, [0.12, 0.3, 0.1, 0.2, 0.25, 0.4, 0.05]))
# the CNN row (printed 45.86, 57.34), one seed, two metrics only
OURS_1_SEED = {"C-P": 50.0, "C-R": 57.0}


def hand_made_table() -> pd.DataFrame:
    scores = {
        "MS-CNN+Tags+LQP": (pd.Series(OURS_3_SEEDS), pd.Series(STD_3_SEEDS), 3),
        "CNN": (pd.Series(OURS_1_SEED), pd.Series(OURS_1_SEED) * np.nan, 1),
    }
    return tables.comparison_table("m3_table1", load_reported("m3_table1"), scores)


@pytest.fixture()
def exported(tmp_path):
    paths = tables.export(hand_made_table(), tmp_path)
    return {path.suffix[1:]: path for path in paths}


def markdown_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[:1] + rows[2:]]


def latex_rows(text: str) -> list[list[str]]:
    body = text.split("\\toprule")[1].split("\\bottomrule")[0]
    return [
        [cell.strip() for cell in line.rstrip("\\ ").split(" & ")]
        for line in body.splitlines()
        if " & " in line
    ]


def test_export_writes_csv_markdown_and_latex(exported, tmp_path):
    assert set(exported) == {"csv", "md", "tex"}
    # no temporary file left behind
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_headers_read_like_the_paper_in_all_three_formats(exported):
    csv_header = next(csv.reader(io.StringIO(exported["csv"].read_text(encoding="utf-8"))))
    md_header = markdown_rows(exported["md"].read_text(encoding="utf-8"))[0]
    tex_header = latex_rows(exported["tex"].read_text(encoding="utf-8"))[0]
    assert csv_header == md_header == tex_header == M3_HEADERS
    assert "('C-P', 'paper')" not in exported["csv"].read_text(encoding="utf-8")


def test_the_three_formats_hold_the_same_cells(exported):
    from_csv = list(csv.reader(io.StringIO(exported["csv"].read_text(encoding="utf-8"))))
    from_md = markdown_rows(exported["md"].read_text(encoding="utf-8"))
    from_tex = latex_rows(exported["tex"].read_text(encoding="utf-8"))
    unescape = [[cell.replace("\\_", "_") for cell in row] for row in from_tex]
    assert from_csv == from_md == unescape
    # LaTeX-escaped
    assert "mscnn\\_tags\\_lqp (3 seeds)" in exported["tex"].read_text(encoding="utf-8")


def test_delta_is_ours_minus_paper(exported):
    frame = pd.read_csv(exported["csv"], index_col="method", dtype=str, keep_default_na=False)
    row = frame.loc["MS-CNN+Tags+LQP"]
    assert (
        row["C-P paper"] == "80.27"
        and row["C-P ours"] == "81.00 ± 0.12"
        and row["C-P Δ"] == "+0.73"
    )
    assert row["C-R ours"] == "60.00 ± 0.30" and row["C-R Δ"] == "-0.95"
    assert row["I-P Δ"] == "+0.00"  # equal numbers: no "-0.00"
    for metric in M3_PRINTED:  # every Δ adds up with the numbers as printed beside it
        ours = float(row[f"{metric} ours"].split(" ± ")[0])
        assert float(row[f"{metric} Δ"]) == pytest.approx(
            ours - float(row[f"{metric} paper"]), abs=1e-9
        )
    cnn = frame.loc["CNN"]
    assert (cnn["C-P ours"], cnn["C-P Δ"]) == ("50.00", "+4.14") and (
        cnn["C-R ours"],
        cnn["C-R Δ"],
    ) == ("57.00", "-0.34")
    assert cnn["C-F1 ours"] == cnn["C-F1 Δ"] == ""  # not scored: empty, not nan
    assert (
        frame.loc["MS-CNN", "C-P Δ"] == ""
        and frame.loc["MS-CNN", "reproduction"] == "mscnn: prediction file missing"
    )
    assert (
        cnn["reproduction"] == "cnn (1 seed)" and row["reproduction"] == "mscnn_tags_lqp (3 seeds)"
    )


def test_the_comparison_keeps_the_unrounded_difference():
    table = hand_made_table()
    difference = table[("difference", "C-P")] - (
        table[("reproduced", "C-P")] - table[("reported", "C-P")]
    )
    assert difference.dropna().abs().max() == 0
    assert table.loc["MS-CNN+Tags+LQP", ("difference", "C-P")] == pytest.approx(81.004 - 80.27)


def test_markdown_says_what_delta_is(exported):
    text = exported["md"].read_text(encoding="utf-8")
    assert text.startswith("**Niu et al. 2019 Table I: ")
    assert "\n- Δ = ours − paper" in text
    assert "Δ = ours − paper" in exported["tex"].read_text(encoding="utf-8")  # in the LaTeX caption
    assert (
        "Δ = ours − paper" in tables.export.__doc__
        and "Δ = ours − paper" in tables.display_table.__doc__
    )


def test_paper_flags_are_notes_and_dutta_and_lqp_headers(tmp_path):
    multi_order = tables.comparison_table(
        "multi_order_table2", load_reported("multi_order_table2"), {}
    )
    text = tables.export(multi_order, tmp_path)[1].read_text(encoding="utf-8")
    assert "- flagged in the paper: SRN [52]: printed C-F1 67.40" in text
    # Dutta's names for C-P
    assert markdown_rows(text)[0][1:4] == ["P_L paper", "P_L ours", "P_L Δ"]
    scores = {
        "MS-CNN": (pd.Series({"LQP-accuracy": 46.0, "LQP-MSE": 0.6704}), pd.Series(dtype=float), 1)
    }
    lqp = tables.comparison_table("m3_table5", load_reported("m3_table5"), scores)
    frame = pd.read_csv(tables.export(lqp, tmp_path)[0], index_col="method", dtype=str)
    assert list(frame.columns) == [
        "Accuracy paper",
        "Accuracy ours",
        "Accuracy Δ",
        "MSE paper",
        "MSE ours",
        "MSE Δ",
        "reproduction",
    ]
    assert list(frame.loc["MS-CNN", ["MSE paper", "MSE ours", "MSE Δ"]]) == [
        "0.673",
        "0.670",
        "-0.003",
    ]


def test_write_table_flattens_multiindex_columns_the_same_way(tmp_path):
    frame = pd.DataFrame(
        [[1.234, 0.5, "a_b"], [np.nan, 2.0, "c"]],
        columns=pd.MultiIndex.from_tuples([("mAP", "paper"), ("mAP", "ours"), ("", "note")]),
        index=pd.Index(["x", "y"], name="model"),
    )
    paths = write_table(frame, tmp_path / "new", "t", TableStyle(formats=("csv", "md", "tex")))
    assert [p.name for p in paths] == ["t.csv", "t.md", "t.tex"]
    assert paths[0].read_text() == "model,mAP paper,mAP ours,note\nx,1.23,0.50,a_b\ny,,2.00,c\n"
    assert markdown_rows(paths[1].read_text()) == [
        ["model", "mAP paper", "mAP ours", "note"],
        ["x", "1.23", "0.50", "a_b"],
        ["y", "", "2.00", "c"],
    ]
    assert latex_rows(paths[2].read_text())[0] == ["model", "mAP paper", "mAP ours", "note"]


def test_write_table_as_the_notebooks_use_it(tmp_path):
    # notebook 04: full precision, unnamed index read back with index_col=0
    scores = pd.DataFrame(
        {"rule": ["top-3", "LQP"], "O-P": [71.123456, 80.0]}, index=["cnn", "mscnn_lqp"]
    )
    (path,) = write_table(
        scores, tmp_path, "m3_components", TableStyle(formats=("csv",), float_format=None)
    )
    pd.testing.assert_frame_equal(pd.read_csv(path, index_col=0), scores)
    # notebook 05: two decimals, index named "method"
    table = pd.DataFrame(
        {"C-P": [59.304, 70.0]}, index=pd.Index(["CNN (BCE)", "Multi-order RNN"], name="method")
    )
    csv_path, md_path = write_table(table, tmp_path, "multi_order_table1")
    assert pd.read_csv(csv_path, index_col="method")["C-P"].tolist() == [59.30, 70.00]
    assert md_path.read_text().splitlines()[1:] == [
        "|:----------------|------:|",  # numbers right-aligned,
        "| CNN (BCE)       | 59.30 |",  # keeping their two decimals
        "| Multi-order RNN | 70.00 |",
    ]
    # notebook 06: no index, a function as float format, then overwritten in place
    sweep = pd.DataFrame(
        {
            "proportion": [0.1, 1.0],
            "loss": ["bce", "partial_bce"],
            "mAP": [0.61234, 0.7],
            "epochs": [3, 3],
        }
    )
    style = TableStyle(formats=("csv",), index=False, float_format=lambda v: f"{v:.3g}")
    (path,) = write_table(sweep, tmp_path, "partial_labels", style)
    assert path.read_text().splitlines() == [
        "proportion,loss,mAP,epochs",
        "0.1,bce,0.612,3",
        "1,partial_bce,0.7,3",
    ]
    write_table(sweep.head(1), tmp_path, "partial_labels", TableStyle(("csv",), index=False))
    assert len(pd.read_csv(path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m3_components.csv",
        "multi_order_table1.csv",
        "multi_order_table1.md",
        "partial_labels.csv",
    ]


def test_write_table_refuses_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="xlsx"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path, "t", TableStyle(formats=("xlsx",)))


def test_flat_header():
    assert flat_header(("C-P", "paper")) == "C-P paper"
    assert flat_header(("", "reproduction")) == "reproduction"
    assert flat_header("mAP") == "mAP"
    assert flat_header(("loss", 0.5)) == "loss 0.5"


def test_the_reproduced_baselines_sit_beside_their_copied_rows():
    from annokit.methods.baselines.registry import METHODS

    mapped = {
        (name, row): model
        for name, rows in tables.ROW_MODELS.items()
        for row, model in rows.items()
        if model.startswith("baseline_")
    }
    # all eight, and nothing else
    assert {model for model in mapped.values()} == {m.file for m in METHODS.values()}
    printed = {
        name: set(load_reported(name)["method"])
        for name in ("m3_table3", "m3_table4", "multi_order_table2", "multi_order_table3")
    }
    for (name, row), model in mapped.items():
        assert any(row in printed[table] for table in printed if table.startswith(name[:2])), (
            row,
            model,
        )
    assert tables.ROW_MODELS["m3_table3"]["CNN+logistic [25]"] == "baseline_logistic"
    assert (
        tables.ROW_MODELS["multi_order_table3"]["Order-free RNN [4]"] == "baseline_order_free_rnn"
    )


def test_each_row_is_compared_under_the_definition_it_was_printed_with(tmp_path):
    # hand-made scores where our per-image means (S-*) and overall sums (O-*) differ
    ours = pd.Series(
        {
            "C-P": 60.0,
            "C-R": 50.0,
            "C-F1": 54.55,
            "O-P": 71.0,
            "O-R": 72.0,
            "O-F1": 71.5,
            "S-P": 81.0,
            "S-R": 82.0,
            "S-F1": 81.5,
        }
    )
    scores = {
        "MS-CNN+LQP [36]": (ours, ours * 0 + 0.5, 3),
        "TagProp [12]": (ours, ours * np.nan, 1),
        "LSEP [29]": (ours, ours * 0 + 0.2, 3),
    }
    table = tables.comparison_table(
        "multi_order_table2", load_reported("multi_order_table2"), scores
    )
    # MS-CNN+LQP was copied from M3 with overall sums: ours is the overall sum too;
    # TagProp and LSEP: means over images
    assert table.loc["MS-CNN+LQP [36]", ("reproduced", "S-P")] == 71.0
    assert (
        table.loc["TagProp [12]", ("reproduced", "S-P")] == 81.0
        and table.loc["LSEP [29]", ("reproduced", "S-F1")] == 81.5
    )
    # per-label columns are the same in both
    assert table.loc["MS-CNN+LQP [36]", ("reproduced", "C-P")] == 60.0
    definition = table[("", "definition")]
    assert definition["MS-CNN+LQP [36]"].startswith(
        "paper: overall (copied from [36]); ours: P_I, R_I, F1_I as sums"
    )
    assert (
        definition["TagProp [12]"]
        == "paper: per-image mean; ours: P_I, R_I, F1_I as means over test images (S-*, Sec. 4.2)"
    )
    assert definition["LSEP [29]"].startswith("paper: unknown; ours: P_I, R_I, F1_I as means")
    frame = pd.read_csv(
        tables.export(table, tmp_path)[0], index_col="method", dtype=str, keep_default_na=False
    )
    assert list(frame.columns[-2:]) == ["reproduction", "definition"]
    assert (
        frame.loc["MS-CNN+LQP [36]", "P_I ours"] == "71.00 ± 0.50"
        and frame.loc["TagProp [12]", "P_I ours"] == "81.00"
    )
    assert frame.loc["TagProp [12]", "reproduction"] == "baseline_tagprop (1 seed)"
    markdown = (tmp_path / "multi_order_table2.md").read_text(encoding="utf-8")
    assert (
        "- definitions: P_L, R_L, F1_L: means over labels; P_I, R_I, F1_I: means over test images"
        in markdown
    )
    # M3's tables define I-* one way for every row: a note, no column
    m3 = tables.comparison_table(
        "m3_table3", load_reported("m3_table3"), {"CNN+logistic [25]": (ours, ours * np.nan, 1)}
    )
    assert ("", "definition") not in m3.columns and m3.loc[
        "CNN+logistic [25]", ("reproduced", "O-P")
    ] == 71.0
    assert tables.definition_note(m3) == [f"definitions: {tables.DEFINITION_NOTES['O-P']}"]
