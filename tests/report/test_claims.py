"""The claims table: the holds rule, differences over seeds, the papers' figures, and a
table from fake prediction files."""

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from annokit.artifacts.predictions import Predictions, save_predictions
from annokit.evaluation.scoring import score
from annokit.report import claims
from annokit.report.claim_list import CLAIMS
from annokit.report.mechanisms import dependency_agreement, generator_rules
from annokit.report.verdict import difference, holds


@pytest.mark.parametrize(
    ("measured", "spread", "paper", "expected"),
    [
        (3.0, 1.0, 1.81, "yes"),  # paper's sign, beyond two spreads
        (-3.0, 1.0, 1.81, "no"),  # opposite sign, beyond two spreads
        (1.5, 1.0, 1.81, "unclear"),  # within two spreads
        (2.0, 1.0, 1.81, "unclear"),  # exactly two spreads is not beyond them
        (3.0, math.nan, 1.81, "unclear"),  # a single run: spread unknown
        (math.nan, 1.0, 1.81, "unclear"),  # not run
        (3.0, 1.0, "qualitative", "yes"),  # no number: the direction the claim states
        (3.0, 1.0, -2.0, "no"),  # the paper's own difference is negative
        (-3.0, 1.0, -2.0, "yes"),
        (0.5, 0.0, 1.0, "yes"),  # identical seeds: any difference counts
    ],
)
def test_holds_rule(measured, spread, paper, expected):
    assert holds(measured, spread, paper) == expected


def test_difference_paired_unpaired_and_single_run():
    paired = difference(
        {"": 1.0, "@seed1": 3.0, "@seed2": 5.0}, {"": 0.0, "@seed1": 1.0, "@seed2": 2.0}
    )
    assert (paired.measured, paired.spread, paired.seeds) == (
        pytest.approx(2.0),
        pytest.approx(1.0),
        "3 paired",
    )
    unpaired = difference({"": 1.0, "@seed1": 3.0}, {"": 0.0, "@seed2": 2.0})
    assert unpaired.measured == pytest.approx(1.0)
    assert unpaired.spread == pytest.approx(2.0)  # √(√2² + √2²)
    assert "not paired" in unpaired.note
    single = difference({"": 5.0}, {"": 1.0, "@seed1": 2.0, "@seed2": 3.0}, ("mscnn", "cnn"))
    assert single.measured == pytest.approx(3.0) and math.isnan(single.spread)
    assert single.note.startswith("mscnn: a single run") and single.seeds == "1 vs 3"
    assert difference({}, {"": 1.0}).note == "not run"


def test_paper_figures_come_from_the_reported_tables_of_the_run_dataset():
    by_name = {c.claim: c for c in CLAIMS}
    value, where = claims.paper_figure(by_name["MS-CNN beats CNN (C-F1)"], "nuswide")
    assert value == pytest.approx(52.77 - 50.96) and where == "M3 Table I: MS-CNN − CNN"
    assert claims.paper_figure(by_name["MS-CNN beats CNN (O-F1)"], "coco2014")[0] == pytest.approx(
        63.02 - 62.17
    )
    best, where = claims.paper_figure(by_name["tags and LQP together are best (C-F1)"], "nuswide")
    # the best of the other rows
    assert best == pytest.approx(69.29 - 60.55) and "MS-CNN+Tags" in where
    orders, where = claims.paper_figure(
        by_name["Multi-order RNN beats every fixed order (S-F1)"], "nuswide"
    )
    assert orders == pytest.approx(80.11 - 68.13)
    assert (
        where == "Multi-order RNN Table 1: Multi-order RNN (Proposed) − CNN-RNN (frequent-first) "
        "(printed for MS-COCO only)"
    )
    assert claims.paper_figure(by_name["Multi-order RNN's top-1 beats rare-first"], "nuswide")[
        0
    ] == pytest.approx(84.05 - 68.06)
    assert claims.paper_figure(by_name["Multi-order RNN's top-1 beats rare-first"], "coco2014")[
        0
    ] == pytest.approx(93.49 - 81.44)
    assert claims.paper_figure(by_name["tags make LQP's count more accurate"], "coco2014")[
        0
    ] == pytest.approx(47.96 - 46.27)
    assert (
        claims.paper_figure(by_name["partial-BCE beats BCE at 10 % known labels"], "nuswide")[0]
        == "qualitative"
    )


def emptied(y: np.ndarray, n: int) -> np.ndarray:
    """The truth with the labels of the first ``n`` images removed."""
    out = y.copy()
    out[:n] = False
    return out


def save(run_dir, name, rows, annotation, **extra):
    save_predictions(
        Predictions(name, rows, annotation.astype(float), annotation, "test", **extra), run_dir
    )


