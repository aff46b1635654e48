"""``annokit annotate`` on a run's own test images gives the labels and scores that the notebooks'
prediction files hold for them: the same checkpoints, preprocessing and decision rules.

The tiny run is trained for one epoch through the stage functions the notebooks call (01 CNN,
02 MS-CNN, 03 tags MLP, 04 heads, 05 Multi-order RNN, 07 Wang et al.'s CNN-RNN, both phases),
which also write the prediction files."""

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from annokit.annotate import finished_cnn_rnn
from annokit.artifacts.predictions import load_predictions, prediction_path, save_predictions
from annokit.artifacts.run import open_stage
from annokit.console import main
from annokit.data.annotation_table import TEST
from annokit.methods import decoder_jobs, wang_cnn_rnn_jobs
from annokit.methods import wang_cnn_rnn as wang
from annokit.methods.m3 import load_finetuned_cnn, train_cnn, train_mscnn
from annokit.methods.m3_files import cache_and_annotate, image_splits, tag_splits
from annokit.methods.m3_heads import step5_predictions, train_tags_mlp
from annokit.models.backbone import feature_dim_of

PROFILE = "demo"


def train_tiny_run(work):
    """Notebooks 01–05's and 07's stages, one epoch each (07: each phase), the profile's seed."""
    run = open_stage(PROFILE, work_dir=str(work), device="cpu")
    cnn, _ = train_cnn(run, epochs=1, monitor=False)
    cache_and_annotate(
        run,
        cnn,
        "cnn",
        image_splits(run),
        cache=("cnn_features", "cnn_scores"),
        checkpoint=run.run_dir / "cnn" / "final.pt",
    )
    mscnn, _ = train_mscnn(run, load_finetuned_cnn(run), epochs=1, monitor=False)
    cache_and_annotate(run, mscnn, "mscnn", image_splits(run), cache=("mscnn_features",))
    dim = feature_dim_of(run.profile.cnn.backbone)
    mlp, _ = train_tags_mlp(run, feature_dim=dim, epochs=1)
    cache_and_annotate(run, mlp, "tags_mlp", tag_splits(run), cache=("tags_features",))
    visual, textual = run.cached("mscnn_features"), run.cached("tags_features")
    for predictions in step5_predictions(run, visual, textual, epochs=1):
        save_predictions(predictions, run.run_dir)
    trained = decoder_jobs.train_decoders(
        run,
        run.cached("cnn_scores"),
        models=[run.profile.rnn.variant],
        seeds=[run.profile.seed],
        epochs=1,
    )
    for predictions, _ in trained.values():
        save_predictions(predictions, run.run_dir)
    train_notebook_07(run)
    return run


def train_notebook_07(run):
    """Notebook 07's call for the profile's seed, one epoch a phase: its prediction file
    ``wang_cnn_rnn``, and one file per phase made by that phase's chosen model, as ``train_seed``
    makes the final one (``wang_cnn_rnn_frozen``, ``wang_cnn_rnn_end_to_end``)."""
    profile = run.profile
    inputs = wang_cnn_rnn_jobs.cnn_rnn_inputs(run)
    results = wang_cnn_rnn_jobs.train_seeds(
        run, inputs, seeds=[profile.seed], epochs=1, finetune_epochs=1
    )
    save_predictions(results[profile.seed].predictions, run.run_dir)
    save_predictions(results[profile.seed].frozen, run.run_dir)
    # phase 2's chosen model, as train_seeds built it: its files are there, nothing trains again
    settings = replace(profile.cnn_rnn.with_epochs(1), finetune_epochs=1)
    stage = {"profile": profile.name, "index": run.index.meta["fingerprint"]}
    how = wang.SeedRun(settings, profile.seed, run.run_dir, str(run.device), stage)
    phase1 = wang.train_frozen(how, inputs.frozen)
    phase2 = wang.train_end_to_end(how, inputs.trunk, phase1.model, inputs.end_to_end)
    max_labels = wang.chosen_max_labels(settings, inputs.frozen.fit.y)
    meta = {"phase": wang.END_TO_END}
    end_to_end = wang.prediction_file(
        phase2.model, inputs.test_inputs, inputs.test_rows, how, max_labels, meta
    )
    save_predictions(replace(end_to_end, model="wang_cnn_rnn_end_to_end"), run.run_dir)


