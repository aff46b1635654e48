"""The runner's guards: one run per run folder, changed data reruns the chain, ``-p`` values
checked against the notebooks' parameters, ``--workers`` and ``--gpus`` checked before any notebook,
a loader worker's traceback reduced to the kit's message."""

import json
import os
import subprocess
import sys

import pytest
import torch
from tests.cli.test_reproduce import write_notebook

from annokit import reproduce

PARAMETERS = (
    'profile = "demo"\nepochs = 2\nrate = 0.5\nforce = False\nworkers = None\n'
    'companions = ["a", "b"]\ngpus = 1'
)


@pytest.fixture
def chain(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOKIT_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("ANNOKIT_WORK", str(tmp_path / "work"))
    log = tmp_path / "log.txt"
    folder = tmp_path / "notebooks"
    folder.mkdir()
    body = (
        f"open({str(log)!r}, 'a').write(repr((epochs, rate, force, workers, companions)) + chr(10))"
    )
    write_notebook(folder / "00_only.ipynb", body, parameters=PARAMETERS)
    monkeypatch.setattr(reproduce, "chain", lambda *a: [folder / "00_only.ipynb"])
    return folder, log, tmp_path / "work"


def run_main(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        reproduce.run_cli(reproduce.main, argv, prog="reproduce")
    return exit_.value.code, capsys.readouterr().err.strip().splitlines()


def test_a_second_run_of_the_same_folder_stops_naming_the_lock_and_process(chain, capsys):
    _, log, work = chain
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = work / "runs" / "demo" / ".lock"
        lock.parent.mkdir(parents=True)
        lock.write_text(f"{other.pid}\n")
        code, err = run_main([], capsys)
        assert code == 2 and len(err) == 1
        assert f"{lock}: another reproduce (process {other.pid}) is running" in err[0]
        assert not log.exists()
    finally:
        other.kill()
        other.wait()
    # its process has ended: the lock is stale and taken over, then removed at the end
    run_main([], capsys)
    assert log.exists() and not lock.exists()


def test_typed_parameters_reach_the_notebook(chain, capsys):
    _, log, _ = chain
    argv = ["-p", "epochs", "3", "-p", "rate", "1e-3", "-p", "force", "true"]
    argv += ["-p", "workers", "4", "-p", "companions", "demo-coco"]
    assert run_main(argv, capsys)[0] == 0
    assert log.read_text().strip() == repr((3, 0.001, True, 4, ["demo-coco"]))


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("epochs", "abc", "expects a whole number for epochs"),
        ("force", "yes", "expects true or false (also 1 or 0) for force"),
        ("rate", "fast", "expects a number for rate"),
        ("workers", "many", "expects a whole number or none for workers"),
    ],
)
def test_a_value_of_the_wrong_type_names_parameter_notebook_and_type(
    chain, capsys, name, value, expected
):
    _, log, _ = chain
    code, err = run_main(["-p", name, value], capsys)
    assert code == 2 and len(err) == 1
    assert f"-p {name} {value!r}: 00_only.ipynb {expected}" in err[0]
    assert not log.exists()


def test_an_undeclared_parameter_is_refused(chain, capsys):
    code, err = run_main(["-p", "epoch", "3"], capsys)
    assert code == 2 and "-p epoch: no notebook of the chain declares" in err[0]


def test_negative_workers_other_than_automatic_are_refused(chain, capsys):
    code, err = run_main(["--workers", "-5"], capsys)
    assert code == 2 and "argument --workers: '-5' is not a number of processes" in err[-1]
    assert run_main(["--workers", "-1"], capsys)[0] == 0


def test_gpus_without_gpus_stop_before_the_first_notebook_unless_all_are_done(
    chain, capsys, monkeypatch
):
    _, log, _ = chain
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    code, err = run_main(["--gpus", "2"], capsys)
    assert code == 2 and "gpus=2 asks for 2 GPUs but this machine shows 0" in err[0]
    assert not log.exists()
    assert run_main([], capsys)[0] == 0  # trained on one
    assert run_main(["--gpus", "2"], capsys)[0] == 0  # every GPU stage finished: goes on
    assert log.read_text().count("\n") == 1


def test_a_rebuilt_index_or_changed_images_rerun_the_chain(chain, capsys, tmp_path):
    _, log, work = chain
    meta = work / "runs" / "demo" / "index" / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"fingerprint": "first"}))
    root = tmp_path / "nuswide"
    (root / "Flickr").mkdir(parents=True)
    image = root / "Flickr" / "a.jpg"
    image.write_bytes(b"x")
    argv = ["--data-root", str(root)]
    for _ in range(2):
        run_main(argv, capsys)
    assert log.read_text().count("\n") == 1  # up to date the second time
    meta.write_text(json.dumps({"fingerprint": "rebuilt"}))  # prepare made a new index
    run_main(argv, capsys)
    assert log.read_text().count("\n") == 2
    image.write_bytes(b"xy")  # an image changed: notebook 00 must see it
    run_main(argv, capsys)
    assert log.read_text().count("\n") == 3
    os.utime(image, ns=(0, 0))
    run_main(argv, capsys)
    assert log.read_text().count("\n") == 4


def test_a_loader_workers_traceback_is_reduced_to_the_kits_message(chain, capsys):
    folder, _, _ = chain
    flattened = (
        "Caught FileNotFoundError in DataLoader worker process 0.\\nOriginal Traceback (most "
        "recent call last):\\n  File x, line 1, in y\\nFileNotFoundError: image /d/a.jpg is "
        "missing (row 3 of the prepared index): restore it\\n"
    )
    write_notebook(folder / "00_only.ipynb", f"raise FileNotFoundError('{flattened}')", PARAMETERS)
    code, err = run_main([], capsys)
    assert code == 2 and err[-1].startswith("reproduce: error: 00_only.ipynb failed in cell")
    assert (
        "(FileNotFoundError: image /d/a.jpg is missing (row 3 of the prepared index): " in err[-1]
    )
    assert "Traceback" not in err[-1] and "Traceback" not in err[-2]
