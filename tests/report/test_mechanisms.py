"""Mechanism measures: object sizes from the demo's instances, recall by size, LQP by
count, label rules, partial-BCE gap."""

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from annokit.artifacts.predictions import Predictions, save_predictions
from annokit.data.index import build_index
from annokit.data.manifest import record_manifest
from annokit.report import mechanisms as mech
from annokit.report import size_recall

NAN = np.nan


def test_size_bins_use_the_stated_thresholds():
    areas = np.array([0.01, 1 / 32, 0.1, 0.25, 0.9, NAN])
    assert size_recall.size_bins(areas).tolist() == [0, 1, 1, 2, 2, -1]
    assert size_recall.SIZE_THRESHOLDS == (1 / 32, 1 / 4)
    with pytest.raises(ValueError, match="increase"):
        size_recall.size_bins(areas, (0.5, 0.1))


def test_recall_by_object_size_on_four_images_by_hand():
    y_true = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]], bool)
    areas = np.array([[0.01, 0.5, NAN], [NAN, 0.1, 0.02], [0.3, NAN, 0.05], [0.02, 0.9, 0.2]])
    annotation = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 1]], bool)
    table = size_recall.recall_by_object_size(y_true, annotation, size_recall.size_bins(areas))
    # small: (0,0) hit, (1,2) missed, (3,0) missed; medium: (1,1) hit, (2,2) missed, (3,2) hit;
    # large: (0,1) missed, (2,0) hit, (3,1) hit. The extra label (0,2) counts nowhere.
    assert table["positives"].tolist() == [3, 3, 3]
    assert table["recalled"].tolist() == [1, 2, 2]
    assert table["recall"].tolist() == pytest.approx([100 / 3, 200 / 3, 200 / 3])
    assert list(table.index) == ["small", "medium", "large"]


def test_a_true_label_without_an_instance_is_refused():
    with pytest.raises(ValueError, match="no instance"):
        size_recall.recall_by_object_size(
            np.array([[1, 0]], bool), np.array([[1, 0]], bool), np.array([[-1, 0]])
        )


def test_quantity_accuracy_by_count_by_hand():
    table = mech.quantity_accuracy_by_count(
        np.array([1, 1, 2, 2, 2, 3]), np.array([1, 2, 2, 1, 3, 3])
    )
    assert table["images"].tolist() == [2, 3, 1]
    assert table["accuracy"].tolist() == pytest.approx([50, 100 / 3, 100])
    assert table["too few"].tolist() == pytest.approx([0, 100 / 3, 0])
    assert table["too many"].tolist() == pytest.approx([50, 100 / 3, 0])
    assert table["mean m̂"].tolist() == pytest.approx([1.5, 2, 3])


def test_f1_by_count_compares_top_m_hat_with_top_3_by_hand():
    y_true = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]], bool)
    top_m_hat = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]], bool)
    top3 = np.array([[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0]], bool)
    table = mech.f1_by_count(y_true, top_m_hat, top3)
    assert list(table.index) == [1, 2, 3]
    assert table["F1 top-m̂"].tolist() == pytest.approx([100, 100, 80])
    assert table["F1 top-3"].tolist() == pytest.approx([50, 80, 100])
    assert table["gain"].tolist() == pytest.approx([50, 20, -20])


def test_dependency_agreement_on_hand_made_rules():
    names = ("a", "b", "c", "d")
    rules = [
        mech.LabelRule("needs", "b", ("a",)),
        mech.LabelRule("needs any", "c", ("a", "d")),
        mech.LabelRule("excludes", "a", ("d",)),
    ]
    sets = [{"a", "b"}, {"b"}, {"c", "d"}, {"c"}, {"a", "d"}, set()]
    annotation = np.array([[n in s for n in names] for s in sets])
    table = mech.dependency_agreement(annotation, rules, names)
    assert list(table.index) == ["b ⇒ a", "c ⇒ a or d", "not both a and d", "all rules"]
    assert table["applicable"].tolist() == [2, 2, 3, 5]
    assert table["broken"].tolist() == [1, 1, 1, 3]
    assert table["followed"].tolist() == pytest.approx([50, 50, 200 / 3, 40])


