"""Several GPUs from the notebooks: a stage trained by torchrun (gloo, 2 CPU processes) writes the
files of one process."""

import json
from dataclasses import replace

import nbformat
import numpy as np
import pytest
import torch

from annokit import reproduce
from annokit.artifacts.features import cache_path
from annokit.artifacts.predictions import prediction_path
from annokit.artifacts.run import open_run, open_stage
from annokit.methods import launch
from annokit.methods.m3 import train_cnn
from annokit.methods.m3_files import cache_and_annotate, image_splits
from annokit.training.checkpoints import load_checkpoint


def notebook_01(work, capsys, gpus: int = 1) -> str:
    """What notebook 01 does: train the CNN (on ``gpus`` processes: launched, then loaded), then
    cache and annotate; its output."""
    run = open_stage("demo", "", str(work), "cpu")
    cnn, _ = train_cnn(run, epochs=1, monitor=False, gpus=gpus)
    cache_and_annotate(run, cnn, "cnn", image_splits(run), cache=("cnn_features", "cnn_scores"))
    return capsys.readouterr().out


def layout(path) -> dict:
    """Every array of an .npz file: its name, shape and dtype (text: its kind), and the keys of its
    JSON meta."""
    with np.load(path, allow_pickle=False) as arrays:
        found = {
            key: (
                arrays[key].shape,
                arrays[key].dtype.kind if key == "meta" else arrays[key].dtype.str,
            )
            for key in arrays.files
        }
        found["meta keys"] = sorted(json.loads(str(arrays["meta"])))
    return found


@pytest.mark.slow
def test_two_gloo_processes_write_the_files_of_one(make_tiny_run, tmp_path, capsys, monkeypatch):
    one, two = tmp_path / "one", tmp_path / "two"
    for work in (one, two):
        make_tiny_run(work)
    monkeypatch.setenv(launch.BACKEND_VARIABLE, "gloo")
    output = notebook_01(two, capsys, gpus=2)
    assert "training cnn on 2 CPU processes (gloo)" in output
    assert "epoch 1/1" in output  # the workers' output is streamed
    assert "nothing to train" in output  # the call in this process then loads final.pt
    final = two / "runs" / "demo" / "cnn" / "final.pt"
    # ... and leaves it as the two processes wrote it
    assert load_checkpoint(final)["meta"]["world_size"] == 2
    assert "nothing to train" not in notebook_01(one, capsys)
    runs = {work: work / "runs" / "demo" for work in (one, two)}
    for path_of in (
        lambda run: prediction_path(run, "cnn"),
        lambda run: cache_path(run, "cnn_scores"),
        lambda run: cache_path(run, "cnn_features"),
    ):
        assert layout(path_of(runs[two])) == layout(path_of(runs[one]))
    with (
        np.load(prediction_path(runs[two], "cnn")) as ddp,
        np.load(prediction_path(runs[one], "cnn")) as single,
    ):
        assert np.array_equal(ddp["rows"], single["rows"])
        assert ((ddp["scores"] >= 0) & (ddp["scores"] <= 1)).all()
    finished = open_run("demo", work_dir=str(two))
    # finished: reused
    assert launch.train_on_gpus(finished, "cnn", 2, epochs=1, backend="gloo") is None


@pytest.mark.slow
def test_a_failed_worker_is_one_line_naming_the_stage_and_the_log(make_tiny_run, tmp_path):
    make_tiny_run(tmp_path)  # no cnn/final.pt: the MS-CNN has nothing to start from
    with pytest.raises(launch.StageLaunchFailed) as failed:
        launch.train_on_gpus(
            open_run("demo", work_dir=str(tmp_path)), "mscnn", 2, epochs=1, backend="gloo"
        )
    message = str(failed.value)
    log = tmp_path / "runs" / "demo" / "mscnn" / launch.LOG_NAME
    assert "\n" not in message and message.startswith("mscnn stage failed") and str(log) in message
    assert "no checkpoint at" in message and "cnn/final.pt" in message  # the workers' own error
    assert "no checkpoint at" in log.read_text()


def test_one_gpu_does_nothing_and_missing_gpus_are_refused(make_tiny_run, tmp_path, monkeypatch):
    make_tiny_run(tmp_path)
    run = open_run("demo", work_dir=str(tmp_path))
    assert launch.train_on_gpus(run, "cnn", 1) is None
    assert not (run.run_dir / "cnn").exists()
    monkeypatch.delenv(launch.BACKEND_VARIABLE, raising=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(
        RuntimeError, match=r"gpus=4 asks for 4 GPUs but this machine shows 1 CUDA device"
    ) as refused:
        launch.train_on_gpus(run, "cnn", 4)
    assert "\n" not in str(refused.value)
    with pytest.raises(RuntimeError, match="gpus=4 asks for 4 GPUs"):
        train_cnn(run, epochs=1, gpus=4)  # the stage's own call launches
    with pytest.raises(ValueError, match="use one of"):
        launch.train_on_gpus(run, "tags_mlp", 2)
    monkeypatch.setenv(launch.BACKEND_VARIABLE, "mpi")
    with pytest.raises(ValueError, match="'mpi' unknown"):
        launch.train_on_gpus(run, "cnn", 2)
    monkeypatch.setenv(launch.BACKEND_VARIABLE, "gloo")
    with pytest.raises(ValueError, match="an extra seed trains in this process"):
        train_cnn(run, epochs=1, seed=7, gpus=2)
    changed = replace(run, profile=replace(run.profile, image_size=32))
    with pytest.raises(ValueError, match="settings its profile file does not hold"):
        launch.train_on_gpus(changed, "cnn", 2)
    assert not (run.run_dir / "cnn").exists()


def test_reproduce_passes_gpus_to_the_notebooks_that_declare_it(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        reproduce.main(["--help"])
    assert "--gpus" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        reproduce.main(["--gpus", "0"])
    assert "--gpus: '0' is not a whole number of at least 1" in capsys.readouterr().err

    monkeypatch.setenv("ANNOKIT_RESULTS", str(tmp_path / "results"))
    seen = tmp_path / "seen.txt"
    notebooks = []
    for name, parameters in (
        ("01_declares", 'profile = "demo"\ngpus = 1'),
        ("02_does_not", 'profile = "demo"'),
    ):
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(
                f"open({str(seen)!r}, 'a').write('{name} ' + str(globals().get('gpus')) + chr(10))"
            ),
        ]
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        notebooks.append(tmp_path / f"{name}.ipynb")
    monkeypatch.setattr(reproduce, "chain", lambda: notebooks)
    # the stamps here depend on the parameters alone
    monkeypatch.setattr(reproduce, "code_digest", lambda: "library")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)  # gpus=2 is checked before a run
    with pytest.raises(SystemExit) as done:
        reproduce.run_cli(reproduce.main, ["--profile", "demo", "--gpus", "2"])
    assert done.value.code == 0
    assert seen.read_text().splitlines() == ["01_declares 2", "02_does_not None"]
    # The number of GPUs does not change what a notebook writes: the executed copies stay up to
    # date.
    assert reproduce.reproduce("demo", {"gpus": 1}, notebooks) == {
        "01_declares": None,
        "02_does_not": None,
    }