@pytest.fixture()
def tiny_claims_run(make_tiny_run, tmp_path):
    run_dir, index = make_tiny_run(tmp_path)
    rows, y = index.rows("test"), index.label_matrix("test")
    counts = y.sum(axis=1).astype(float)
    first = np.where(y.any(axis=1), y.argmax(axis=1), -1)[:, None]
    save(run_dir, "cnn", rows, emptied(y, 12))
    save(run_dir, "mscnn", rows, emptied(y, 10))
    for suffix, n in (("", 6), ("@seed1", 7), ("@seed2", 6)):
        save(run_dir, f"mscnn_tags{suffix}", rows, emptied(y, n))
        save(run_dir, f"mscnn_lqp{suffix}", rows, emptied(y, n + 2), counts=counts)
        # perfect labels, every count one too many
        save(run_dir, f"mscnn_tags_lqp{suffix}", rows, y, counts=counts + 1)
    save(run_dir, "multi_order_rnn", rows, y, sequences=first)
    save(run_dir, "multi_order_rnn@seed1", rows, emptied(y, 1), sequences=first)
    save(run_dir, "cnn_rnn_rare_first", rows, emptied(y, 5), sequences=np.full_like(first, -1))
    no_sky = y.copy()
    # breaks "sun ⇒ sky", "clouds ⇒ sky" ... wherever they apply
    no_sky[:, index.label_names.index("sky")] = False
    save(run_dir, "cnn_threshold", rows, no_sky)
    sweep = pd.DataFrame(
        [
            {"loss": loss, "proportion": p, "seed": seed, "mAP": value + 0.01 * seed}
            for seed in (0, 1)
            for p in (0.1, 1.0)
            for loss, value in (("partial_bce", 0.6), ("bce_negative", 0.4), ("bce_ignore", 0.5))
        ]
    )
    return run_dir, index, sweep


def test_paper_claims_table_from_fake_prediction_files(tiny_claims_run):
    run_dir, index, sweep = tiny_claims_run
    table = claims.paper_claims(run_dir, index, tables={"partial_labels": sweep})
    assert list(table.columns[:5]) == ["claim", "paper", "measured", "spread", "holds"]
    assert list(table["claim"]) == [c.claim for c in CLAIMS]
    row = table.set_index("claim").loc
    c_f1 = lambda name: score(index, _load(run_dir, name))["C-F1"]

    tags = row["tags help: MS-CNN+Tags beats MS-CNN (C-F1)"]
    expected = np.mean([c_f1(f"mscnn_tags{s}") for s in ("", "@seed1", "@seed2")]) - c_f1("mscnn")
    assert tags["measured"] == pytest.approx(expected) and expected > 0
    assert math.isnan(tags["spread"]) and tags["holds"] == "unclear" and tags["seeds"] == "3 vs 1"
    assert "mscnn: a single run" in tags["note"] and tags["paper"] == pytest.approx(60.55 - 52.77)

    best = row["tags and LQP together are best (C-F1)"]
    gaps = [c_f1(f"mscnn_tags_lqp{s}") - c_f1(f"mscnn_tags{s}") for s in ("", "@seed1", "@seed2")]
    assert best["models"] == "mscnn_tags_lqp vs mscnn_tags"  # the best of the four others here
    assert (best["measured"], best["spread"]) == (
        pytest.approx(np.mean(gaps)),
        pytest.approx(np.std(gaps, ddof=1)),
    )
    assert best["holds"] == "yes" and best["seeds"] == "3 paired"

    lqp = row["tags make LQP's count more accurate"]
    # m̂ is at least 1, so an image without labels is missed
    right = 100 * index.label_matrix("test").any(axis=1).mean()
    assert (lqp["measured"], lqp["spread"], lqp["holds"]) == (
        pytest.approx(-right),
        pytest.approx(0),
        "no",
    )

    orders = row["Multi-order RNN beats every fixed order (C-F1)"]
    assert (
        orders["models"] == "multi_order_rnn vs cnn_rnn_rare_first" and orders["holds"] == "unclear"
    )
    assert row["Multi-order RNN's top-1 beats rare-first"]["measured"] == pytest.approx(right)

    partial = row["partial-BCE beats BCE at 10 % known labels"]
    assert partial["models"] == "partial_bce vs bce_ignore" and partial["paper"] == "qualitative"
    assert (partial["measured"], partial["spread"], partial["holds"]) == (
        pytest.approx(10),
        pytest.approx(0),
        "yes",
    )

    small = row["MS-CNN's recall gain is larger on small objects than on large ones"]
    # CNN and MS-CNN are single runs here
    assert np.isfinite(small["measured"]) and small["holds"] == "unclear"

    rules = row["Multi-order RNN's sets follow the label dependencies more often than the CNN's"]
    followed = dependency_agreement(
        _load(run_dir, "cnn_threshold").annotation,
        generator_rules(index.label_names),
        index.label_names,
    ).loc["all rules", "followed"]
    # the RNN's sets are true sets here
    assert followed < 100 and rules["measured"] == pytest.approx(100 - followed)
    assert rules["holds"] == "unclear" and rules["seeds"] == "2 vs 1"


