"""Precision and kernel decisions as pure functions of the device and the profile's [precision]
settings."""

import pytest
import torch
from torch import nn

from annokit.profile import PROFILES_DIR, PrecisionSettings, ProfileError, load_profile
from annokit.profile.sections import AMP_SETTINGS
from annokit.training import precision
from annokit.training.config import fit_config

PAPER_PROFILES = ("nuswide-m3", "nuswide-multi-order", "coco-m3", "coco-multi-order")


@pytest.mark.parametrize("setting", AMP_SETTINGS)
def test_the_cpu_always_runs_float32(setting):
    assert precision.autocast_dtype("cpu", setting, bf16=True) is None


@pytest.mark.parametrize(
    ("setting", "bf16", "expected"),
    [
        ("auto", True, torch.bfloat16),
        ("auto", False, torch.float16),
        ("bf16", True, torch.bfloat16),
        ("fp16", True, torch.float16),
        ("fp16", False, torch.float16),
        ("off", True, None),
    ],
)
def test_cuda_autocast_dtype(setting, bf16, expected):
    assert precision.autocast_dtype("cuda", setting, bf16=bf16) == expected


def test_bf16_on_a_card_without_it_names_the_fix():
    with pytest.raises(ValueError, match="no bfloat16: set amp = 'auto' or 'fp16'"):
        precision.autocast_dtype("cuda", "bf16", bf16=False)


def test_an_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="use one of auto, bf16, fp16, off"):
        precision.autocast_dtype("cuda", "fp32", bf16=True)


def test_only_float16_needs_loss_scaling():
    assert precision.needs_grad_scaler(torch.float16)
    assert not precision.needs_grad_scaler(torch.bfloat16)
    assert not precision.needs_grad_scaler(None)
    assert not precision.grad_scaler(torch.bfloat16).is_enabled()


def test_autocast_context():
    with precision.autocast("cpu", None):
        assert not torch.is_autocast_enabled("cpu")
    with precision.autocast("cpu", torch.bfloat16):
        assert torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


def test_channels_last_only_on_cuda_and_cudnn_benchmark_only_when_not_deterministic():
    assert precision.uses_channels_last("cuda", True) and not precision.uses_channels_last(
        "cpu", True
    )
    assert not precision.uses_channels_last("cuda", False)
    before = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    fast = PrecisionSettings(deterministic=False, cudnn_benchmark=True)
    try:
        assert precision.apply_kernel_settings("cuda", fast) == {
            "deterministic": False,
            "cudnn_benchmark": True,
        }
        assert torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
        assert precision.apply_kernel_settings("cpu", fast)["cudnn_benchmark"] is False
        # deterministic wins over the benchmark, which picks kernels by timing them
        strict = PrecisionSettings(deterministic=True, cudnn_benchmark=True)
        assert precision.apply_kernel_settings("cuda", strict) == {
            "deterministic": True,
            "cudnn_benchmark": False,
        }
        assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
        # strict: an op without a deterministic kernel raises instead of warning
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before
        torch.use_deterministic_algorithms(True)


def test_global_average_pool_is_the_adaptive_pool_to_the_last_bit_on_the_cpu():
    from annokit.models.pooling import GlobalAvgPool

    maps = torch.randn(3, 5, 7, 9, generator=torch.Generator().manual_seed(0))
    pooled = GlobalAvgPool()(maps)
    assert pooled.shape == (3, 5, 1, 1)
    assert torch.equal(pooled, nn.AdaptiveAvgPool2d(1)(maps))
    torch.testing.assert_close(pooled, maps.mean(dim=(2, 3), keepdim=True))


def test_compile_wraps_the_model_and_shares_its_parameters():
    model = nn.Linear(3, 2)
    assert precision.maybe_compile(model, False) is model
    compiled = precision.maybe_compile(model, True)  # lazy: nothing is compiled until it is called
    assert compiled is not model and compiled._orig_mod is model
    assert list(model.state_dict()) == ["weight", "bias"]


def test_describe_records_what_a_stage_runs_with():
    fp16_card = precision.describe("cuda", PrecisionSettings(), bf16=False)
    assert fp16_card == {
        "amp": "auto",
        "autocast": "float16",
        "grad_scaler": True,
        "channels_last": True,
        "deterministic": True,
        "cudnn_benchmark": False,
        "compile": "off",
    }
    assert precision.describe("cuda", PrecisionSettings(), bf16=True)["autocast"] == "bfloat16"
    assert (
        precision.describe("cpu", PrecisionSettings(cudnn_benchmark=True))["autocast"]
        == "off (float32)"
    )


def test_image_stages_take_the_profiles_precision_and_heads_train_in_float32():
    profile = load_profile("nuswide-m3")
    image = fit_config(profile.cnn, 0, loader=profile.loader, precision=profile.precision)
    assert image.precision == profile.precision and image.loader == profile.loader
    head = fit_config(profile.lqp, 0)
    assert head.precision.amp == "off" and head.loader.workers == 0


@pytest.mark.parametrize("name", PAPER_PROFILES)
def test_paper_profiles_set_precision_and_cache(name):
    profile = load_profile(name)
    assert profile.precision == PrecisionSettings(
        amp="auto", channels_last=True, deterministic=True, cudnn_benchmark=False, compile="off"
    )
    assert profile.cache.enabled and profile.cache.folder == ""


def test_demo_keeps_the_defaults():
    profile = load_profile("demo")
    assert profile.precision == PrecisionSettings() and not profile.cache.enabled


def test_a_wrong_precision_value_is_a_profile_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(f'extends = "{PROFILES_DIR / "nuswide-m3.toml"}"\n[precision]\namp = "fp32"\n')
    with pytest.raises(ProfileError, match="amp = 'fp32' is not allowed"):
        load_profile(path)
