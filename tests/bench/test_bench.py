"""python -m annokit.bench: the five rates, the loaders' ratio and the
projection of every paper profile."""

import json

import pytest
import torch

from annokit.bench.__main__ import main
from annokit.bench.projection import PAPER_PROFILES, project_profile
from annokit.bench.timing import Budget, measure
from annokit.bench.vector_rates import VECTOR_RATE_NAMES
from annokit.profile import PROFILES_DIR

RATES = ("jpeg_loader", "cached_loader", "cnn_train_step", "mscnn_train_step", "inference")
VECTORS = dict.fromkeys(VECTOR_RATE_NAMES, 10_000.0)  # vectors/s of the models on cached vectors


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a busy 2-core machine two threads wait on
    each other at every small kernel."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_a_tiny_cpu_run_writes_every_number(tmp_path, capsys):
    out = tmp_path / "bench" / "out.json"
    main(
        [
            "--quick",
            "--seconds",
            "0.5",
            "--device",
            "cpu",
            "--backbone",
            "resnet18",
            "--image-size",
            "32",
            "--images",
            "8",
            "--batch-size",
            "4",
            "--inference-batch",
            "4",
            "--folder",
            str(tmp_path / "scratch"),
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    assert set(result["rates"]) == set(RATES)
    assert set(result["vector_rates"]) == set(VECTOR_RATE_NAMES)
    assert all(rate["images_per_s"] > 0 for rate in result["vector_rates"].values())
    for rate in result["rates"].values():
        assert rate["images_per_s"] > 0 and rate["images"] > 0 and rate["seconds"] > 0
    assert result["cached_to_jpeg_ratio"] == pytest.approx(
        result["rates"]["cached_loader"]["images_per_s"]
        / result["rates"]["jpeg_loader"]["images_per_s"]
    )
    assert set(result["projection"]) == set(PAPER_PROFILES)
    for projected in result["projection"].values():
        assert projected["hours"] > 0 and projected["hours"] == pytest.approx(
            sum(s["hours"] for s in projected["stages"].values())
        )
    hardware, settings = result["hardware"], result["settings"]
    assert hardware["cpu"] and hardware["cores"] >= 1 and hardware["torch"]
    assert (
        settings["backbone"] == "resnet18"
        and settings["image_size"] == 32
        and settings["images"] == 8
    )
    assert settings["precision"]["autocast"] == "off (float32)" and settings["workers"] == 0
    printed = capsys.readouterr().out
    assert (
        "(5) inference" in printed
        and "nuswide-multi-order" in printed
        and f"wrote {out}" in printed
    )


def test_projection_arithmetic():
    rates = {
        "jpeg_loader": 50.0,
        "cached_loader": 1000.0,
        "cnn_train_step": 100.0,
        "mscnn_train_step": 4000.0,
        "inference": 2000.0,
        **VECTORS,
    }
    projected = project_profile("nuswide-m3", rates)
    stages = projected["stages"]
    # M3 Sec. IV-A1, data_manifests/nuswide_m3.json
    assert projected["split"] == {"train": 94_570, "test": 55_335}
    fit = 94_570 - round(0.1 * 94_570)  # [evaluation] holds 10 % of the training images out
    assert (
        stages["cnn training"]["images"] == fit * 20
        and stages["cnn training"]["bound_by"] == "cnn_train_step"
    )
    assert stages["cnn training"]["hours"] == pytest.approx(fit * 20 / 100 / 3600)
    assert (
        stages["mscnn training"]["bound_by"] == "loader"
        and stages["mscnn training"]["images_per_s"] == 1000.0
    )
    assert stages["cache build"]["hours"] == pytest.approx((94_570 + 55_335) / 50 / 3600)
    assert stages["cnn validation curve"]["images"] == 5000 * 20  # [evaluation] limit, every epoch
    assert stages["cnn features"]["images"] == 94_570 + 55_335


def test_without_the_cache_the_jpeg_loader_bounds_every_stage(tmp_path):
    path = tmp_path / "no-cache.toml"
    path.write_text(f'extends = "{PROFILES_DIR / "nuswide-m3.toml"}"\n[cache]\nenabled = false\n')
    rates = {
        "jpeg_loader": 50.0,
        "cached_loader": 1000.0,
        "cnn_train_step": 100.0,
        "mscnn_train_step": 400.0,
        "inference": 2000.0,
        **VECTORS,
    }
    projected = project_profile(str(path), rates)
    assert "cache build" not in projected["stages"] and not projected["cache"]
    image_stages = [s for s in projected["stages"].values() if s["bound_by"] in ("loader", *RATES)]
    per_notebook = {}
    for stage in image_stages:
        per_notebook[stage["notebook"]] = per_notebook.get(stage["notebook"], 0) + 1
    # 01 and 02: training, curve, features; 06: the grid, the curriculum, the labelling and
    # curriculum strategies and the GNN head; 07: the CNN-RNN's phase 2 and its scoring passes
    assert per_notebook == {
        "01_cnn_finetune": 3,
        "02_ms_cnn": 3,
        "06_partial_labels": 8,
        "07_cnn_rnn": 2,
    }
    assert all(
        stage["images_per_s"] == 50.0 and stage["bound_by"] == "loader" for stage in image_stages
    )


def test_measure_spends_its_budget():
    calls = []
    rate = measure(
        lambda: calls.append(1) or 3,
        Budget(warmup=2, steps=4, seconds=0.0),
        device=torch.device("cpu"),
    )
    assert len(calls) == 6 and rate.steps == 4 and rate.images == 12 and rate.images_per_s > 0


def test_a_prepared_profile_replaces_the_synthetic_jpegs(make_tiny_run, tmp_path):
    from annokit.bench.measure import BenchOptions, run_bench

    make_tiny_run(tmp_path / "work")
    result = run_bench(
        BenchOptions(
            backbone="resnet18",
            image_size=32,
            device="cpu",
            quick=True,
            seconds=0.2,
            images=6,
            batch_size=3,
            inference_batch=3,
            profile="demo",
            work_dir=str(tmp_path / "work"),
            folder=tmp_path / "scratch",
        )
    )
    assert result["settings"]["images"] == 6 and result["settings"]["source"].startswith(
        "training images of demo"
    )
    assert result["rates"]["cached_loader"]["images_per_s"] > 0
