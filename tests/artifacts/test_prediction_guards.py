"""Prediction and cached-arrays files are scored and shown only against the prepared index they were
made on.

The reported case: a perfect prediction file scored C-F1 100 on its index; after the index was
rebuilt with one image fewer, every row pointed at the next image and the same file scored far
lower, silently. Now the file records the index's fingerprint and its split, and every reader
refuses a mismatch with one line naming the file and the notebook to rerun.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from annokit.artifacts.features import CachedArrays, save_cached
from annokit.artifacts.predictions import (
    Predictions,
    load_predictions,
    prediction_path,
    save_predictions,
)
from annokit.artifacts.run import open_run
from annokit.artifacts.stamps import RunFileError, check_matches_index, writer_notebook
from annokit.data.index import build_index
from annokit.data.manifest import record_manifest
from annokit.evaluation.scoring import score, score_against, score_table
from annokit.methods.m3_heads import step5_predictions
from annokit.report.tables import reproduced_scores
from annokit.viewer.store import ViewerData

PROFILE = "demo"


def perfect(model: str, index, rows: np.ndarray | None = None) -> Predictions:
    """A prediction file that is exactly the ground truth of ``rows`` (default: the test split)."""
    rows = index.rows("test") if rows is None else rows
    truth = index.label_matrix()[rows]
    return Predictions(
        model, rows, truth.astype(np.float32), truth, "truth", meta={"profile": PROFILE}
    )


def rebuild_without_one_image(tiny_demo, run_dir: Path, index, tmp_path: Path):
    """Rebuild the run's index from a copy of the tiny dataset that lost the image of row 0: every
    later row shifts by one."""
    root, _ = tiny_demo
    copy = tmp_path / "nuswide-copy"
    shutil.copytree(root / "nuswide", copy)
    (copy / index.frame["path"].iat[0]).unlink()
    manifest = record_manifest(
        root / "nuswide", "nuswide", "m3", name="tiny_nuswide_m3", source="tiny demo"
    )
    rebuilt, built = build_index(
        run_dir / "index", copy, manifest, profile=PROFILE, on_missing="skip", force=True
    )
    assert built and len(rebuilt.frame) == len(index.frame) - 1
    assert rebuilt.meta["fingerprint"] != index.meta["fingerprint"]
    return rebuilt


def write_raw(path: Path, meta: dict, **arrays: np.ndarray) -> Path:
    """A prediction file written by hand (an older version, another tool): no check on the way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    return path


@pytest.fixture
def run(make_tiny_run, tmp_path):
    """(work folder, run folder, index) of a fresh tiny run."""
    work = tmp_path / "work"
    run_dir, index = make_tiny_run(work, PROFILE)
    return work, run_dir, index


@pytest.mark.slow
def test_a_perfect_file_is_refused_after_the_index_was_rebuilt_with_one_image_fewer(
    run, tiny_demo, tmp_path
):
    work, run_dir, index = run
    path = save_predictions(perfect("mscnn_tags_lqp", index), run_dir)
    made_on = score(index, load_predictions(path))
    # labels absent from the test split score 0
    assert made_on["O-F1"] == pytest.approx(100.0) and made_on["C-F1"] == pytest.approx(84.0)
    rebuilt = rebuild_without_one_image(tiny_demo, run_dir, index, tmp_path)
    stale = load_predictions(path)
    shifted = score_against(
        rebuilt.label_matrix()[np.minimum(stale.rows, len(rebuilt.frame) - 1)], stale
    )
    assert shifted["C-F1"] < 50, (
        "what used to be reported: the same file, scored against shifted rows"
    )
    expected = (
        f"{path} was made on index {index.meta['fingerprint'][:8]}… but the prepared index of run "
        f"demo is {rebuilt.meta['fingerprint'][:8]}… (rebuilt since): rerun notebook 04_lqp to "
        "rewrite it"
    )
    with pytest.raises(RunFileError) as error:
        score(rebuilt, stale)
    assert str(error.value) == expected and "\n" not in str(error.value)
    with pytest.raises(RunFileError, match="rebuilt since"):
        score_table(rebuilt, [stale])
    with pytest.raises(RunFileError, match="mscnn_tags_lqp.npz was made on index"):
        reproduced_scores(rebuilt, run_dir, "mscnn_tags_lqp")
    opened = open_run(PROFILE, work_dir=str(work))
    with pytest.raises(RunFileError, match="04_lqp"):
        opened.predictions("mscnn_tags_lqp")
    with pytest.raises(
        RunFileError, match="mscnn_tags_lqp.npz was made on index .* rerun notebook 04_lqp"
    ):
        ViewerData.from_run(opened)


