"""The annotation viewer without a browser: its logic, its widgets driven by value, its gallery, its speed."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import papermill as pm
import pytest
from PIL import Image

from annokit import paths
from annokit.artifacts.predictions import Predictions, load_predictions, prediction_path, save_predictions
from annokit.artifacts.run import open_run
from annokit.evaluation import decision
from annokit.viewer import Browser, Filter, Rule, display_name, model_order, sample_positions, write_gallery
from annokit.viewer.html import OUTCOME_STYLE
from annokit.viewer.store import NpzArrays
from annokit.viewer.widget import AnnotationViewer
from helpers.viewer_run import PROFILE, STEPS, write_tiny_run


@pytest.fixture(scope="module")
def tiny_run(tiny_demo, tmp_path_factory):
    """The opened run (``annokit.artifacts.run.Run``) of the tiny demo with fake predictions."""
    root, _ = tiny_demo
    work = tmp_path_factory.mktemp("viewer-work")
    write_tiny_run(root, work)
    return open_run(PROFILE, work_dir=str(work))


@pytest.fixture
def viewer(tiny_run) -> AnnotationViewer:
    return AnnotationViewer(Browser.from_run(tiny_run))


@pytest.fixture(scope="module")
def truth(tiny_run) -> np.ndarray:
    return tiny_run.index.label_matrix("test")


def predictions(run, model: str):
    return load_predictions(prediction_path(run.run_dir, model))


# Reading the rendered HTML.

CHIP = re.compile(r'<span class="ak-chip ak-(correct|extra|missed)"[^>]*style="([^"]*)">. (.+?) <small>')


def model_row(view: str, model: str) -> str:
    match = re.search(rf'<tr class="ak-model" data-model="{re.escape(model)}".*?</tr>', view)
    assert match, f"no row for {model} in the view"
    return match.group(0)


def chips(view: str, model: str) -> list[tuple[str, str]]:
    """(outcome, label) of every chip of a model's row, in the order shown."""
    return [(outcome, label) for outcome, _, label in CHIP.findall(model_row(view, model))]


def marks(view: str, model: str) -> dict[str, list[str]]:
    """The labels of a model's row by outcome, in the order shown."""
    out = {"correct": [], "extra": [], "missed": []}
    for outcome, label in chips(view, model):
        out[outcome].append(label)
    return out


def predicted(view: str, model: str) -> list[str]:
    """The labels a model's row shows as predicted (correct or extra), in the order shown."""
    return [label for outcome, label in chips(view, model) if outcome != "missed"]


def truth_shown(view: str) -> list[str]:
    block = re.search(r'<div class="ak-ground-truth".*?</div>', view).group(0)
    return re.findall(r'class="ak-chip ak-truth"[^>]*>([^<]+)<', block)


def names(run, matrix_row: np.ndarray) -> list[str]:
    return [run.index.label_names[j] for j in np.flatnonzero(matrix_row)]


# Models: names, order, lazy files.


def test_models_get_display_names_in_the_papers_order():
    files = ["zeta", "upper_bound", "partial_partial_bce_p010", "multi_order_rnn", "mscnn_tags_lqp@seed1", "cnn",
             "mscnn_tags_lqp", "cnn_rnn_rare_first", "cnn_rnn_frequent_first"]
    assert model_order(files) == ["cnn", "mscnn_tags_lqp", "mscnn_tags_lqp@seed1", "upper_bound", "multi_order_rnn",
                                  "cnn_rnn_frequent_first", "cnn_rnn_rare_first", "partial_partial_bce_p010", "zeta"]
    assert display_name("mscnn_tags_lqp") == "MS-CNN+Tags+LQP (M3)"
    assert display_name("mscnn_tags_lqp@seed1") == "MS-CNN+Tags+LQP (M3), seed 1"
    assert display_name("cnn_rnn_frequent_first") == "CNN-RNN (frequent-first)"
    assert display_name("partial_partial_bce_p010") == "Partial labels: partial-BCE, 10% known"
    assert display_name("partial_bce_ignore_p050") == "Partial labels: BCE, unknown ignored, 50% known"
    assert display_name("zeta") == "zeta"


