"""``annokit bench --compile-modes``: each torch.compile mode's image and decoder-stack rates, a
mode that fails here recorded with its one-line reason, never a crash."""

from __future__ import annotations

import json

import pytest
import torch

from annokit.bench.compile_rates import (
    COMPILE_RATE_NAMES,
    IMAGE_RATES,
    compile_mode_rates,
    decoder_stack_rate,
    failure,
)
from annokit.bench.measure import BenchOptions, run_bench
from annokit.bench.model_rates import ModelBench
from annokit.bench.printout import compile_table, render
from annokit.bench.timing import Budget, Rate
from annokit.profile import PrecisionSettings, load_profile

ONE_STEP = Budget(warmup=0, steps=1, seconds=0.0)
MAIN = {key: Rate(images=4, seconds=2.0, steps=2) for key in IMAGE_RATES}  # "measured" before


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_bench(mode: str = "off") -> ModelBench:
    return ModelBench(
        "resnet18", 32, 2, 2, torch.device("cpu"), PrecisionSettings(compile=mode), True
    )


def test_the_decoder_stack_step_counts_every_seeds_vectors():
    demo = load_profile("demo")
    rate = decoder_stack_rate(demo, torch.device("cpu"), "off", Budget(0, 2, 0.0))
    assert rate.steps == 2 and rate.images == 2 * len(demo.seeds("rnn")) * demo.rnn.batch_size


def test_a_failing_mode_is_recorded_and_the_others_still_run(monkeypatch):
    def no_compiler(model, mode=None):
        raise RuntimeError("backend='inductor' raised:\nCppCompileError: no C++ compiler\nmore")

    monkeypatch.setattr(torch, "compile", no_compiler)
    modes = ("off", "default", "reduce-overhead")
    records = compile_mode_rates(
        modes, tiny_bench(), (ONE_STEP, ONE_STEP), load_profile("demo"), main=MAIN
    )
    assert list(records) == list(modes)
    assert records["off"]["status"] == "measured" and records["off"]["reused_image_rates"]
    off = records["off"]["rates"]
    assert set(off) == set(COMPILE_RATE_NAMES) and off["cnn_train_step"]["images_per_s"] == 2.0
    assert off["decoder_stack_step"]["images_per_s"] > 0
    assert records["default"] == {
        "status": "failed",
        "reason": "RuntimeError: backend='inductor' raised: CppCompileError: no C++ compiler",
    }
    assert records["reduce-overhead"]["status"] == "failed"
    assert records["reduce-overhead"]["reason"].startswith(
        "ValueError: [precision] compile = 'reduce-overhead' captures CUDA graphs"
    )
    table = compile_table(
        {
            "compile_modes": records,
            "settings": {"decoder_stack": {"model": "released-code", "seeds": 3, "batch": 32}},
        }
    )
    assert "failed: RuntimeError: backend='inductor' raised" in table
    assert " s + rates (3)-(5) above " in table
    assert "released-code Multi-order RNN, 3 seeds, batch 32" in table


def test_a_failure_is_one_line():
    assert failure(ValueError("")) == "ValueError: "
    assert failure(RuntimeError("first\nsecond")) == "RuntimeError: first"
    assert (
        "\n" not in failure(RuntimeError("x" * 1000))
        and len(failure(RuntimeError("x" * 999))) == 300
    )


@pytest.mark.slow
def test_the_benchmark_records_every_mode_asked_for(tmp_path):
    result = run_bench(
        BenchOptions(
            backbone="resnet18",
            image_size=32,
            device="cpu",
            quick=True,
            seconds=0.1,
            images=4,
            batch_size=2,
            inference_batch=2,
            compile_modes=("off", "reduce-overhead"),
            folder=tmp_path / "scratch",
        )
    )
    result = json.loads(json.dumps(result))  # as --json writes it
    assert result["settings"]["compile_modes"] == ["off", "reduce-overhead"]
    assert result["settings"]["precision"]["compile"] == "off"
    off = result["compile_modes"]["off"]
    assert off["status"] == "measured" and off["rates"]["inference"] == result["rates"]["inference"]
    assert result["compile_modes"]["reduce-overhead"]["status"] == "failed"
    printed = render(result)
    assert "| reduce-overhead | -" in printed and "failed: ValueError" in printed
