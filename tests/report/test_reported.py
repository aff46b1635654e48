"""The transcribed result tables: shape, ranges, spot values, and the arithmetic flags."""

import math

import pandas as pd
import pytest

from annokit.evaluation.metrics import ANNOTATION_KEYS, PAPER_COLUMNS
from annokit.paths import reported_dir
from annokit.report.reported import (
    FLAG_COLUMNS,
    METRIC_COLUMNS,
    PERCENT_COLUMNS,
    REPORTED_DATASETS,
    REPORTED_TABLES,
    ROW_KEYS,
    all_arithmetic_flags,
    arithmetic_flags,
    load_reported,
    with_paper_columns,
)

# (rows, columns incl. method and descriptive columns), counted from the papers.
EXPECTED_SHAPES = {
    "m3_table1": (6, 10),
    "m3_table2": (6, 10),
    "m3_table3": (10, 10),
    "m3_table4": (8, 10),
    "m3_table5": (2, 3),
    "m3_table6": (2, 3),
    "multi_order_table1": (5, 9),
    "multi_order_table2": (17, 10),
    "multi_order_table3": (12, 10),
    "multi_order_table4": (4, 3),
    "summaries_benchmarks": (18, 7),
    "durand2019_partial_labels": (9, 6),
    "wang2016_table1": (1, 8),
    "wang2016_table2": (1, 8),
    "wang2016_table3": (1, 23),
}

M3_METRICS = ["C-P", "C-R", "C-F1", "O-P", "O-R", "O-F1", "H-F1"]
MULTI_ORDER_METRICS = ["C-P", "C-R", "C-F1", "S-P", "S-R", "S-F1"]
EXPECTED_METRICS = {
    **{f"m3_table{i}": M3_METRICS for i in (1, 2, 3, 4)},
    "m3_table5": ["LQP-accuracy", "LQP-MSE"],
    "m3_table6": ["LQP-accuracy", "LQP-MSE"],
    **{f"multi_order_table{i}": MULTI_ORDER_METRICS for i in (1, 2, 3)},
    "multi_order_table4": ["top1"],
    "summaries_benchmarks": [],
    "durand2019_partial_labels": [],
    "wang2016_table1": ["C-P", "C-R", "C-F1", "O-P", "O-R", "O-F1"],
    "wang2016_table2": ["C-P", "C-R", "C-F1", "O-P", "O-R", "O-F1"],
    "wang2016_table3": ["mAP"],
}

# Established by reading every row (see results/reported/README.md); a transcription typo
# shows up as a new flag.
EXPECTED_FLAGS = {
    ("m3_table2", "MS-CNN", "O-F1"),  # I-F1 63.02 above both I-P 61.06 and I-R 62.15: paper typo
    ("m3_table3", "SINN [25]", "C-F1"),  # copied row, 59.44 vs 59.28
    ("multi_order_table2", "SRN [52]", "C-F1"),  # copied row, 67.40 vs 69.58 (other F1 definition)
    ("multi_order_table2", "ACfs [13]", "C-F1"),  # copied row, 72.20 vs 72.57
    ("multi_order_table2", "Attentive RNN [26]", "S-F1"),  # copied row, 71.80 vs 71.93
}


def value(name, method, key):
    frame = load_reported(name)
    row = frame[frame["method"] == method]
    assert len(row) == 1, (name, method)
    return row.iloc[0][key]


def test_registry_matches_files():
    files = {p.name for p in reported_dir().glob("*.csv")}
    assert files == {spec.csv for spec in REPORTED_TABLES.values()}
    assert set(EXPECTED_SHAPES) == set(REPORTED_TABLES) == set(REPORTED_DATASETS) == set(ROW_KEYS)
    readme = (reported_dir() / "README.md").read_text()
    for spec in REPORTED_TABLES.values():
        assert spec.csv in readme


