"""The annotation viewer without a browser: its logic and its widgets driven by value."""

from __future__ import annotations

import re

import numpy as np
import pytest

from annokit.artifacts.predictions import prediction_path
from annokit.evaluation import decision
from annokit.methods.baselines.registry import METHODS
from annokit.methods.multi_order import TABLE1_ROWS
from annokit.methods.partial_labels import LOSSES
from annokit.report.tables import M3_COMPONENTS
from annokit.viewer import Browser, Rule, display_name, model_groups, model_order
from annokit.viewer.html import OUTCOME_STYLE
from annokit.viewer.mapped_npz import NpzArrays
from annokit.viewer.model_names import DISPLAY_NAMES
from helpers.viewer_reading import (
    CHIP,
    marks,
    model_row,
    names,
    predicted,
    predictions,
    truth_shown,
)
from helpers.viewer_run import STEPS

# Models: names, order, lazy files.


def test_models_get_display_names_in_the_papers_order():
    files = [
        "zeta",
        "upper_bound",
        "partial_partial_bce_p010",
        "partial_bce_ignore_p010@seed1",
        "multi_order_rnn",
        "mscnn_tags_lqp@seed1",
        "cnn",
        "mscnn_tags_lqp",
        "cnn_rnn_rare_first",
        "cnn_rnn_frequent_first",
        "partial_bce_ignore_p010",
    ]
    assert model_order(files) == [
        "cnn",
        "mscnn_tags_lqp",
        "mscnn_tags_lqp@seed1",
        "upper_bound",
        "cnn_rnn_frequent_first",  # the Multi-order RNN's Table 1 order
        "cnn_rnn_rare_first",
        "multi_order_rnn",
        "partial_bce_ignore_p010",  # extra seeds right after their model, partial runs too
        "partial_bce_ignore_p010@seed1",
        "partial_partial_bce_p010",
        "zeta",
    ]
    assert display_name("mscnn_tags_lqp") == "MS-CNN+Tags+LQP"
    assert display_name("mscnn_tags_lqp@seed1") == "MS-CNN+Tags+LQP, seed 1"
    assert display_name("cnn_rnn_frequent_first") == "CNN-RNN (frequent-first)"
    assert display_name("multi_order_rnn_paper_text") == "Multi-order RNN (paper text)"
    assert (
        display_name("partial_partial_bce_p010") == "Partial labels: partial-BCE (γ = 1), 10% known"
    )
    assert (
        display_name("partial_bce_ignore_p050")
        == "Partial labels: BCE, known labels only, 50% known"
    )
    assert display_name("zeta") == "zeta" and display_name("new_model") == "new model"


def test_models_are_named_as_the_result_tables_name_their_rows():
    # M3 Tables I/II, the Multi-order RNN's Table 1 as notebook 05 writes it, the baselines' table
    for row, file in M3_COMPONENTS.items():
        assert display_name(file) == row
    for file, row in TABLE1_ROWS.items():
        assert display_name(file) == row
    for method in METHODS.values():
        assert display_name(method.file) == method.name
        assert display_name(f"{method.file}@seed2") == f"{method.name}, seed 2"
    for loss in LOSSES.values():
        assert (
            display_name(f"partial_{loss.key}_p050") == f"Partial labels: {loss.title}, 50% known"
        )


def test_one_menu_entry_per_model_with_its_seeds():
    # the demo run's files: every model at the profile's seed, most with two extra seeds
    models = [*DISPLAY_NAMES, *(f"partial_{k}_p{p:03d}" for k in LOSSES for p in (10, 50, 100))]
    files = [f"{m}@seed{k}" if k else m for m in models for k in (2, 0, 1)]
    groups = model_groups(files)
    assert list(groups) == model_order(models)  # one entry per model, in the papers' order
    assert all(g == (m, f"{m}@seed1", f"{m}@seed2") for m, g in groups.items())
    names = [display_name(m) for m in groups]
    assert len(set(names)) == len(names)
    assert not [n for n in names if "_" in n or "@" in n]  # no file names