def test_prediction_arrays_are_memory_mapped_not_read(tiny_run, tmp_path):
    arrays = NpzArrays(prediction_path(tiny_run.run_dir, "multi_order_rnn"))
    stored = predictions(tiny_run, "multi_order_rnn")
    for name in ("rows", "scores", "annotation", "step_scores", "sequences"):
        assert arrays.is_mapped(name), name
        np.testing.assert_array_equal(arrays[name], getattr(stored, name))
    compressed = tmp_path / "compressed.npz"  # someone else's np.savez_compressed: read whole, still right
    np.savez_compressed(compressed, scores=stored.scores)
    assert not NpzArrays(compressed).is_mapped("scores")
    np.testing.assert_array_equal(NpzArrays(compressed)["scores"], stored.scores)


# One image.


def test_viewer_opens_on_the_first_test_image_with_truth_tags_and_every_model(tiny_run, viewer, truth):
    b, view = viewer.browser, viewer.view.value
    assert b.current == 0 and len(b.order) == len(truth)
    assert truth_shown(view) == names(tiny_run, truth[0])
    tags = [tiny_run.index.tag_names[t] for t in tiny_run.index.frame["tags"].iat[tiny_run.index.rows("test")[0]]]
    for tag in tags:
        assert 'class="ak-chip ak-tag"' in view and f">{tag}<" in view
    assert b.model == "mscnn_tags_lqp"  # M3 is selected when present
    assert b.shown == ("cnn", "tags_mlp", "mscnn_tags_lqp", "multi_order_rnn")  # the papers' order
    for model in b.shown:
        assert f'data-model="{model}"' in view
    assert view.count('<img class="ak-image" src="data:image/jpeg;base64,') == 1
    assert "image 1 of" in view
    for colour, *_ in OUTCOME_STYLE.values():
        assert colour in viewer.legend.value


@pytest.mark.parametrize("model", ["cnn", "mscnn_tags_lqp", "multi_order_rnn"])
def test_labels_are_marked_correct_extra_and_missed_in_their_colours(tiny_run, viewer, truth, model):
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
        scores = [stored.scores[position, tiny_run.index.label_names.index(n)] for n in predicted(view, model)]
        assert scores == sorted(scores, reverse=True)  # best-scoring first
        for outcome, style, _ in CHIP.findall(model_row(view, model)):
            assert f"color:{OUTCOME_STYLE[outcome][0]}" in style and ("dashed" in style) == (outcome == "missed")


def test_lqp_models_show_predicted_against_true_count(tiny_run, viewer, truth):
    counts = predictions(tiny_run, "mscnn_tags_lqp").counts
    for place in range(len(truth)):
        viewer.browser.go(place)
        viewer.refresh()
        position = viewer.browser.current
        m_hat = int(decision.predicted_quantity(counts[position:position + 1], truth.shape[1])[0])
        row = model_row(viewer.view.value, "mscnn_tags_lqp")
        assert f"count m̂ = {m_hat} <small>(raw {counts[position]:.2f})</small> · true {truth[position].sum()}" in row
        assert ("ak-count-right" in row) == (m_hat == truth[position].sum())
        assert "ak-count" not in model_row(viewer.view.value, "cnn")  # not an LQP model


