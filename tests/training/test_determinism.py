"""Same command, same numbers: a stage run twice in two processes ends with identical weights."""

import subprocess
import sys

import pytest
import torch

SCRIPT = """
import sys
from dataclasses import replace
from pathlib import Path

import torch

from annokit.artifacts.run import open_run
from annokit.methods.m3 import train_cnn
from annokit.methods.m3_heads import train_classifier

work, out = Path(sys.argv[1]), Path(sys.argv[2])
run = replace(open_run("demo", work_dir=str(work)), run_dir=out)
cnn, history = train_cnn(run, epochs=1, monitor=False)
generator = torch.Generator().manual_seed(0)
features = torch.randn(len(run.index.rows("train")), 8, generator=generator).numpy()
head, _, scores = train_classifier(run, "classifier", features, features[:5], epochs=2)
weights = {"cnn": cnn.state_dict(), "head": head.state_dict(), "loss": history.train_loss}
torch.save(weights, out / "weights.pt")
"""


def train_in_a_new_process(work, out):
    out.mkdir()
    subprocess.run(
        [sys.executable, "-c", SCRIPT, str(work), str(out)], check=True, capture_output=True
    )
    return torch.load(out / "weights.pt", weights_only=True)


@pytest.mark.slow
def test_two_processes_train_identical_weights(make_tiny_run, tmp_path):
    make_tiny_run(tmp_path / "work")
    first, second = (
        train_in_a_new_process(tmp_path / "work", tmp_path / name) for name in ("first", "second")
    )
    assert first["loss"] == second["loss"]
    for part in ("cnn", "head"):
        assert first[part].keys() == second[part].keys()
        for key, value in first[part].items():
            assert torch.equal(value, second[part][key]), (
                f"{part}.{key} differs between the two processes"
            )