def test_prediction_arrays_are_memory_mapped_not_read(tiny_run, tmp_path):
    arrays = NpzArrays(prediction_path(tiny_run.run_dir, "multi_order_rnn"))
    stored = predictions(tiny_run, "multi_order_rnn")
    for name in ("rows", "scores", "annotation", "step_scores", "sequences"):
        assert arrays.is_mapped(name), name
        np.testing.assert_array_equal(arrays[name], getattr(stored, name))
    # someone else's np.savez_compressed: read whole, still right
    compressed = tmp_path / "compressed.npz"
    np.savez_compressed(compressed, scores=stored.scores)
    assert not NpzArrays(compressed).is_mapped("scores")
    np.testing.assert_array_equal(NpzArrays(compressed)["scores"], stored.scores)


# One image.


def test_viewer_opens_on_the_first_test_image_with_truth_tags_and_every_model(
    tiny_run, viewer, truth
):
    b, view = viewer.browser, viewer.view.value
    first = int(np.flatnonzero(truth.any(axis=1))[0])  # the first test image with a true label
    assert b.current == first == b.cursor and len(b.order) == len(truth)
    assert truth_shown(view) == names(tiny_run, truth[first]) != []
    tags = [
        tiny_run.index.tag_names[t]
        for t in tiny_run.index.frame["tags"].iat[tiny_run.index.rows("test")[first]]
    ]
    for tag in tags:
        assert 'class="ak-chip ak-tag"' in view and f">{tag}<" in view
    assert b.model == "mscnn_tags_lqp"  # M3 is selected when present
    assert b.shown == ("cnn", "tags_mlp", "mscnn_tags_lqp", "multi_order_rnn")  # the papers' order
    for model in b.shown:
        assert f'data-model="{model}"' in view
    assert view.count('<img class="ak-image" src="data:image/jpeg;base64,') == 1
    assert f"image {first + 1} of" in view and viewer.jump.value == first + 1
    for colour, *_ in OUTCOME_STYLE.values():
        assert colour in viewer.legend.value


@pytest.mark.parametrize("model", ["cnn", "mscnn_tags_lqp", "multi_order_rnn"])
def test_labels_are_marked_correct_extra_and_missed_in_their_colours(
    tiny_run, viewer, truth, model
):
    stored = predictions(tiny_run, model)
    for place in range(6):
        viewer.jump.value = place + 1
        view = viewer.view.value
        shown = marks(view, model)
        position = viewer.browser.current
        annotation, true = stored.annotation[position], truth[position]
        assert sorted(shown["correct"]) == sorted(names(tiny_run, annotation & true))
        assert sorted(shown["extra"]) == sorted(names(tiny_run, annotation & ~true))
        assert sorted(shown["missed"]) == sorted(names(tiny_run, ~annotation & true))
        scores = [
            stored.scores[position, tiny_run.index.label_names.index(n)]
            for n in predicted(view, model)
        ]
        assert scores == sorted(scores, reverse=True)  # best-scoring first
        for outcome, style, _ in CHIP.findall(model_row(view, model)):
            assert f"color:{OUTCOME_STYLE[outcome][0]}" in style and ("dashed" in style) == (
                outcome == "missed"
            )


def test_lqp_models_show_predicted_against_true_count(tiny_run, viewer, truth):
    counts = predictions(tiny_run, "mscnn_tags_lqp").counts
    for place in range(len(truth)):
        viewer.browser.go(place)
        viewer.refresh()
        position = viewer.browser.current
        m_hat = int(decision.predicted_quantity(counts[position : position + 1], truth.shape[1])[0])
        row = model_row(viewer.view.value, "mscnn_tags_lqp")
        assert (
            f"count m̂ = {m_hat} <small>(raw {counts[position]:.2f})</small> · true "
            f"{truth[position].sum()}" in row
        )
        assert ("ak-count-right" in row) == (m_hat == truth[position].sum())
        assert "ak-count" not in model_row(viewer.view.value, "cnn")  # not an LQP model


