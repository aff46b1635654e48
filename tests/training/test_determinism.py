"""Same command, same numbers: a stage run twice in separate processes ends with identical weights."""

import subprocess
import sys

import pytest
import torch

SCRIPT = """
import sys
from pathlib import Path

import torch

from annokit.data.index import load_index
from annokit.methods.m3 import train_classifier, train_cnn
from annokit.profile import load_profile

run_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
index, profile = load_index(run_dir / "index"), load_profile("demo")
cnn, history = train_cnn(profile, index, index.meta["data_root"], out, "cpu", epochs=1, monitor=False)
features = torch.randn(len(index.rows("train")), 8, generator=torch.Generator().manual_seed(0)).numpy()
head, _, scores = train_classifier(profile, index, out, "classifier", features, features[:5], "cpu", epochs=2)
torch.save({"cnn": cnn.state_dict(), "head": head.state_dict(), "loss": history.train_loss}, out / "weights.pt")
"""


def train_in_a_new_process(run_dir, out):
    out.mkdir()
    subprocess.run([sys.executable, "-c", SCRIPT, str(run_dir), str(out)], check=True, capture_output=True)
    return torch.load(out / "weights.pt", weights_only=True)


@pytest.mark.slow
def test_two_processes_train_identical_weights(make_tiny_run, tmp_path):
    run_dir, _ = make_tiny_run(tmp_path / "work")
    first, second = (train_in_a_new_process(run_dir, tmp_path / name) for name in ("first", "second"))
    assert first["loss"] == second["loss"]
    for part in ("cnn", "head"):
        assert first[part].keys() == second[part].keys()
        for key, value in first[part].items():
            assert torch.equal(value, second[part][key]), f"{part}.{key} differs between the two processes"
