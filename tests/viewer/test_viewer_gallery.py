"""The viewer's standalone gallery, and the viewer notebook run in batch mode."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import papermill as pm
import pytest

from annokit import paths
from annokit.artifacts.run import open_run
from annokit.viewer import Browser, display_name, sample_positions, write_gallery
from annokit.viewer.html import OUTCOME_STYLE
from helpers.viewer_reading import marks, names, predictions, truth_shown
from helpers.viewer_run import PROFILE, write_tiny_run

# The gallery.


def test_gallery_stands_alone_with_the_sampled_images_labels_and_colours(tiny_run, truth, tmp_path):
    browser = Browser.from_run(tiny_run)
    path = write_gallery(browser, tmp_path / "figures" / "annotation_gallery.html", size=5, seed=3)
    page = path.read_text(encoding="utf-8")
    sample = sample_positions(len(truth), 5, seed=3)
    np.testing.assert_array_equal(sample, sample_positions(len(truth), 5, seed=3))
    assert not np.array_equal(sample, sample_positions(len(truth), 5, seed=4))
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert 'src="http' not in page and "<script" not in page  # nothing fetched, nothing run
    panels = re.findall(
        r'<div class="ak-panel" data-position="(\d+)".*?(?=<div class="ak-panel"|</body>)',
        page,
        re.S,
    )
    assert [int(p) for p in panels] == sample.tolist()
    assert page.count('src="data:image/jpeg;base64,') == 5
    chunks = re.split(r'(?=<div class="ak-panel")', page)[1:]
    for position, chunk in zip(sample, chunks, strict=True):
        assert truth_shown(chunk) == names(tiny_run, truth[position])
        for model in ("cnn", "mscnn_tags_lqp", "multi_order_rnn"):
            annotation = predictions(tiny_run, model).annotation[position]
            assert sorted(marks(chunk, model)["extra"]) == sorted(
                names(tiny_run, annotation & ~truth[position])
            )
    for colour, _, _, meaning in OUTCOME_STYLE.values():
        assert colour in page and meaning.split(":")[0] in page
    for model in browser.shown:
        assert display_name(model) in page


# Notebook 10 in batch mode.


@pytest.mark.slow
def test_notebook_09_writes_the_gallery_in_batch_mode(tiny_demo, tmp_path, monkeypatch):
    root, _ = tiny_demo
    work, results = tmp_path / "work", tmp_path / "results"
    write_tiny_run(root, work)
    # the kernel inherits both: nothing lands in the repository
    monkeypatch.setenv("ANNOKIT_WORK", str(work))
    monkeypatch.setenv("ANNOKIT_RESULTS", str(results))
    output = tmp_path / "10_annotation_viewer.ipynb"
    start = time.perf_counter()
    pm.execute_notebook(
        str(paths.repo_root() / "notebooks" / "10_annotation_viewer.ipynb"),
        str(output),
        parameters={"profile": PROFILE, "interactive": False, "gallery_size": 6, "seed": 1},
        kernel_name="python3",
        cwd=str(paths.repo_root() / "notebooks"),
        progress_bar=False,
    )
    assert time.perf_counter() - start < 60
    page = (results / PROFILE / "figures" / "annotation_gallery.html").read_text(encoding="utf-8")
    run = open_run(PROFILE, work_dir=str(work))
    truth = run.index.label_matrix("test")
    sample = sample_positions(len(truth), 6, seed=1)
    assert page.count('class="ak-panel"') == 6 and page.count("data:image/jpeg;base64,") == 6
    for position in sample:
        for label in names(run, truth[position]):
            assert f">{label}<" in page
    assert display_name("mscnn_tags_lqp") in page and "Multi-order RNN" in page
    cells = json.loads(output.read_text())["cells"]
    outputs = json.dumps([c.get("outputs", []) for c in cells])
    # the executed copy shows a preview
    assert "batch run: no widget" in outputs and "ak-panel" in outputs
    assert "application/vnd.jupyter.widget-view+json" not in outputs


def test_committed_notebook_07_has_no_outputs_and_a_clean_parameters_cell():
    notebook = json.loads(
        (paths.repo_root() / "notebooks" / "10_annotation_viewer.ipynb").read_text()
    )
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    parameters = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(parameters) == 1 and parameters[0] is code[0]
    for line in "".join(parameters[0]["source"]).splitlines():
        comment = line.partition("#")[2]
        # papermill's parser trips over quotes in comments
        assert "'" not in comment and '"' not in comment, line