def test_the_demo_truth_follows_every_generator_rule(tiny_demo):
    _, truth = tiny_demo
    rules = mech.generator_rules(truth.label_names)
    assert len(rules) == 13  # 7 "needs" pairs, boats ⇒ ocean or water, 5 exclusive pairs
    table = mech.dependency_agreement(truth.labels, rules, truth.label_names)
    assert table["broken"].sum() == 0
    assert table.loc["all rules", "applicable"] > 0
    broken = truth.labels.copy()
    broken[:, truth.label_names.index("sky")] = False  # sun, clouds ... now lack their sky
    assert (
        mech.dependency_agreement(broken, rules, truth.label_names).loc["all rules", "broken"] > 0
    )


def sweep_rows(seed: int, values: dict) -> list[dict]:
    return [
        {"loss": loss, "proportion": p, "mAP": v, "seed": seed} for (loss, p), v in values.items()
    ]


def test_partial_bce_gap_pairs_seeds_and_reports_the_spread():
    seed0 = {
        ("partial_bce", 0.1): 0.50,
        ("bce_negative", 0.1): 0.40,
        ("bce_ignore", 0.1): 0.45,
        ("partial_bce", 0.5): 0.60,
        ("bce_negative", 0.5): 0.60,
        ("bce_ignore", 0.5): 0.58,
    }
    seed1 = {
        ("partial_bce", 0.1): 0.54,
        ("bce_negative", 0.1): 0.42,
        ("bce_ignore", 0.1): 0.47,
        ("partial_bce", 0.5): 0.62,
        ("bce_negative", 0.5): 0.60,
        ("bce_ignore", 0.5): 0.60,
    }
    gaps = mech.partial_bce_gap(pd.DataFrame(sweep_rows(0, seed0) + sweep_rows(1, seed1)))
    by = gaps.set_index(["baseline", "proportion"])
    assert by.loc[("bce_negative", 0.1), "gap"] == pytest.approx(11)
    assert by.loc[("bce_negative", 0.1), "std"] == pytest.approx(math.sqrt(2))
    assert by.loc[("bce_ignore", 0.1), "gap"] == pytest.approx(6)
    assert by.loc[("bce_negative", 0.5), "gap"] == pytest.approx(1)
    assert by.loc[("bce_ignore", 0.5), "std"] == pytest.approx(0)
    assert set(by["seeds"]) == {2}
    one = mech.partial_bce_gap(pd.DataFrame(sweep_rows(0, seed0)))
    assert one["gap"].tolist() == pytest.approx([10, 0, 5, 2])
    assert one["std"].isna().all() and set(one["seeds"]) == {1}
    no_column = mech.partial_bce_gap(pd.DataFrame(sweep_rows(0, seed0)).drop(columns="seed"))
    pd.testing.assert_frame_equal(no_column, one)


def coco_index(tiny_demo, tmp_path):
    root, _ = tiny_demo
    manifest = record_manifest(
        root / "coco", "coco2014", "multi_order", name="tiny_coco", source="tiny demo"
    )
    index, _ = build_index(
        tmp_path / "coco-run" / "index", root / "coco", manifest, profile="tiny-coco"
    )
    return index


def test_object_sizes_cover_every_positive_label_in_both_layouts(
    tiny_demo, make_tiny_run, tmp_path
):
    _, truth = tiny_demo
    _, nuswide = make_tiny_run(tmp_path)
    coco = coco_index(tiny_demo, tmp_path)
    sizes = {}
    for layout, index in (("nuswide", nuswide), ("coco", coco)):
        assert index.meta["dataset"] == {"nuswide": "nuswide", "coco": "coco2014"}[layout]
        found = size_recall.object_sizes(index)
        positives = index.label_matrix("test")
        assert found.shape == positives.shape and positives.any()
        # a size for every true label, none for the others
        assert np.array_equal(~np.isnan(found), positives)
        assert ((found[positives] > 0) & (found[positives] <= 1)).all()
        paths = index.frame["path"].to_numpy()[index.rows("test")]
        key = truth.coco_files if layout == "coco" else truth.nuswide_paths
        generation = {p: i for i, p in enumerate(key)}
        sizes[layout] = {generation[p]: row for p, row in zip(paths, found)}
    common = sorted(set(sizes["nuswide"]) & set(sizes["coco"]))
    assert common
    for i in common:  # the same image has the same sizes whichever layout the run reads
        np.testing.assert_array_equal(sizes["nuswide"][i], sizes["coco"][i])


