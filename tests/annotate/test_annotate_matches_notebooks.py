"""``annokit annotate`` on a run's own test images gives the labels and scores that the notebooks'
prediction files hold for them: the same checkpoints, preprocessing and decision rules.

The tiny run is trained for one epoch through the stage functions the notebooks call (01 CNN,
02 MS-CNN, 03 tags MLP, 04 heads, 05 Multi-order RNN), which also write the prediction files."""

import csv
import json

import numpy as np
import pytest

from annokit.artifacts.predictions import load_predictions, prediction_path, save_predictions
from annokit.artifacts.run import open_stage
from annokit.console import main
from annokit.data.annotation_table import TEST
from annokit.methods import decoder_jobs
from annokit.methods.m3 import load_finetuned_cnn, train_cnn, train_mscnn
from annokit.methods.m3_files import cache_and_annotate, image_splits, tag_splits
from annokit.methods.m3_heads import step5_predictions, train_tags_mlp
from annokit.models.backbone import feature_dim_of

PROFILE = "demo"


def train_tiny_run(work):
    """Notebooks 01–05's stages, one epoch each, the profile's seed only."""
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
    return run


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


def annotate(work, model, listing, out):
    with pytest.raises(SystemExit) as done:
        main(["annotate", "--profile", PROFILE, "--work-dir", str(work), "--model", model,
              "--csv", str(listing), "--out", str(out), "--device", "cpu"])  # fmt: skip
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
    ],
)
def test_annotate_gives_the_notebooks_labels_and_scores(
    tiny_trained, tmp_path, model, prediction_file
):
    work, run, listing = tiny_trained
    record = annotate(work, model, listing, tmp_path / "out")
    notebook = load_predictions(prediction_path(run.run_dir, prediction_file))
    assert record["notebook_prediction_file"] == prediction_file
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
    if notebook.counts is not None:
        counts = np.array([image["lqp_output"] for image in record["images"]])
        np.testing.assert_allclose(counts, notebook.counts, rtol=0, atol=1e-4)
    table = list(csv.DictReader(open(tmp_path / "out" / "annotations.csv")))
    assert [row["labels"].split(";") if row["labels"] else [] for row in table] == [
        image["labels"] for image in record["images"]
    ]
    html = (tmp_path / "out" / "annotations.html").read_text()
    assert html.count("<img") == len(notebook.rows) and "ak-given" in html