def test_cached_arrays_of_the_old_index_are_refused(run, tiny_demo, tmp_path):
    work, run_dir, index = run
    train, test = index.rows("train"), index.rows("test")
    save_cached(
        CachedArrays(
            "cnn_scores",
            np.zeros((len(train), 3), np.float32),
            np.zeros((len(test), 3), np.float32),
            train,
            test,
        ),
        run_dir,
    )
    assert open_run(PROFILE, work_dir=str(work)).cached("cnn_scores").meta["splits"] == {
        "train_rows": "train",
        "test_rows": "test",
    }
    rebuild_without_one_image(tiny_demo, run_dir, index, tmp_path)
    with pytest.raises(
        RunFileError,
        match=r"cnn_scores.npz was made on index .* rerun notebook 01_cnn_finetune to rewrite it",
    ):
        open_run(PROFILE, work_dir=str(work)).cached("cnn_scores")


def test_m3_step5_refuses_features_of_different_indices(run):
    work, run_dir, index = run
    train, test = index.rows("train"), index.rows("test")

    def cached(name: str, fingerprint: str) -> CachedArrays:
        return CachedArrays(
            name,
            np.zeros((len(train), 4), np.float32),
            np.zeros((len(test), 4), np.float32),
            train,
            test,
            {"index_fingerprint": fingerprint},
        )

    visual, textual = (
        cached("mscnn_features", index.meta["fingerprint"]),
        cached("tags_features", "0123456789abcdef"),
    )
    with pytest.raises(
        RunFileError,
        match="'tags_features' .* was made on index 01234567… .* rerun notebook 03_tags_mlp",
    ):
        step5_predictions(open_run(PROFILE, work_dir=str(work)), visual, textual)
    del textual.meta["index_fingerprint"]
    with pytest.raises(ValueError, match="made on different prepared indices"):
        step5_predictions(open_run(PROFILE, work_dir=str(work)), visual, textual)


def test_training_rows_are_refused_when_saving_scoring_and_showing(run):
    work, run_dir, index = run
    train = index.rows("train")[:5]
    with pytest.raises(
        RunFileError,
        match=r"lists 5 row\(s\) outside the test split .* nothing was written to .*cnn.npz",
    ):
        save_predictions(perfect("cnn", index, train), run_dir)
    assert not prediction_path(run_dir, "cnn").exists()
    with pytest.raises(
        RunFileError,
        match=r"'cnn_features' \(in memory\): train_rows lists 2 row\(s\) outside the train split",
    ):
        rows = index.rows("test")[:2]
        save_cached(
            CachedArrays("cnn_features", np.zeros((2, 3)), np.zeros((2, 3)), rows, rows), run_dir
        )
    with pytest.raises(
        RunFileError, match=r"'cnn' \(in memory\) lists 5 row\(s\) outside the test split"
    ):
        score(index, perfect("cnn", index, train))
    p = perfect("cnn", index, train)
    meta = {
        "model": "cnn",
        "rule": "truth",
        "index_fingerprint": index.meta["fingerprint"],
        "splits": {"rows": "test"},
    }
    path = write_raw(
        prediction_path(run_dir, "cnn"), meta, rows=p.rows, scores=p.scores, annotation=p.annotation
    )
    message = (
        rf"{path} lists 5 row\(s\) outside the test split of run demo's prepared index "
        rf"\(row {train[0]} is a train row\): rerun notebook 01_cnn_finetune to rewrite it"
    )
    with pytest.raises(RunFileError, match=message):
        score(index, load_predictions(path))
    with pytest.raises(RunFileError, match=message):
        ViewerData.from_run(open_run(PROFILE, work_dir=str(work)))
    write_raw(
        path,
        meta,
        rows=np.append(index.rows("test")[:4], len(index.frame)),
        scores=p.scores,
        annotation=p.annotation,
    )
    with pytest.raises(
        RunFileError,
        match=f"lists row {len(index.frame)} but the prepared index of run demo has "
        f"{len(index.frame)} rows",
    ):
        score(index, load_predictions(path))