@pytest.mark.parametrize("name", sorted(REPORTED_TABLES))
def test_table_loads_with_expected_shape(name):
    frame = load_reported(name)
    assert frame.shape == EXPECTED_SHAPES[name]
    assert frame.attrs["table"] == name
    assert [c for c in frame.columns if c in METRIC_COLUMNS] == EXPECTED_METRICS[name]
    # every CSV column the paper prints has its printed header recorded
    spec = REPORTED_TABLES[name]
    for key in EXPECTED_METRICS[name]:
        assert key in spec.columns
    assert not frame.duplicated(list(ROW_KEYS[name])).any()


@pytest.mark.parametrize("name", sorted(REPORTED_TABLES))
def test_values_in_range(name):
    frame = load_reported(name)
    for column in frame.columns:
        if column in PERCENT_COLUMNS:
            values = frame[column].dropna()
            assert ((values >= 0) & (values <= 100)).all(), column
    if "value" in frame.columns:
        assert frame["value"].between(0, 100).all()
    if "LQP-MSE" in frame.columns:
        assert (frame["LQP-MSE"] > 0).all()


def test_paper_column_names_match_kit_mapping():
    for name, spec in REPORTED_TABLES.items():
        paper = "m3" if name.startswith("m3_table") and name[-1] in "1234" else None
        paper = "multi_order" if name[:-1] == "multi_order_table" and name[-1] in "123" else paper
        if paper is None:
            continue
        for printed, key in PAPER_COLUMNS[paper].items():
            assert spec.columns[key] == printed, (name, key)
    renamed = with_paper_columns(load_reported("m3_table1"), "m3_table1")
    assert {"Models", "I-P", "I-F1", "H-F1"} <= set(renamed.columns)
    renamed = with_paper_columns(load_reported("multi_order_table2"), "multi_order_table2")
    assert {"P_I", "F1_L", "definition"} <= set(renamed.columns)


def test_missing_values_only_where_the_paper_has_none():
    for name in REPORTED_TABLES:
        frame = load_reported(name)
        metrics = [c for c in frame.columns if c in METRIC_COLUMNS]
        missing = {(m, c) for c in metrics for m in frame.loc[frame[c].isna(), "method"]}
        if name == "multi_order_table2":
            assert missing == {("S-Cls [32]", c) for c in ("C-P", "C-R", "S-P", "S-R")}
        elif name == "multi_order_table3":
            assert missing == {
                (m, c) for m in ("CMA [51]", "MS-CMA [51]") for c in ("C-P", "C-R", "S-P", "S-R")
            }
        else:
            assert not missing, name


def test_descriptive_columns():
    for i in (1, 2, 3, 4):
        frame = load_reported(f"m3_table{i}")
        assert set(frame["multi_modal"]) <= {"yes", "no"}
        assert set(frame["quantity_prediction"]) <= {"yes", "no"}
    t1 = load_reported("m3_table1").set_index("method")
    assert t1.loc["MS-CNN+LQP", ["multi_modal", "quantity_prediction"]].tolist() == ["no", "yes"]
    assert t1.loc["MS-CNN+Tags", ["multi_modal", "quantity_prediction"]].tolist() == ["yes", "no"]
    t3 = load_reported("m3_table3").set_index("method")
    assert t3.loc["TagNeighboor [23]", ["multi_modal", "quantity_prediction"]].tolist() == [
        "yes",
        "no",
    ]
    assert t3.loc["RIA [26]", ["multi_modal", "quantity_prediction"]].tolist() == ["no", "yes"]
    for name, n_cnn in (("multi_order_table2", 10), ("multi_order_table3", 7)):
        frame = load_reported(name)
        assert (frame["type"] == "CNN").sum() == n_cnn
        assert set(frame["type"]) == {"CNN", "CNN-RNN"}