def test_multi_order_rnn_shows_the_top_five_labels_at_every_step(tiny_run, viewer, truth):
    stored = predictions(tiny_run, "multi_order_rnn")
    view = viewer.view.value
    table = re.search(r'<details class="ak-steps" data-model="multi_order_rnn" open.*?</details>', view).group(0)
    lines = re.findall(r"<tr><td[^>]*>t=(\d)</td>(.*?)</tr>", table)
    assert [int(t) for t, _ in lines] == list(range(1, STEPS + 1))
    for t, line in enumerate(lines):
        step = stored.step_scores[0, t]
        top = np.argsort(-step, kind="stable")[:5]
        shown = re.findall(r'class="ak-chip ak-step-(true|other)"[^>]*>([^<*]+)(\*?) <small>([0-9.]+)</small>', line[1])
        assert [n for _, n, _, _ in shown] == [tiny_run.index.label_names[c] for c in top]
        assert [float(p) for *_, p in shown] == pytest.approx([round(float(step[c]), 2) for c in top], abs=0.006)
        assert [kind == "true" for kind, *_ in shown] == [bool(truth[0, c]) for c in top]
        assert [star == "*" for _, _, star, _ in shown] == [bool(step[c] == stored.step_scores[0, :, c].max()) for c in top]
    assert "data-model=\"cnn\"" not in re.sub(r'<tr class="ak-model".*?</tr>', "", view)  # no step table for the CNN


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
    assert cnn.steps is None and len(multi_order.steps) == STEPS and all(len(step) == 5 for step in multi_order.steps)
    browser.set_rule(Rule("top_k", k=1))
    assert len(browser.panel(4).rows[0].labels("correct") + browser.panel(4).rows[0].labels("extra")) == 1
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
    assert sorted(predicted(viewer.view.value, "tags_mlp")) == sorted(names(tiny_run, stored.annotation[file_row]))


# Navigation.


def test_previous_next_and_jump_move_through_the_list(viewer):
    b = viewer.browser
    assert viewer.previous_button.disabled
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
    viewer.mode.value = "grid"
    assert viewer.view.value.count('class="ak-card"') == min(12, len(viewer.browser.order))
    viewer.next_button.click()
    assert viewer.browser.cursor == 12
    assert viewer.view.value.count('class="ak-card"') == min(12, len(viewer.browser.order) - 12)


# Filters, sort, rules.


def test_label_filter_in_truth_and_in_a_models_prediction(tiny_run, viewer, truth):
    j = int(np.argmax(truth.sum(axis=0)))
    label = tiny_run.index.label_names[j]
    viewer.label.value = label
    np.testing.assert_array_equal(viewer.browser.order, np.flatnonzero(truth[:, j]))
    assert label in truth_shown(viewer.view.value)
    viewer.model.value = "cnn"
    viewer.label_in.value = "prediction"
    np.testing.assert_array_equal(viewer.browser.order, np.flatnonzero(predictions(tiny_run, "cnn").annotation[:, j]))
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
    assert len(expected["missed"]) < len(truth)  # the fake scores leave some images right, so filters bite


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
        assert sorted(predicted(viewer.view.value, "cnn")) == sorted(names(tiny_run, scores[position] > t))
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
    viewer.rule.value = "threshold"  # at t = 0.5 no fake score of a false label reaches t: no image has extra labels
    assert len(viewer.browser.order) == 0 and "No test image matches" in viewer.view.value
    viewer.threshold.value = 0.4
    np.testing.assert_array_equal(viewer.browser.order, np.flatnonzero(((scores > 0.4) & ~truth).any(axis=1)))
    assert 0 < len(viewer.browser.order) < len(truth)
    viewer.threshold.value = 0.0  # every label predicted: every image has extra labels
    np.testing.assert_array_equal(viewer.browser.order, np.flatnonzero((~truth).any(axis=1)))


def per_image_f1(annotation: np.ndarray, truth: np.ndarray) -> np.ndarray:
    correct = (annotation & truth).sum(axis=1)
    total = annotation.sum(axis=1) + truth.sum(axis=1)
    return np.where(total > 0, 2 * correct / np.maximum(total, 1), 0.0)


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
    assert covered[browser.order[: covered.sum()]].all() and not covered[browser.order[covered.sum():]].any()


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