def _load(run_dir, name):
    from annokit.artifacts.predictions import load_predictions, prediction_path

    return load_predictions(prediction_path(run_dir, name))


def test_paper_claims_without_any_prediction_file_says_not_run(make_tiny_run, tmp_path):
    run_dir, index = make_tiny_run(tmp_path)
    table = claims.paper_claims(run_dir, index)
    assert (table["holds"] == "unclear").all()
    assert table["note"].str.startswith("not run").all()
    assert table["measured"].isna().all()


def test_mechanism_claims_need_the_demo(make_tiny_run, tmp_path):
    run_dir, index = make_tiny_run(tmp_path)
    elsewhere = tmp_path / "real" / "nuswide"
    elsewhere.mkdir(parents=True)
    real = replace(index, meta={**index.meta, "data_root": str(elsewhere)})
    notes = claims.paper_claims(run_dir, real).set_index("claim")["note"]
    assert notes["MS-CNN's recall gain is larger on small objects than on large ones"].startswith(
        "not run: no object sizes"
    )
    assert (
        "not the demo"
        in notes["Multi-order RNN's sets follow the label dependencies more often than the CNN's"]
    )


def test_table_values_pick_the_model_rows_at_the_setting_and_average_within_a_seed():
    from annokit.report.claim_types import TableMeasure

    table = pd.DataFrame(
        [
            {"strategy": "partial", "budget": 0.1, "split": "test", "seed": 0, "mAP": 0.50},
            {"strategy": "partial", "budget": 0.1, "split": "test", "seed": 0, "mAP": 0.60},
            {"strategy": "partial", "budget": 0.1, "split": "val", "seed": 0, "mAP": 0.99},
            {"strategy": "partial", "budget": 0.5, "split": "test", "seed": 0, "mAP": 0.99},
            {"strategy": "partial", "budget": 0.1, "split": "test", "seed": 1, "mAP": 0.70},
            {"strategy": "subset", "budget": 0.1, "split": "test", "seed": 1, "mAP": 0.40},
        ]
    )
    measure = TableMeasure("t", "06", key="strategy", at={"budget": 0.1, "split": "test"})
    assert claims.table_values(table, measure, "partial") == pytest.approx({"0": 55.0, "1": 70.0})
    assert claims.table_values(table, measure, "subset") == pytest.approx({"1": 40.0})
    assert claims.table_values(table, measure, "noisy") == {}
    # a table without the setting's column has nothing to give
    assert claims.table_values(table.drop(columns="split"), measure, "partial") == {}


def test_a_claim_whose_table_is_missing_or_empty_at_its_setting_is_not_run(tiny_claims_run):
    run_dir, index, sweep = tiny_claims_run
    partial = [c for c in CLAIMS if c.measure is not None and c.measure.table == "partial_labels"]
    missing = claims.paper_claims(run_dir, index, tables={}, claims=tuple(partial))
    assert (missing["note"] == "not run: no partial_labels table (notebook 06)").all()
    assert (missing["holds"] == "unclear").all()
    elsewhere = sweep[sweep["proportion"] == 1.0]
    empty = claims.paper_claims(
        run_dir, index, tables={"partial_labels": elsewhere}, claims=tuple(partial)
    )
    assert empty["note"].str.startswith("not run: the partial_labels table has no rows at").all()


def test_the_cnn_rnn_claims_compare_the_three_highest_scores_not_the_files_own_sets(
    make_tiny_run, tmp_path
):
    """Wang et al.'s k = 3 comparison: a file whose own set is empty but whose scores rank the
    truth first is judged by its top 3."""
    from annokit.evaluation.decision import top_k
    from annokit.evaluation.metrics import annotation_scores

    run_dir, index = make_tiny_run(tmp_path)
    rows, y = index.rows("test"), index.label_matrix("test")
    noise = np.random.default_rng(0).random(y.shape)
    for suffix, scale in (("", 0.5), ("@seed1", 0.4)):
        scores = y + scale * noise  # the truth ranks first
        save_predictions(
            Predictions(f"wang_cnn_rnn{suffix}", rows, scores, np.zeros_like(y), "beam"), run_dir
        )
        save_predictions(
            Predictions(f"cnn{suffix}", rows, noise, top_k(noise, 3), "top-3"), run_dir
        )
    cnn_rnn = [c for c in CLAIMS if c.better == "wang_cnn_rnn"]
    table = claims.paper_claims(run_dir, index, claims=tuple(cnn_rnn)).set_index("claim")
    row = table.loc["CNN-RNN beats the independent-classifier CNN (C-F1, top 3)"]
    expected = np.mean(
        [
            100 * annotation_scores(y, top_k(y + s * noise, 3))["C-F1"]
            - 100 * annotation_scores(y, top_k(noise, 3))["C-F1"]
            for s in (0.5, 0.4)
        ]
    )
    assert row["measured"] == pytest.approx(expected) and row["paper"] == "qualitative"
    assert row["measured"] > 0 and row["seeds"] == "2 paired"