def test_multi_order_rnn_shows_the_top_five_labels_at_every_step(tiny_run, viewer, truth):
    stored = predictions(tiny_run, "multi_order_rnn")
    view, position = viewer.view.value, viewer.browser.current
    table = re.search(
        r'<details class="ak-steps" data-model="multi_order_rnn" open.*?</details>', view
    ).group(0)
    lines = re.findall(r"<tr><td[^>]*>t=(\d)</td>(.*?)</tr>", table)
    assert [int(t) for t, _ in lines] == list(range(1, STEPS + 1))
    for t, line in enumerate(lines):
        step = stored.step_scores[position, t]
        top = np.argsort(-step, kind="stable")[:5]
        shown = re.findall(
            r'class="ak-chip ak-step-(true|other)"[^>]*>([^<*]+)(\*?) <small>([0-9.]+)</small>',
            line[1],
        )
        assert [n for _, n, _, _ in shown] == [tiny_run.index.label_names[c] for c in top]
        assert [float(p) for *_, p in shown] == pytest.approx(
            [round(float(step[c]), 2) for c in top], abs=0.006
        )
        assert [kind == "true" for kind, *_ in shown] == [bool(truth[position, c]) for c in top]
        assert [star == "*" for _, _, star, _ in shown] == [
            bool(step[c] == stored.step_scores[position, :, c].max()) for c in top
        ]
    # no step table for the CNN
    assert 'data-model="cnn"' not in re.sub(r'<tr class="ak-model".*?</tr>', "", view)


def test_browser_answers_with_plain_data_without_any_widget(tiny_run, truth):
    browser = Browser.from_run(tiny_run, model="cnn", shown=("cnn", "multi_order_rnn"))
    annotation = predictions(tiny_run, "cnn").annotation
    browser.go(4)
    panel = browser.panel()
    assert (panel.position, panel.place, panel.listed) == (4, 4, len(truth))
    assert list(panel.truth) == names(tiny_run, truth[4])
    cnn, multi_order = panel.rows
    assert cnn.selected and not multi_order.selected and cnn.rule == "top-3"
    assert sorted(cnn.labels("correct")) == sorted(names(tiny_run, annotation[4] & truth[4]))
    assert sorted(cnn.labels("missed")) == sorted(names(tiny_run, ~annotation[4] & truth[4]))
    assert (
        cnn.steps is None
        and len(multi_order.steps) == STEPS
        and all(len(step) == 5 for step in multi_order.steps)
    )
    browser.set_rule(Rule("top_k", k=1))
    assert (
        len(browser.panel(4).rows[0].labels("correct") + browser.panel(4).rows[0].labels("extra"))
        == 1
    )
    assert browser.panel(4).rows[1] == multi_order  # the other models keep their own rule


def test_a_model_without_a_prediction_for_the_image_says_so(tiny_run, viewer):
    covered = set(predictions(tiny_run, "tags_mlp").rows.tolist())
    test_rows = tiny_run.index.rows("test")
    missing = next(p for p in range(len(test_rows)) if test_rows[p] not in covered)
    present = next(p for p in range(len(test_rows)) if test_rows[p] in covered)
    viewer.jump.value = missing + 1
    assert "no prediction for this image" in model_row(viewer.view.value, "tags_mlp")
    viewer.jump.value = present + 1
    stored = predictions(tiny_run, "tags_mlp")
    file_row = int(np.flatnonzero(stored.rows == test_rows[present])[0])
    assert sorted(predicted(viewer.view.value, "tags_mlp")) == sorted(
        names(tiny_run, stored.annotation[file_row])
    )


# Navigation.


def test_previous_next_and_jump_move_through_the_list(viewer):
    b = viewer.browser
    viewer.jump.value = 1  # the list's first image (the viewer opens on the first labelled one)
    assert b.cursor == 0 and viewer.previous_button.disabled
    viewer.next_button.click()
    assert b.current == b.order[1] and "image 2 of" in viewer.view.value and viewer.jump.value == 2
    viewer.jump.value = 7
    assert b.current == b.order[6] and "image 7 of" in viewer.view.value
    viewer.previous_button.click()
    assert b.current == b.order[5] and viewer.jump.value == 6
    viewer.jump.value = len(b.order)
    assert viewer.next_button.disabled
    viewer.next_button.click()  # at the end: stays
    assert b.cursor == len(b.order) - 1


def test_grid_shows_a_page_and_moves_by_pages(viewer):
    viewer.jump.value = 1
    viewer.mode.value = "grid"
    assert viewer.view.value.count('class="ak-card"') == min(12, len(viewer.browser.order))
    viewer.next_button.click()
    assert viewer.browser.cursor == 12
    assert viewer.view.value.count('class="ak-card"') == min(12, len(viewer.browser.order) - 12)
