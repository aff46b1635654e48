"""Image stages' precision and kernels: autocast dtype, loss scaling, channels_last, cuDNN, compile.

The decisions are pure functions of the device and the profile's ``[precision]`` settings, so they
are tested without a GPU: bfloat16 autocast where the card supports it (Ampere and later), float16
with a ``GradScaler`` otherwise, float32 on the CPU. Weights, optimiser states and checkpoints stay
float32. ``compile`` (a ``torch.compile`` mode, or "off") applies to the image stages and to the
decoders of notebook 05 alike.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import nn

from annokit.profile.compile_modes import COMPILE_MODES, compile_from_switch
from annokit.profile.sections import AMP_SETTINGS, PrecisionSettings

CUDA_GRAPHS = "reduce-overhead"  # the torch.compile mode that captures CUDA graphs


def bf16_supported() -> bool:
    """Whether the current CUDA device computes in bfloat16 (False without a GPU)."""
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def autocast_dtype(device_type: str, setting: str, bf16: bool | None = None) -> torch.dtype | None:
    """The autocast dtype for ``setting`` ("auto" | "bf16" | "fp16" | "off") on ``device_type``;
    None: float32.

    ``bf16``: whether the GPU supports bfloat16 (None: ask CUDA). Only CUDA autocasts: the CPU's
    bfloat16 kernels are slower than its float32 ones on most processors.
    """
    if setting not in AMP_SETTINGS:
        raise ValueError(
            f"[precision] amp = {setting!r} is not allowed: use one of {', '.join(AMP_SETTINGS)}"
        )
    if device_type != "cuda" or setting == "off":
        return None
    if setting == "fp16":
        return torch.float16
    has_bf16 = bf16_supported() if bf16 is None else bf16
    if setting == "bf16" and not has_bf16:
        raise ValueError(
            "[precision] amp = 'bf16', but this GPU has no bfloat16: set amp = 'auto' or 'fp16' "
            "in the profile"
        )
    return torch.bfloat16 if has_bf16 else torch.float16


def needs_grad_scaler(dtype: torch.dtype | None) -> bool:
    """float16 gradients underflow without loss scaling; bfloat16 has float32's range."""
    return dtype == torch.float16


def grad_scaler(dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A ``GradScaler`` that scales only under float16 (disabled, a pass-through, otherwise)."""
    return torch.amp.GradScaler("cuda", enabled=needs_grad_scaler(dtype))


def autocast(device_type: str, dtype: torch.dtype | None) -> AbstractContextManager:
    """``torch.autocast`` to ``dtype``, or nothing when ``dtype`` is None (float32)."""
    return (
        torch.autocast(device_type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    )


def uses_channels_last(device_type: str, channels_last: bool) -> bool:
    """NHWC memory pays off on CUDA's tensor cores; the CPU keeps the default layout."""
    return device_type == "cuda" and channels_last


def apply_kernel_settings(device_type: str, settings: PrecisionSettings) -> dict[str, Any]:
    """Deterministic kernels, or cuDNN's benchmark, for a stage (call after ``seed_everything``);
    returns what was set.

    Deterministic mode is strict: an op without a deterministic kernel raises an error naming it,
    rather than warning and varying (the kit's models pool with ``models.pooling.GlobalAvgPool``,
    whose CUDA path has one). The benchmark picks kernels by timing them, which may differ from run
    to run, so it runs only when ``deterministic`` is off.
    """
    torch.use_deterministic_algorithms(settings.deterministic)
    benchmark = device_type == "cuda" and settings.cudnn_benchmark and not settings.deterministic
    torch.backends.cudnn.benchmark = benchmark
    torch.backends.cudnn.deterministic = settings.deterministic
    return {"deterministic": settings.deterministic, "cudnn_benchmark": benchmark}


def compile_mode(setting: str | bool) -> str:
    """``[precision] compile`` as a mode of ``COMPILE_MODES``: false/true (older profiles) are
    "off"/"default"; anything else is one error line listing the modes."""
    mode = compile_from_switch(setting)
    if mode not in COMPILE_MODES:
        raise ValueError(
            f"[precision] compile = {setting!r} is not allowed: use one of "
            f"{', '.join(COMPILE_MODES)} (or false / true for off / default)"
        )
    return mode


def model_device_type(model: nn.Module) -> str:
    """The device type of a model's first parameter or buffer ("cpu" for a model without any)."""
    tensor = next(iter([*model.parameters(), *model.buffers()]), None)
    return tensor.device.type if tensor is not None else "cpu"


def maybe_compile(model: nn.Module, mode: str | bool) -> nn.Module:
    """``torch.compile(model, mode=mode)``, or the model itself when ``mode`` is "off".

    Call it on the model already on its device: "reduce-overhead" captures CUDA graphs, so on any
    other device it is an error line naming the fix rather than a silent fallback, and a timing or a
    run record that names the mode is what ran. The compiled wrapper shares the model's parameters:
    train through it, save ``model.state_dict()``.
    """
    mode = compile_mode(mode)
    if mode == "off":
        return model
    device_type = model_device_type(model)
    if mode == CUDA_GRAPHS and device_type != "cuda":
        raise ValueError(
            f"[precision] compile = {CUDA_GRAPHS!r} captures CUDA graphs, which need a CUDA "
            f"device, but the model is on {device_type}: set compile = 'default' or 'off' in the "
            "profile, or run on a GPU"
        )
    return torch.compile(model, mode=mode)


def describe(
    device_type: str, settings: PrecisionSettings, bf16: bool | None = None
) -> dict[str, Any]:
    """What a stage on ``device_type`` runs with, for run records and benchmark reports."""
    dtype = autocast_dtype(device_type, settings.amp, bf16)
    return {
        "amp": settings.amp,
        "autocast": str(dtype).removeprefix("torch.") if dtype is not None else "off (float32)",
        "grad_scaler": needs_grad_scaler(dtype),
        "channels_last": uses_channels_last(device_type, settings.channels_last),
        "deterministic": settings.deterministic,
        "cudnn_benchmark": device_type == "cuda"
        and settings.cudnn_benchmark
        and not settings.deterministic,
        "compile": compile_mode(settings.compile),
    }