@pytest.fixture(scope="module")
def tiny_trained(make_tiny_run, tmp_path_factory):
    """A tiny run trained through every stage, and a CSV of its test images with their tags."""
    work = tmp_path_factory.mktemp("annotate-work")
    make_tiny_run(work, PROFILE)
    run = train_tiny_run(work)
    rows = run.index.rows(TEST)
    paths = run.index.frame["path"].to_numpy()[rows]
    tags = run.index.tag_matrix(TEST)
    listing = work / "test_images.csv"
    with open(listing, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "tags"])
        for path, row in zip(paths, tags):
            words = " ".join(run.index.tag_names[j] for j in np.flatnonzero(row))
            writer.writerow([str(run.data_root / path), words])
    return work, run, listing


def annotate(work, model, listing, out, *options):
    with pytest.raises(SystemExit) as done:
        main(["annotate", "--profile", PROFILE, "--work-dir", str(work), "--model", model,
              "--csv", str(listing), "--out", str(out), "--device", "cpu", *options])  # fmt: skip
    assert done.value.code == 0
    return json.loads((out / "annotations.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, prediction_file",
    [
        ("cnn", "cnn"),
        ("mscnn", "mscnn"),
        ("m3", "mscnn_tags_lqp"),
        ("mscnn-lqp", "mscnn_lqp"),
        ("multi-order", "multi_order_rnn"),
        ("wang-cnn-rnn", "wang_cnn_rnn"),
    ],
)
def test_annotate_gives_the_notebooks_labels_and_scores(
    tiny_trained, tmp_path, model, prediction_file
):
    work, run, listing = tiny_trained
    record = annotate(work, model, listing, tmp_path / "out")
    notebook = load_predictions(prediction_path(run.run_dir, prediction_file))
    assert record["notebook_prediction_file"] == prediction_file
    assert_as_notebook(record, notebook, run)
    if "phase" in notebook.meta:  # notebook 07: the phase whose chosen epoch wrote the file
        checkpoint = Path(record["checkpoints"]["wang_cnn_rnn"])
        assert checkpoint == run.run_dir / "wang_cnn_rnn" / notebook.meta["phase"] / "chosen.pt"
    table = list(csv.DictReader(open(tmp_path / "out" / "annotations.csv")))
    assert [row["labels"].split(";") if row["labels"] else [] for row in table] == [
        image["labels"] for image in record["images"]
    ]
    html = (tmp_path / "out" / "annotations.html").read_text()
    assert html.count("<img") == len(notebook.rows) and "ak-given" in html


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["frozen", "end_to_end"])
def test_annotate_gives_either_phase_of_notebook_07_as_its_model_predicts(
    tiny_trained, tmp_path, monkeypatch, phase
):
    """Whichever phase the validation split keeps: phase 1 on notebook 01's CNN features, phase 2
    through the fine-tuned last convolution on the maps below notebook 01's last block."""
    work, run, listing = tiny_trained
    folder = run.run_dir / "wang_cnn_rnn" / phase
    monkeypatch.setattr(finished_cnn_rnn, "final_phase", lambda _: folder)
    # batches of 7: the maps and the beam search per image, whatever the batch
    record = annotate(work, "wang-cnn-rnn", listing, tmp_path / "out", "--batch-size", "7")
    notebook = load_predictions(prediction_path(run.run_dir, f"wang_cnn_rnn_{phase}"))
    assert Path(record["checkpoints"]["wang_cnn_rnn"]).parent == folder
    assert_as_notebook(record, notebook, run)


def assert_as_notebook(record, notebook, run):
    """The annotations of ``record`` (annotations.json) are the prediction file's: rule, scores,
    label sets and, for the RNNs, the labels in the order they were picked."""
    assert record["rule"] == notebook.rule
    names = record["label_names"]
    assert names == list(run.index.label_names)
    assert len(record["images"]) == len(notebook.rows) and not record["left_out"]
    scores = np.array([[image["scores"][n] for n in names] for image in record["images"]])
    np.testing.assert_allclose(scores, notebook.scores, rtol=0, atol=2e-5)
    given = np.zeros_like(notebook.annotation)
    for i, image in enumerate(record["images"]):
        given[i, [names.index(label) for label in image["labels"]]] = True
    assert np.array_equal(given, notebook.annotation)
    if notebook.sequences is not None:
        picked = [[names[c] for c in path if c >= 0] for path in notebook.sequences]
        assert [image["picked_per_step"] for image in record["images"]] == picked
    if notebook.counts is not None:
        counts = np.array([image["lqp_output"] for image in record["images"]])
        np.testing.assert_allclose(counts, notebook.counts, rtol=0, atol=1e-4)