# The gallery.


def test_gallery_stands_alone_with_the_sampled_images_labels_and_colours(tiny_run, truth, tmp_path):
    browser = Browser.from_run(tiny_run)
    path = write_gallery(browser, tmp_path / "figures" / "annotation_gallery.html", size=5, seed=3)
    page = path.read_text(encoding="utf-8")
    sample = sample_positions(len(truth), 5, seed=3)
    np.testing.assert_array_equal(sample, sample_positions(len(truth), 5, seed=3))
    assert not np.array_equal(sample, sample_positions(len(truth), 5, seed=4))
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "src=\"http" not in page and "<script" not in page  # nothing fetched, nothing run
    panels = re.findall(r'<div class="ak-panel" data-position="(\d+)".*?(?=<div class="ak-panel"|</body>)', page, re.S)
    assert [int(p) for p in panels] == sample.tolist()
    assert page.count('src="data:image/jpeg;base64,') == 5
    chunks = re.split(r'(?=<div class="ak-panel")', page)[1:]
    for position, chunk in zip(sample, chunks, strict=True):
        assert truth_shown(chunk) == names(tiny_run, truth[position])
        for model in ("cnn", "mscnn_tags_lqp", "multi_order_rnn"):
            annotation = predictions(tiny_run, model).annotation[position]
            assert sorted(marks(chunk, model)["extra"]) == sorted(names(tiny_run, annotation & ~truth[position]))
    for colour, _, _, meaning in OUTCOME_STYLE.values():
        assert colour in page and meaning.split(":")[0] in page
    for model in browser.shown:
        assert display_name(model) in page


# 50,000 test images.


def write_large_run(work: Path, n_test: int = 50_000, num_labels: int = 81, n_tags: int = 1000) -> Path:
    """A synthetic run the size of NUS-WIDE's test split: an index written directly (four small images
    shared by every row), seven M3 prediction files and two RNN files with (N, 5, C) step scores."""
    rng = np.random.default_rng(0)
    run_dir, images = work / "runs" / PROFILE, work / "images"
    (run_dir / "index").mkdir(parents=True)
    images.mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(images / f"{i}.jpg")
    n_train = 1000
    n = n_train + n_test
    labels = rng.random((n, num_labels)) < 2.5 / num_labels
    tag_lists = np.split(rng.integers(0, n_tags, 6 * n).astype(np.int16), np.arange(6, 6 * n, 6))
    pd.DataFrame({"image_id": [f"{i:06d}" for i in range(n)], "path": [f"{i % 4}.jpg" for i in range(n)],
                  "split": ["train"] * n_train + ["test"] * n_test,
                  "labels": [np.flatnonzero(r).astype(np.int16) for r in labels], "tags": tag_lists,
                  }).to_parquet(run_dir / "index" / "index.parquet", index=False)
    (run_dir / "index" / "vocab.json").write_text(json.dumps({"labels": [f"label{j:02d}" for j in range(num_labels)],
                                                              "tags": [f"tag{j}" for j in range(n_tags)]}))
    (run_dir / "index" / "meta.json").write_text(json.dumps({"profile": PROFILE, "data_root": str(images), "fingerprint": "large-synthetic"}))
    rows, truth = np.arange(n_train, n), labels[n_train:]
    base = np.where(truth, 0.6, 0.0).astype(np.float32)
    for model in ("cnn", "mscnn", "tags_mlp", "mscnn_lqp", "mscnn_tags", "mscnn_tags_lqp", "upper_bound"):
        s = base + 0.45 * rng.random(truth.shape, dtype=np.float32)
        extra = {"counts": truth.sum(axis=1) + rng.normal(0, 0.8, n_test)} if model.endswith("lqp") else {}
        save_predictions(Predictions(model, rows, s, decision.threshold(s), "fake", **extra), run_dir)
    for model in ("multi_order_rnn", "cnn_rnn_frequent_first"):
        steps = rng.random((n_test, STEPS, num_labels), dtype=np.float32)
        s = steps.max(axis=1)
        save_predictions(Predictions(model, rows, s, decision.threshold(s), "fake", step_scores=steps,
                                     sequences=steps.argmax(axis=2)), run_dir)
    return run_dir


