"""The demo's stand-in for ImageNet: its pretraining set, its torchvision-format
weights, built once and checked."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from annokit.artifacts.run import Run
from annokit.demo import LABEL_NAMES
from annokit.demo.pretraining import (
    CLASSES,
    image_path,
    read_pretraining_set,
    write_pretraining_set,
)
from annokit.demo.standin import ensure_standin, is_built
from annokit.methods.m3 import train_cnn
from annokit.models import build_backbone
from annokit.profile import load_profile
from annokit.training.weights import WeightsError, entry_path, resolve_weights_path, verify_weights


def test_the_pretraining_task_is_not_the_annotation_task():
    assert len(CLASSES) == 12 and not any(
        part in LABEL_NAMES for name in CLASSES for part in name.split("_")
    )


def test_the_pretraining_set_is_balanced_in_imagenet_layout_and_resumes_with_the_same_files(
    tmp_path,
):
    write_pretraining_set(tmp_path, 36, 32, seed=5)
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == sorted(CLASSES)
    images, classes = read_pretraining_set(tmp_path, 36, seed=5)
    assert images.shape == (36, 32, 32, 3) and images.dtype == np.uint8
    assert np.bincount(classes, minlength=12).tolist() == [3] * 12
    first = image_path(tmp_path, 7, seed=5)
    assert first.parent.name == CLASSES[classes[7]] and first.suffix == ".JPEG"
    content = first.read_bytes()
    first.unlink()  # an interrupted write: the missing file comes back byte for byte
    write_pretraining_set(tmp_path, 36, 32, seed=5)
    assert first.read_bytes() == content


@pytest.mark.slow
def test_the_standin_is_a_torchvision_state_dict_reused_and_checked(tmp_path, capsys):
    profile = load_profile("demo")
    settings = replace(profile.standin, images=24, image_size=32, epochs=1, batch_size=12)
    weights = ensure_standin(
        settings, "resnet18", tmp_path / "resnet18-standin.pth", tmp_path / "set"
    )
    state = torch.load(weights, map_location="cpu", weights_only=True)
    # strict: every key, every shape
    torchvision.models.resnet18(num_classes=len(CLASSES)).load_state_dict(state)
    entry = json.loads(entry_path(weights).read_text())
    assert (
        entry["recipe"]["images"] == 24
        and 0.0 <= entry["held_out_accuracy"] <= 1.0
        and entry["chance"] == 1 / 12
    )
    assert is_built(weights, settings, "resnet18") and not is_built(
        weights, replace(settings, epochs=2), "resnet18"
    )

    mtime = weights.stat().st_mtime_ns
    ensure_standin(settings, "resnet18", weights, tmp_path / "set")
    assert (
        weights.stat().st_mtime_ns == mtime
        and "reused, not trained again" in capsys.readouterr().out
    )

    model = build_backbone("resnet18", num_classes=7, weights_path=verify_weights(weights))
    assert torch.equal(model.conv1.weight, state["conv1.weight"]) and model.fc.out_features == 7

    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    with pytest.raises(
        WeightsError, match=r"resnet18-standin.pth do not match the checksum .* run notebook 00"
    ):
        verify_weights(weights)
    assert not is_built(weights, settings, "resnet18")


def tiny_run(profile, index, run_dir: Path) -> Run:
    """A ``Run`` over a tiny prepared index, on the CPU."""
    return Run(
        profile=profile,
        run_dir=run_dir,
        index=index,
        data_root=Path(index.meta["data_root"]),
        results=run_dir / "results",
        work_dir=run_dir.parents[1],
    )


@pytest.mark.slow
def test_the_demo_cnn_starts_from_the_standin_and_a_missing_file_names_notebook_00(
    make_tiny_run, tmp_path, monkeypatch, tiny_standin
):
    profile = load_profile("demo")
    assert resolve_weights_path(profile.cnn.weights_path) == tiny_standin
    run_dir, index = make_tiny_run(tmp_path)
    standin = torch.load(tiny_standin, map_location="cpu", weights_only=True)
    torch.manual_seed(0)
    model, _ = train_cnn(
        tiny_run(replace(profile, image_size=32), index, run_dir), epochs=1, monitor=False
    )
    start = standin["layer4.1.conv2.weight"]
    moved = float((model.layer4[1].conv2.weight.detach() - start).norm() / start.norm())
    # fine-tuned from the stand-in (one epoch moves it a little), not from a random start
    assert 0 < moved < 0.1

    monkeypatch.setenv("ANNOKIT_WEIGHTS", str(tmp_path / "empty"))
    with pytest.raises(WeightsError, match=r"resnet18-standin.pth are missing: run notebook 00"):
        train_cnn(tiny_run(profile, index, tmp_path / "runs" / "other"), epochs=1, monitor=False)