def test_definition_column():
    allowed = {"per-image mean", "overall (copied from [36])", "unknown"}
    for name in ("multi_order_table1", "multi_order_table2", "multi_order_table3"):
        frame = load_reported(name)
        assert set(frame["definition"]) <= allowed
        assert frame["definition_note"].notna().all()
        proposed = frame[frame["method"] == "Multi-order RNN (Proposed)"]
        assert proposed["definition"].tolist() == ["per-image mean"]
    t1 = load_reported("multi_order_table1").set_index("method")
    assert t1.loc["CNN (Binary Cross-Entropy)", "definition"] == "overall (copied from [36])"
    t2 = load_reported("multi_order_table2").set_index("method")
    assert t2.loc["MS-CNN+LQP [36]", "definition"] == "overall (copied from [36])"
    assert t2.loc["TagProp [12]", "definition"] == "per-image mean"


def test_copied_rows_are_identical_to_m3():
    """The evidence behind the 'overall (copied from [36])' marks."""
    pairs = [
        ("multi_order_table1", "CNN (Binary Cross-Entropy)", "m3_table4", "CNN+logistic [25]"),
        ("multi_order_table2", "MS-CNN+LQP [36]", "m3_table2", "MS-CNN+LQP"),
    ]
    m3_keys = ["C-P", "C-R", "C-F1", "O-P", "O-R", "O-F1"]
    for multi_order, m_row, m3, m3_row in pairs:
        a = [value(multi_order, m_row, k) for k in MULTI_ORDER_METRICS]
        b = [value(m3, m3_row, k) for k in m3_keys]
        assert a == b


def test_spot_values():
    assert value("m3_table1", "MS-CNN+Tags+LQP", "C-F1") == 69.29
    assert value("m3_table1", "MS-CNN+Tags+LQP", "H-F1") == 74.47
    assert value("m3_table1", "CNN", "O-R") == 70.54
    assert value("m3_table2", "MS-CNN", "O-P") == 61.06
    assert value("m3_table2", "MS-CNN", "O-R") == 62.15
    assert value("m3_table2", "MS-CNN", "O-F1") == 63.02
    assert value("m3_table2", "Upper bound (Ours)", "O-F1") == 77.15
    assert value("m3_table3", "SR-CNN-RNN [24]", "H-F1") == 71.35
    assert value("m3_table3", "CNN-RNN [27]", "C-F1") == 34.70
    assert value("m3_table4", "CNN+logistic [25]", "O-F1") == 63.30
    assert value("m3_table4", "RIA [26]", "C-R") == 54.07
    assert value("m3_table5", "MS-CNN+Tags", "LQP-MSE") == 0.437
    assert value("m3_table6", "MS-CNN", "LQP-accuracy") == 46.27
    assert value("multi_order_table1", "CNN-RNN (rare-first)", "C-F1") == 63.43
    assert value("multi_order_table2", "SRN [52]", "S-P") == 87.40
    assert value("multi_order_table2", "S-Cls [32]", "S-F1") == 74.00
    assert value("multi_order_table2", "PLA [50]", "C-R") == 61.96
    assert value("multi_order_table3", "Multi-order RNN (Proposed)", "S-F1") == 74.74
    assert value("multi_order_table3", "LSEP [29]", "C-P") == 66.70
    t4 = load_reported("multi_order_table4").set_index(["method", "dataset"])["top1"]
    assert t4[("SR-CNN-RNN", "NUS-WIDE")] == 68.06
    assert t4[("Multi-order RNN", "MS-COCO")] == 93.49
    s = load_reported("summaries_benchmarks")
    keyed = s.dropna(subset=["key"])
    assert keyed[
        (keyed["paper"] == "wang2016_cnn_rnn") & (keyed["dataset"] == "MS-COCO 2014 (val)")
    ]["value"].tolist() == [61.2]
    assert keyed[
        (keyed["paper"] == "durand2019_partial_labels") & (keyed["dataset"] == "NUS-WIDE (test)")
    ]["value"].tolist() == [47.4]
    assert keyed[keyed["metric"] == "Overall F1 Score (OF1)"][["value", "key"]].values.tolist() == [
        [77.1, "O-F1"]
    ]
    assert s["key"].isna().sum() == 2
    assert set(s["key"].dropna()) <= set(ANNOTATION_KEYS) | {"mAP"}


