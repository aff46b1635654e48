"""Several GPUs from the notebooks: a stage trained by torchrun (gloo, 2 CPU processes) writes the files of one process."""

import json

import nbformat
import numpy as np
import pytest
import torch

from annokit import reproduce
from annokit.artifacts.features import cache_path
from annokit.artifacts.predictions import prediction_path
from annokit.artifacts.run import open_stage
from annokit.methods import launch
from annokit.methods.m3 import cache_and_annotate, image_splits, train_cnn
from annokit.training.checkpoints import load_checkpoint


def notebook_01_tail(work, capsys) -> str:
    """What notebook 01 does after ``train_on_gpus``: train (or load) the CNN, then cache and annotate; its output."""
    run = open_stage("demo", "", str(work), "cpu")
    device = run.device
    cnn, _ = train_cnn(run.profile, run.index, run.data_root, run.run_dir, device, epochs=1, monitor=False)
    cache_and_annotate(run, cnn, "cnn", image_splits(run), device, cache="cnn", with_scores=True)
    return capsys.readouterr().out


def layout(path) -> dict:
    """Every array of an .npz file: its name, shape and dtype (text: its kind), and the keys of its JSON meta."""
    with np.load(path, allow_pickle=False) as arrays:
        found = {key: (arrays[key].shape, arrays[key].dtype.kind if key == "meta" else arrays[key].dtype.str)
                 for key in arrays.files}
        found["meta keys"] = sorted(json.loads(str(arrays["meta"])))
    return found


@pytest.mark.slow
def test_two_gloo_processes_write_the_files_of_one(make_tiny_run, tmp_path, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    for work in (one, two):
        make_tiny_run(work)
    final = launch.train_on_gpus("cnn", "demo", "", str(two), gpus=2, epochs=1, backend="gloo", monitor=False)
    assert final == two / "runs" / "demo" / "cnn" / "final.pt"
    assert "epoch 1/1" in capsys.readouterr().out  # the workers' output is streamed
    assert load_checkpoint(final)["meta"]["world_size"] == 2

    assert "nothing to train" in notebook_01_tail(two, capsys)  # the notebook's own call loads final.pt
    assert load_checkpoint(final)["meta"]["world_size"] == 2  # ... and leaves it as the two processes wrote it
    assert "nothing to train" not in notebook_01_tail(one, capsys)
    runs = {work: work / "runs" / "demo" for work in (one, two)}
    for path_of in (lambda run: prediction_path(run, "cnn"), lambda run: cache_path(run, "cnn_scores"),
                    lambda run: cache_path(run, "cnn_features")):
        assert layout(path_of(runs[two])) == layout(path_of(runs[one]))
    with np.load(prediction_path(runs[two], "cnn")) as ddp, np.load(prediction_path(runs[one], "cnn")) as single:
        assert np.array_equal(ddp["rows"], single["rows"])
        assert ((ddp["scores"] >= 0) & (ddp["scores"] <= 1)).all()
    assert launch.train_on_gpus("cnn", "demo", "", str(two), gpus=2, epochs=1, backend="gloo") is None  # finished: reused


@pytest.mark.slow
def test_a_failed_worker_is_one_line_naming_the_stage_and_the_log(make_tiny_run, tmp_path):
    make_tiny_run(tmp_path)  # no cnn/final.pt: the MS-CNN has nothing to start from
    with pytest.raises(launch.StageLaunchFailed) as failed:
        launch.train_on_gpus("mscnn", "demo", "", str(tmp_path), gpus=2, epochs=1, backend="gloo")
    message = str(failed.value)
    log = tmp_path / "runs" / "demo" / "mscnn" / launch.LOG_NAME
    assert "\n" not in message and message.startswith("mscnn stage failed") and str(log) in message
    assert "no checkpoint at" in message and "cnn/final.pt" in message  # the workers' own error
    assert "no checkpoint at" in log.read_text()


def test_one_gpu_does_nothing_and_missing_gpus_are_refused(tmp_path, monkeypatch):
    assert launch.train_on_gpus("cnn", "demo", "", str(tmp_path), gpus=1) is None
    assert not any(tmp_path.iterdir())
    monkeypatch.delenv(launch.BACKEND_VARIABLE, raising=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(RuntimeError, match=r"gpus=4 asks for 4 GPUs but this machine shows 1 CUDA device") as refused:
        launch.train_on_gpus("cnn", "demo", "", str(tmp_path), gpus=4)
    assert "\n" not in str(refused.value)
    with pytest.raises(ValueError, match="use one of"):
        launch.train_on_gpus("tags_mlp", "demo", "", str(tmp_path), gpus=2)
    monkeypatch.setenv(launch.BACKEND_VARIABLE, "mpi")
    with pytest.raises(ValueError, match="'mpi' unknown"):
        launch.train_on_gpus("cnn", "demo", "", str(tmp_path), gpus=2)


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
    for name, parameters in (("01_declares", 'profile = "demo"\ngpus = 1'), ("02_does_not", 'profile = "demo"')):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
                    nbformat.v4.new_code_cell(f"open({str(seen)!r}, 'a').write('{name} ' + str(globals().get('gpus')) + chr(10))")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        notebooks.append(tmp_path / f"{name}.ipynb")
    monkeypatch.setattr(reproduce, "chain", lambda: notebooks)
    monkeypatch.setattr(reproduce, "code_digest", lambda: "library")  # the stamps here depend on the parameters alone
    with pytest.raises(SystemExit) as done:
        reproduce.run_cli(reproduce.main, ["--profile", "demo", "--gpus", "2"])
    assert done.value.code == 0
    assert seen.read_text().splitlines() == ["01_declares 2", "02_does_not None"]
    # The number of GPUs does not change what a notebook writes: the executed copies stay up to date.
    assert reproduce.reproduce("demo", {"gpus": 1}, notebooks) == {"01_declares": None, "02_does_not": None}