def test_a_file_made_before_files_recorded_their_index_is_refused(run):
    work, run_dir, index = run
    p = perfect("multi_order_rnn@seed2", index)
    path = write_raw(
        prediction_path(run_dir, p.model),
        {"model": p.model, "rule": "truth"},
        rows=p.rows,
        scores=p.scores,
        annotation=p.annotation,
    )
    message = (
        f"{path} was made before files recorded their index, so it cannot be checked against the "
        "prepared index of run demo: rerun notebook 05_multi_order_rnn to rewrite it"
    )
    with pytest.raises(RunFileError) as error:
        score(index, load_predictions(path))
    assert str(error.value) == message
    with pytest.raises(RunFileError, match="made before files recorded their index"):
        ViewerData.from_run(open_run(PROFILE, work_dir=str(work)))


def test_the_viewer_names_a_truncated_file_and_the_fix(run):
    work, run_dir, index = run
    path = save_predictions(perfect("partial_bce_ignore_p050", index), run_dir)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(RunFileError) as error:
        ViewerData.from_run(open_run(PROFILE, work_dir=str(work)))
    message = str(error.value)
    assert message.startswith(f"prediction file {path} is damaged (")
    assert (
        message.endswith("delete it and rerun notebook 06_partial_labels to rewrite it")
        and "\n" not in message
    )


@pytest.mark.parametrize("broken", ["scores", "annotation", "counts"])
def test_the_viewer_names_a_mis_shaped_file_and_the_fix(run, broken):
    work, run_dir, index = run
    p = perfect("mscnn_lqp", index)
    arrays = {
        "rows": p.rows,
        "scores": p.scores,
        "annotation": p.annotation,
        "counts": p.annotation.sum(axis=1),
    }
    arrays[broken] = arrays[broken][:-3]
    meta = {
        "model": p.model,
        "rule": "truth",
        "index_fingerprint": index.meta["fingerprint"],
        "splits": {"rows": "test"},
    }
    path = write_raw(prediction_path(run_dir, p.model), meta, **arrays)
    with pytest.raises(
        RunFileError,
        match=rf"prediction file {path} is damaged \(.*\): delete it and rerun notebook 04_lqp "
        "to rewrite it",
    ):
        ViewerData.from_run(open_run(PROFILE, work_dir=str(work)))


def test_in_memory_predictions_need_no_fingerprint(run):
    _, run_dir, index = run
    p = perfect("cnn", index)
    assert score_against(index.label_matrix("test"), p)["O-F1"] == pytest.approx(100.0)
    assert score(index, p)["O-F1"] == pytest.approx(100.0)  # checked on its rows alone
    save_predictions(p, run_dir)
    # the object now carries what its file records
    assert p.meta["index_fingerprint"] == index.meta["fingerprint"]
    check_matches_index(p, index)


def test_saving_needs_the_runs_prepared_index(tmp_path, run):
    _, _, index = run
    with pytest.raises(
        FileNotFoundError,
        match=r"index holds no prepared index .* prepare the run first \(notebook 00_data_prep\)",
    ):
        save_predictions(perfect("cnn", index), tmp_path / "no-run")
    assert not (tmp_path / "no-run" / "predictions").exists()


@pytest.mark.parametrize(
    "name,notebook",
    [
        ("cnn", "01_cnn_finetune"),
        ("cnn_scores", "01_cnn_finetune"),
        ("mscnn_features", "02_ms_cnn"),
        ("tags_mlp", "03_tags_mlp"),
        ("mscnn_tags_lqp@seed3", "04_lqp"),
        ("upper_bound", "04_lqp"),
        ("cnn_threshold", "05_multi_order_rnn"),
        ("cnn_rnn_rare_first", "05_multi_order_rnn"),
        ("multi_order_rnn@seed1", "05_multi_order_rnn"),
        ("partial_partial_bce_p010", "06_partial_labels"),
        ("someone_elses_model", None),
    ],
)
def test_each_file_names_the_notebook_that_writes_it(name, notebook):
    assert writer_notebook(name) == notebook