def test_repeated_rows_agree():
    for a, b in (("m3_table1", "m3_table3"), ("m3_table2", "m3_table4")):
        for row_a, row_b in (
            ("Upper bound (Ours)", "Upper bound (Ours)"),
            ("MS-CNN+Tags+LQP", "Ours"),
        ):
            assert [value(a, row_a, k) for k in M3_METRICS] == [
                value(b, row_b, k) for k in M3_METRICS
            ]
    row = "Multi-order RNN (Proposed)"
    assert [value("multi_order_table1", row, k) for k in MULTI_ORDER_METRICS] == [
        value("multi_order_table2", row, k) for k in MULTI_ORDER_METRICS
    ]


def test_prose_numbers_agree_with_tables():
    hf = lambda t, m: value(t, m, "H-F1")  # noqa: E731
    # M3 Sec. IV-B: LQP gains (10.42 / 6.18) and tag gains (8.74 / 4.86) in H-F1
    assert round(hf("m3_table1", "MS-CNN+Tags+LQP") - hf("m3_table1", "MS-CNN+Tags"), 2) == 10.42
    assert round(hf("m3_table2", "MS-CNN+Tags+LQP") - hf("m3_table2", "MS-CNN+Tags"), 2) == 6.18
    assert round(hf("m3_table1", "MS-CNN+Tags+LQP") - hf("m3_table1", "MS-CNN+LQP"), 2) == 8.74
    assert round(hf("m3_table2", "MS-CNN+Tags+LQP") - hf("m3_table2", "MS-CNN+LQP"), 2) == 4.86
    # Multi-order RNN Sec. 4.4
    prop = "Multi-order RNN (Proposed)"
    assert (
        round(
            value("multi_order_table2", "ACfs [13]", "C-F1")
            - value("multi_order_table2", prop, "C-F1"),
            2,
        )
        == 2.07
    )
    assert (
        round(
            value("multi_order_table3", prop, "C-F1")
            - value("multi_order_table3", "PLA [50]", "C-F1"),
            2,
        )
        == 1.23
    )
    assert (
        round(
            value("multi_order_table2", prop, "S-F1")
            - value("multi_order_table2", "ACfs [13]", "S-F1"),
            2,
        )
        == 3.81
    )
    assert (
        round(
            value("multi_order_table3", prop, "S-F1")
            - value("multi_order_table3", "PLA [50]", "S-F1"),
            2,
        )
        == 2.37
    )
    t1 = load_reported("multi_order_table1").set_index("method")
    baselines = t1.drop(index=prop)
    assert round(100 * (t1.loc[prop, "C-F1"] / baselines["C-F1"].max() - 1), 1) == 10.6
    assert round(100 * (t1.loc[prop, "S-F1"] / baselines["S-F1"].max() - 1), 1) == 17.6


def test_arithmetic_flags_match_reading():
    flags = all_arithmetic_flags()
    assert list(flags.columns) == list(FLAG_COLUMNS)
    assert set(zip(flags["table"], flags["method"], flags["check"])) == EXPECTED_FLAGS
    assert len(flags) == len(EXPECTED_FLAGS)
    ms_cnn = flags[(flags["table"] == "m3_table2") & (flags["method"] == "MS-CNN")].iloc[0]
    assert ms_cnn["printed"] == 63.02
    assert ms_cnn["recomputed"] == pytest.approx(61.60, abs=0.005)
    assert ms_cnn["difference"] == pytest.approx(1.42, abs=0.005)


