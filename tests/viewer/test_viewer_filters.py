"""The viewer's filters, decision rules and sort orders select exactly the matching images."""

from __future__ import annotations

import re

import numpy as np
import pytest

from annokit.viewer import Browser, Filter, Rule
from helpers.viewer_reading import (
    marks,
    model_row,
    names,
    per_image_f1,
    predicted,
    predictions,
    truth_shown,
)

# Filters, sort, rules.


def test_label_filter_in_truth_and_in_a_models_prediction(tiny_run, viewer, truth):
    j = int(np.argmax(truth.sum(axis=0)))
    label = tiny_run.index.label_names[j]
    viewer.label.value = label
    np.testing.assert_array_equal(viewer.browser.order, np.flatnonzero(truth[:, j]))
    assert label in truth_shown(viewer.view.value)
    viewer.model.value = "cnn"
    viewer.label_in.value = "prediction"
    np.testing.assert_array_equal(
        viewer.browser.order, np.flatnonzero(predictions(tiny_run, "cnn").annotation[:, j])
    )
    assert label in predicted(viewer.view.value, "cnn")
    viewer.label.value = ""  # any label
    assert len(viewer.browser.order) == len(truth) and viewer.browser.filter.label is None


@pytest.mark.parametrize("model", ["cnn", "mscnn_tags_lqp", "multi_order_rnn"])
def test_outcome_filters_select_exactly_the_matching_images(tiny_run, viewer, truth, model):
    annotation = predictions(tiny_run, model).annotation
    extra, missed = (annotation & ~truth).sum(axis=1), (~annotation & truth).sum(axis=1)
    expected = {
        "any": np.arange(len(truth)),
        "all_correct": np.flatnonzero((extra == 0) & (missed == 0)),
        "missed": np.flatnonzero(missed > 0),
        "extra": np.flatnonzero(extra > 0),
        "count_wrong": np.flatnonzero(annotation.sum(axis=1) != truth.sum(axis=1)),
    }
    viewer.model.value = model
    for outcome, positions in expected.items():
        viewer.outcome.value = outcome
        np.testing.assert_array_equal(viewer.browser.order, positions, err_msg=outcome)
        if len(positions):
            shown = marks(viewer.view.value, model)  # the first listed image, as its row shows it
            if outcome in ("missed", "extra"):
                assert shown[outcome]
            if outcome == "all_correct":
                assert shown["missed"] == shown["extra"] == []
        else:
            assert "No test image matches the filter" in viewer.view.value
            assert viewer.next_button.disabled and viewer.previous_button.disabled
    # the fake scores leave some images right, so filters bite
    assert len(expected["missed"]) < len(truth)


def test_choosing_which_models_are_shown(viewer):
    viewer.shown.value = ("multi_order_rnn",)
    rows = re.findall(r'<tr class="ak-model" data-model="([^"]+)"', viewer.view.value)
    assert rows == ["mscnn_tags_lqp", "multi_order_rnn"]  # the selected model always stays
    viewer.model.value = "cnn"
    assert viewer.shown.value == ("cnn", "mscnn_tags_lqp", "multi_order_rnn")


def test_threshold_slider_reannotates_the_selected_model_live(tiny_run, viewer, truth):
    scores = predictions(tiny_run, "cnn").scores
    viewer.model.value = "cnn"
    viewer.jump.value = 3
    position = viewer.browser.current
    for t in (0.0, 0.3, 0.55, 0.9):
        viewer.threshold.value = t
        assert viewer.rule.value == "threshold" and viewer.browser.rule == Rule("threshold", t, 3)
        assert viewer.browser.current == position  # same image, new labels
        assert sorted(predicted(viewer.view.value, "cnn")) == sorted(
            names(tiny_run, scores[position] > t)
        )
        assert f"threshold {t:.2f}" in model_row(viewer.view.value, "cnn")
    own = marks(viewer.view.value, "mscnn_tags_lqp")  # other models keep their own rule
    viewer.rule.value = "own"
    assert marks(viewer.view.value, "mscnn_tags_lqp") == own
    assert len(predicted(viewer.view.value, "cnn")) == 3


def test_top_k_selector_reannotates_the_selected_model(tiny_run, viewer):
    scores = predictions(tiny_run, "cnn").scores
    viewer.model.value = "cnn"
    for k in (1, 2, 5):
        viewer.top_k.value = k
        assert viewer.rule.value == "top_k"
        position = viewer.browser.current
        best = np.argsort(-scores[position], kind="stable")[:k]
        assert predicted(viewer.view.value, "cnn") == [tiny_run.index.label_names[j] for j in best]


def test_outcome_filter_follows_the_rule(tiny_run, viewer, truth):
    scores = predictions(tiny_run, "cnn").scores
    viewer.model.value = "cnn"
    viewer.outcome.value = "extra"
    # at t = 0.5 no fake score of a false label reaches t: no image has extra labels
    viewer.rule.value = "threshold"
    assert len(viewer.browser.order) == 0 and "No test image matches" in viewer.view.value
    viewer.threshold.value = 0.4
    np.testing.assert_array_equal(
        viewer.browser.order, np.flatnonzero(((scores > 0.4) & ~truth).any(axis=1))
    )
    assert 0 < len(viewer.browser.order) < len(truth)
    viewer.threshold.value = 0.0  # every label predicted: every image has extra labels
    np.testing.assert_array_equal(viewer.browser.order, np.flatnonzero((~truth).any(axis=1)))


def test_sort_by_per_image_f1_puts_the_worst_first_then_the_best(tiny_run, viewer, truth):
    for model in ("cnn", "mscnn_tags_lqp"):
        f1 = per_image_f1(predictions(tiny_run, model).annotation, truth)
        viewer.model.value = model
        viewer.sort.value = "f1_worst"
        order = viewer.browser.order
        np.testing.assert_array_equal(order, np.argsort(f1, kind="stable"))
        assert viewer.browser.current == order[0] and f1[order[0]] == f1.min()
        assert f"F1 {f1.min():.2f}" in model_row(viewer.view.value, model)
        viewer.sort.value = "f1_best"
        np.testing.assert_array_equal(viewer.browser.order, np.argsort(-f1, kind="stable"))
        assert f"F1 {f1.max():.2f}" in model_row(viewer.view.value, model)
    viewer.sort.value = "test_order"
    np.testing.assert_array_equal(viewer.browser.order, np.arange(len(truth)))


def test_sort_ranks_images_a_model_does_not_cover_last(tiny_run, truth):
    browser = Browser.from_run(tiny_run, model="tags_mlp")
    browser.set_sort("f1_worst")
    covered = browser.data.models["tags_mlp"].covered
    assert (
        covered[browser.order[: covered.sum()]].all()
        and not covered[browser.order[covered.sum() :]].any()
    )


def test_browser_rejects_unknown_names(tiny_run):
    browser = Browser.from_run(tiny_run)
    with pytest.raises(KeyError, match="no prediction file"):
        browser.select_model("resnet9000")
    with pytest.raises(KeyError, match="no prediction file"):
        Browser.from_run(tiny_run, model="resnet9000")
    with pytest.raises(KeyError, match="unknown label"):
        browser.set_filter(Filter(label="unicorn"))
    with pytest.raises(ValueError, match="outcome"):
        Filter(outcome="great")