def test_object_sizes_need_instance_annotations(make_tiny_run, tmp_path):
    _, index = make_tiny_run(tmp_path)
    elsewhere = tmp_path / "real" / "nuswide"
    elsewhere.mkdir(parents=True)
    with pytest.raises(ValueError, match="no object annotations"):
        size_recall.object_sizes(index, data_root=elsewhere)
    assert size_recall.has_object_sizes(index)
    assert not size_recall.has_object_sizes(
        replace(index, meta={**index.meta, "data_root": str(elsewhere)})
    )


def test_run_tables_average_the_seed_files(make_tiny_run, tmp_path):
    run_dir, index = make_tiny_run(tmp_path)
    rows, y = index.rows("test"), index.label_matrix("test")
    first, second = y.copy(), y.copy()
    first[: len(y) // 2] = False  # the first seed misses half the images, the second none
    for name, annotation in (("cnn", first), ("cnn@seed1", second)):
        save_predictions(
            Predictions(name, rows, annotation.astype(float), annotation, "test"), run_dir
        )
    sizes = size_recall.object_sizes(index)
    table = mech.recall_by_size_table(index, run_dir, models=("cnn", "mscnn"), sizes=sizes)
    assert list(table.columns[:2]) == ["model", "size"] and set(table["model"]) == {"cnn"}
    per_seed = [
        size_recall.recall_by_object_size(y, a, size_recall.size_bins(sizes))["recall"]
        for a in (first, second)
    ]
    expected = pd.concat(per_seed, axis=1)
    np.testing.assert_allclose(table["recall"], expected.mean(axis=1))
    np.testing.assert_allclose(table["std"], expected.std(axis=1, ddof=1))
    assert set(table["seeds"]) == {2}
    assert table["positives"].sum() == y.sum() and table["positives"].dtype.kind == "i"
    rules = mech.dependency_table(index, run_dir, models=("cnn",))
    truth_rows = rules[rules["model"] == "ground truth"]
    assert (truth_rows["broken"] == 0).all() and set(rules["model"]) == {"cnn", "ground truth"}


def test_figures_have_one_bar_per_model_and_bin_and_labelled_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from annokit.report import mechanism_plots as plots

    sizes = pd.DataFrame(
        {
            "model": ["cnn"] * 3 + ["mscnn"] * 3,
            "size": list(size_recall.SIZE_BINS) * 2,
            "positives": [10, 20, 30] * 2,
            "recall": [40, 60, 80, 50, 62, 81],
            "std": [NAN] * 3 + [1, 2, 3],
        }
    )
    fig = plots.recall_by_size_bars(sizes)
    ax = fig.axes[0]
    assert len(ax.patches) == 6 and ax.get_ylabel() == "recall (%)" and ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "small\n< 1/32\n10 labels"
    counts = pd.DataFrame(
        {
            "model": ["a", "a", "b", "b"],
            "true count": [1, 2, 1, 2],
            "images": [5, 7, 5, 7],
            "accuracy": [50, 40, 60, 45],
            "std": [1, 1, 2, 2],
        }
    )
    assert len(plots.quantity_accuracy_bars(counts).axes[0].patches) == 4
    gaps = pd.DataFrame(
        {
            "baseline": ["bce_negative"] * 2,
            "proportion": [0.1, 0.5],
            "gap": [3.0, 1.0],
            "std": [NAN, NAN],
            "seeds": [1, 1],
        }
    )
    ax = plots.partial_gap_plot(gaps).axes[0]
    assert ax.get_xlabel() == "proportion of known training labels (%)" and len(ax.lines) >= 2
    plt.close("all")