def test_arithmetic_flags_never_modify_the_frame():
    frame = load_reported("m3_table2")
    before = frame.copy()
    arithmetic_flags(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_arithmetic_flags_hand_made():
    frame = pd.DataFrame(
        {
            "method": ["consistent", "inconsistent", "missing"],
            "C-P": [60.00, 61.06, math.nan],
            "C-R": [40.00, 62.15, 50.00],
            "C-F1": [48.00, 63.02, 50.00],  # hm(60, 40) = 48 exactly
            "O-P": [70.00, 70.00, 70.00],
            "O-R": [70.00, 70.00, 70.00],
            "O-F1": [70.00, 70.00, 70.00],
            "H-F1": [57.65, 66.33, 58.33],  # hm(48, 70) = 56.949 -> 57.65 is wrong
        }
    )
    flags = arithmetic_flags(frame, table="hand")
    triples = set(zip(flags["table"], flags["method"], flags["check"]))
    assert triples == {("hand", "inconsistent", "C-F1"), ("hand", "consistent", "H-F1")}
    # H-F1 of "inconsistent" is the harmonic mean of the printed (wrong) C-F1 and O-F1: not flagged
    # "missing" has no C-P: its C-F1 is skipped, its H-F1 (hm(50, 70) = 58.33) is fine

    ok = pd.DataFrame({"method": ["a"], "C-P": [58.30], "C-R": [60.30], "C-F1": [59.28]})
    assert arithmetic_flags(ok, table="t").empty
    # rounding: 2 * 33.33 * 66.67 / 100 = 44.44; printed 44.45 is within rounding, 44.50 is not
    edge = pd.DataFrame(
        {"method": ["a", "b"], "C-P": [33.33, 33.33], "C-R": [66.67, 66.67], "C-F1": [44.45, 44.50]}
    )
    assert arithmetic_flags(edge, table="t")["method"].tolist() == ["b"]
    # one-decimal rows padded with a zero carry a one-decimal rounding interval
    # hm = 34.73
    padded = pd.DataFrame({"method": ["a"], "C-P": [40.50], "C-R": [30.40], "C-F1": [34.70]})
    assert arithmetic_flags(padded, table="t").empty
    assert not arithmetic_flags(padded.assign(**{"C-R": [30.41]}), table="t").empty
    # a larger tolerance silences a small miss, never a large one
    assert arithmetic_flags(edge, tolerance=0.1, table="t").empty
    assert set(all_arithmetic_flags(tolerance=0.5)["method"]) == {"MS-CNN", "SRN [52]"}


# Wang et al. 2016 (CNN-RNN): the row each file holds, against the copies the kit can read.
WANG_AT_K = {
    # table: (M3's copy of the row, its dataset in the benchmark list, the list's C-F1 label)
    "wang2016_table1": ("m3_table3", "NUS-WIDE 81 concept labels (test)", "F1 (Class)"),
    "wang2016_table2": ("m3_table4", "MS-COCO (val)", "F1 (C)"),
}


@pytest.mark.parametrize("name", sorted(WANG_AT_K))
def test_wang_rows_equal_the_copies_m3_and_the_benchmark_list_print(name):
    m3_table, dataset, label = WANG_AT_K[name]
    metrics = ["C-P", "C-R", "C-F1", "O-P", "O-R", "O-F1"]
    ours = load_reported(name).set_index("method").loc["CNN-RNN", metrics]
    copy = load_reported(m3_table).set_index("method").loc["CNN-RNN [27]", metrics]
    assert ours.tolist() == copy.tolist()
    listed = load_reported("summaries_benchmarks")
    row = listed[(listed["paper"] == "wang2016_cnn_rnn") & (listed["dataset"] == dataset)]
    assert row[row["metric"] == label]["value"].tolist() == [ours["C-F1"]]
    assert arithmetic_flags(load_reported(name)).empty


def test_wang_voc_row_averages_to_its_map_and_the_benchmark_list():
    frame = load_reported("wang2016_table3")
    spec = REPORTED_TABLES["wang2016_table3"]
    classes = [c for c in frame.columns if c not in ("method", "source", "mAP")]
    assert len(classes) == 20 and all(spec.columns[c] == c for c in classes)
    row = frame.iloc[0]
    assert round(sum(row[c] for c in classes) / 20, 1) == row["mAP"] == 84.0
    listed = load_reported("summaries_benchmarks")
    voc = listed[(listed["paper"] == "wang2016_cnn_rnn") & (listed["metric"] == "mAP")]
    assert 84.0 in voc["value"].tolist()
    assert all(spec.paper == REPORTED_TABLES[n].paper for n in WANG_AT_K)