def test_viewer_opens_in_under_3_seconds_on_50000_test_images(tmp_path):
    write_large_run(tmp_path)
    start = time.perf_counter()
    run = open_run(PROFILE, work_dir=str(tmp_path))
    viewer = AnnotationViewer(Browser.from_run(run))
    opened = time.perf_counter() - start
    print(f"\nviewer on 50,000 test images: opened and drew the first image in {opened:.2f} s")
    assert opened < 3.0, f"the viewer took {opened:.2f} s to open on 50,000 test images"
    assert "image 1 of 50,000" in viewer.view.value and len(viewer.browser.data.models) == 9
    assert viewer.browser.data.models["multi_order_rnn"].arrays.is_mapped("step_scores")
    assert "ak-steps" in viewer.view.value
    start = time.perf_counter()
    viewer.sort.value = "f1_worst"  # the first whole-split computation: per-image F1 of the selected model
    viewer.outcome.value = "count_wrong"
    viewer.threshold.value = 0.7
    print(f"sort, filter and re-annotate 50,000 images: {time.perf_counter() - start:.2f} s")
    assert time.perf_counter() - start < 3.0
    assert 0 < len(viewer.browser.order) < 50_000


# Notebook 09 in batch mode.


@pytest.mark.slow
def test_notebook_09_writes_the_gallery_in_batch_mode(tiny_demo, tmp_path, monkeypatch):
    root, _ = tiny_demo
    work, results = tmp_path / "work", tmp_path / "results"
    write_tiny_run(root, work)
    monkeypatch.setenv("ANNOKIT_WORK", str(work))  # the kernel inherits both: nothing lands in the repository
    monkeypatch.setenv("ANNOKIT_RESULTS", str(results))
    output = tmp_path / "09_annotation_viewer.ipynb"
    start = time.perf_counter()
    pm.execute_notebook(str(paths.repo_root() / "notebooks" / "09_annotation_viewer.ipynb"), str(output),
                        parameters={"profile": PROFILE, "interactive": False, "gallery_size": 6, "seed": 1},
                        kernel_name="python3", cwd=str(paths.repo_root() / "notebooks"), progress_bar=False)
    assert time.perf_counter() - start < 60
    page = (results / PROFILE / "figures" / "annotation_gallery.html").read_text(encoding="utf-8")
    run = open_run(PROFILE, work_dir=str(work))
    truth = run.index.label_matrix("test")
    sample = sample_positions(len(truth), 6, seed=1)
    assert page.count('class="ak-panel"') == 6 and page.count("data:image/jpeg;base64,") == 6
    for position in sample:
        for label in names(run, truth[position]):
            assert f">{label}<" in page
    assert "MS-CNN+Tags+LQP (M3)" in page and "Multi-order RNN" in page
    cells = json.loads(output.read_text())["cells"]
    outputs = json.dumps([c.get("outputs", []) for c in cells])
    assert "batch run: no widget" in outputs and "ak-panel" in outputs  # the executed copy shows a preview
    assert "application/vnd.jupyter.widget-view+json" not in outputs


def test_committed_notebook_07_has_no_outputs_and_a_clean_parameters_cell():
    notebook = json.loads((paths.repo_root() / "notebooks" / "09_annotation_viewer.ipynb").read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    parameters = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(parameters) == 1 and parameters[0] is code[0]
    for line in "".join(parameters[0]["source"]).splitlines():
        comment = line.partition("#")[2]
        assert "'" not in comment and '"' not in comment, line  # papermill's parser trips over quotes in comments
