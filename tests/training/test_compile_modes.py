"""``[precision] compile`` as a torch.compile mode: read from profiles old and new, refused in one
line when unknown, passed to torch.compile, and a compiled fit (image-stage loop, decoder stack)
learning what the eager one learns."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from annokit.methods.decoder_jobs import DecoderData, DecoderJob, multi_order_problem, train_decoder
from annokit.methods.decoder_seeds import VAL_LOSS, fit_seeds
from annokit.methods.multi_order import LabelledScores
from annokit.profile import (
    PROFILES_DIR,
    PrecisionSettings,
    ProfileError,
    RNNSettings,
    Training,
    load_profile,
)
from annokit.profile.compile_modes import COMPILE_MODES
from annokit.training import precision
from annokit.training.checkpoints import load_weights
from annokit.training.config import FLOAT32, FitConfig, fit_config
from annokit.training.fit import FitOptions, fit

NUSWIDE = PROFILES_DIR / "nuswide-m3.toml"
SECONDS = 40  # the most a real compile of these tiny models may take on a loaded 2-core CPU


def profile_with(tmp_path, value: str):
    path = tmp_path / "mine.toml"
    path.write_text(f'extends = "{NUSWIDE}"\n[precision]\ncompile = {value}\n')
    return load_profile(path)


@pytest.mark.parametrize(
    ("toml", "mode"),
    [("false", "off"), ("true", "default"), *((f'"{m}"', m) for m in COMPILE_MODES)],
)
def test_a_profile_takes_a_mode_or_the_old_switch(toml, mode, tmp_path):
    assert profile_with(tmp_path, toml).precision.compile == mode


def test_the_shipped_profiles_compile_nothing():
    assert load_profile("nuswide-m3").precision.compile == "off"
    assert PrecisionSettings().compile == "off"


@pytest.mark.parametrize("value", ['"fast"', "1", '"True"'])
def test_an_unknown_mode_is_one_line_listing_the_modes(value, tmp_path):
    with pytest.raises(ProfileError) as error:
        profile_with(tmp_path, value)
    message = str(error.value)
    assert "\n" not in message and "[precision] compile = " in message
    assert message.endswith("use one of off, default, reduce-overhead, max-autotune")


def test_compile_mode_reads_the_switch_and_refuses_the_rest():
    assert precision.compile_mode(False) == "off" and precision.compile_mode(True) == "default"
    assert [precision.compile_mode(m) for m in COMPILE_MODES] == list(COMPILE_MODES)
    with pytest.raises(ValueError, match="compile = 'fast' is not allowed: use one of off, def"):
        precision.compile_mode("fast")


@pytest.fixture
def compile_calls(monkeypatch):
    """torch.compile replaced by a recorder: (model, mode) per call; returns a wrapper."""
    calls = []

    def recorder(model, mode=None):
        calls.append((model, mode))
        return nn.Sequential(model)

    monkeypatch.setattr(torch, "compile", recorder)
    return calls


@pytest.mark.parametrize("mode", ["default", "max-autotune", True])
def test_maybe_compile_passes_the_mode_to_torch_compile(mode, compile_calls):
    model = nn.Linear(3, 2)
    compiled = precision.maybe_compile(model, mode)
    assert compile_calls == [(model, precision.compile_mode(mode))] and compiled[0] is model
    assert precision.maybe_compile(model, "off") is model and len(compile_calls) == 1


def test_cuda_graphs_are_refused_off_cuda_and_passed_on_it(compile_calls, monkeypatch):
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError) as error:
        precision.maybe_compile(model, "reduce-overhead")
    assert "need a CUDA device, but the model is on cpu: set compile = 'default' or 'off'" in str(
        error.value
    )
    assert not compile_calls
    monkeypatch.setattr(precision, "model_device_type", lambda m: "cuda")
    precision.maybe_compile(model, "reduce-overhead")
    assert compile_calls == [(model, "reduce-overhead")]


def test_describe_names_the_mode():
    assert precision.describe("cpu", PrecisionSettings())["compile"] == "off"
    settings = PrecisionSettings(compile="max-autotune")
    assert precision.describe("cuda", settings, bf16=True)["compile"] == "max-autotune"


def tiny_fit(tmp_path, mode: str) -> tuple[list[float], dict]:
    """Four epochs of a small MLP through the image stages' fit loop, compiled with ``mode``."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    x = torch.randn(48, 6, generator=torch.Generator().manual_seed(1))
    y = (x[:, :3] > 0).float()
    config = FitConfig(
        Training(epochs=4, batch_size=16, lr=0.1, optimizer="sgd"),
        precision=replace(FLOAT32, compile=mode),
    )
    history = fit(
        model,
        TensorDataset(x, y),
        lambda m, b: F.binary_cross_entropy_with_logits(m(b[0]), b[1]),
        config,
        tmp_path / mode,
        FitOptions(progress=False),
    )
    return history.train_loss, torch.load(tmp_path / mode / "final.pt", weights_only=True)


