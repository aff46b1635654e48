"""The default demo, generated from scratch, matches the committed manifests; notebook 00 runs end
to end."""

import json
from pathlib import Path

import papermill as pm
import pytest

from annokit import paths
from annokit.data.manifest_file import load_manifest
from annokit.demo import load_demo_truth
from annokit.prepare import main as prepare_main


@pytest.mark.slow
def test_default_demo_matches_the_committed_manifests(prepared_demo):
    for name, prepared in prepared_demo.items():
        manifest = load_manifest(prepared.profile.manifest)
        assert prepared.index.meta["counts"] == {
            "train": manifest.counts["train"],
            "test": manifest.counts["test"],
        }, name
        assert prepared.index.meta["warnings"] == [], name


def test_demo_questions_are_answerable(prepared_demo):
    truth = load_demo_truth(prepared_demo["demo"].data_root.parent)
    counts = truth.labels.sum(axis=1)
    assert counts.min() == 0 and counts.max() >= 6  # LQP has a range of counts to predict
    assert 0 < (~truth.tags.any(axis=1)).mean() < 0.2  # M3's rule removes something, not everything
    m3 = prepared_demo["demo"].index
    assert not (m3.tag_matrix().sum(axis=1) == 0).any()
    multi_order = prepared_demo["demo-multi-order"].index
    assert not (multi_order.label_matrix().sum(axis=1) == 0).any()


def test_prepare_command_reuses_what_is_up_to_date(prepared_demo, capsys):
    prepare_main(["--profile", "demo", "--profile", "demo-coco"])
    out = capsys.readouterr().out
    assert out.count("up to date, reused") == 2


@pytest.mark.slow
def test_notebook_00_runs_end_to_end(prepared_demo, demo_env, tmp_path, monkeypatch):
    for key, value in demo_env.items():
        monkeypatch.setenv(
            key, value
        )  # the kernel inherits them: work and results stay outside the repository
    output = tmp_path / "00_data_prep.ipynb"
    pm.execute_notebook(
        str(paths.repo_root() / "notebooks" / "00_data_prep.ipynb"),
        str(output),
        parameters={"profile": "demo", "n_sample_images": 4},
        kernel_name="python3",
        cwd=str(paths.repo_root() / "notebooks"),
        progress_bar=False,
    )
    out = Path(demo_env["ANNOKIT_RESULTS"]) / "demo"
    for figure in (
        "data_label_counts",
        "data_label_frequencies",
        "data_label_cooccurrence",
        "data_samples",
    ):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000
    assert "labels per image (mean)" in (out / "tables" / "dataset_statistics.csv").read_text()
    executed = json.loads(output.read_text())
    assert "up to date, reused" in json.dumps(
        executed["cells"]
    )  # the session fixture prepared it already