@pytest.mark.slow
def test_a_compiled_fit_follows_the_eager_loss_curve(tmp_path):
    eager, eager_final = tiny_fit(tmp_path, "off")
    started = time.perf_counter()
    compiled, compiled_final = tiny_fit(tmp_path, "default")  # inductor's C++ on the CPU
    assert time.perf_counter() - started < SECONDS
    assert compiled == pytest.approx(eager, rel=1e-5) and compiled[-1] < compiled[0]
    # the plain module's weights are saved, under its own names, as an eager fit saves them
    assert list(compiled_final["model"]) == list(eager_final["model"])
    for key, value in eager_final["model"].items():
        torch.testing.assert_close(compiled_final["model"][key], value, rtol=1e-5, atol=1e-6)
    assert compiled_final["config"]["fit"]["precision"]["compile"] == "default"


def decoder_settings() -> RNNSettings:
    return RNNSettings(
        hidden=8,
        embedding=4,
        steps=2,
        lr=1e-3,
        epochs=2,
        batch_size=16,
        variant="released-code",
        optimizer="rmsprop_tf",
    )


def stacked_fit(tmp_path, mode: str):
    """Two seeds of a small released-code Multi-order RNN as one stack, compiled with ``mode``."""
    rng = torch.Generator().manual_seed(0)
    y = (torch.rand(40, 4, generator=rng) < 0.4).float()
    s_hat = (0.6 * y + 0.4 * torch.rand(40, 4, generator=rng)).numpy()
    train = LabelledScores(s_hat[:32], y[:32].numpy())
    curve = LabelledScores(s_hat[32:], y[32:].numpy())
    settings = decoder_settings()
    problem = multi_order_problem(settings, train, curve)
    floats = replace(FLOAT32, compile=mode)
    configs = [fit_config(settings, s, drop_last=True, precision=floats) for s in (0, 1)]
    folders = [tmp_path / mode / f"seed{s}" for s in (0, 1)]
    return problem, folders, fit_seeds(problem, configs, folders, patience=0)


@pytest.mark.slow
def test_a_stack_trains_through_the_compiled_step_as_eagerly(tmp_path, monkeypatch):
    """The decoder stack through dynamo and AOTAutograd (the ``aot_eager`` backend: the graphs
    inductor would compile, run by PyTorch's kernels) learns what the eager stack learns."""
    real_compile, modes = torch.compile, []

    def aot_eager(model, mode=None):
        modes.append(mode)
        return real_compile(model, backend="aot_eager")

    _, _, eager = stacked_fit(tmp_path, "off")
    monkeypatch.setattr(torch, "compile", aot_eager)
    problem, folders, compiled = stacked_fit(tmp_path, "default")
    assert modes == ["default"]
    for plain, fast in zip(eager, compiled):
        assert fast.epoch == plain.epoch
        assert fast.history.train_loss == pytest.approx(plain.history.train_loss, rel=1e-5)
        curve = [m[VAL_LOSS] for m in plain.history.metrics]
        assert [m[VAL_LOSS] for m in fast.history.metrics] == pytest.approx(curve, rel=1e-5)
        for key, value in plain.model.state_dict().items():
            torch.testing.assert_close(fast.model.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    # the checkpoint holds the plain decoder's weights, and loads into one
    model = problem.build()
    saved = load_weights(folders[0] / "final.pt", model)
    assert saved["config"]["fit"]["precision"]["compile"] == "default"
    assert set(saved["model"]) == set(model.state_dict())


def test_a_decoder_job_trains_its_stack_in_the_profiles_mode(tmp_path, monkeypatch):
    """Notebook 05's job hands ``[precision] compile`` to its seeds' stack, and records it."""
    modes = []
    monkeypatch.setattr(torch, "compile", lambda model, mode=None: modes.append(mode) or model)
    rng = torch.Generator().manual_seed(0)
    y = (torch.rand(24, 4, generator=rng) < 0.4).float().numpy()
    s_hat = torch.rand(24, 4, generator=rng).numpy()
    data = DecoderData(
        fit=LabelledScores(s_hat[:16], y[:16]),
        validation=LabelledScores(s_hat[16:], y[16:]),
        s_test=s_hat[16:],
        test_rows=torch.arange(8).numpy(),
        label_names=("a", "b", "c", "d"),
    )
    settings = replace(decoder_settings(), epochs=1, batch_size=8)
    job = DecoderJob("released-code", (0,), settings, 0, tmp_path, compile="max-autotune")
    train_decoder(job, data)
    assert modes == ["max-autotune"]
    final = next(tmp_path.glob("rnn/*/final.pt"))
    saved = torch.load(final, weights_only=True)
    assert saved["config"]["fit"]["precision"]["compile"] == "max-autotune"
