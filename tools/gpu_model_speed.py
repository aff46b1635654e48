"""ResNet-101 at 224×224 on CUDA without a data loader: training steps (batch 32,
SGD, channels_last) and inference (batch 256), float16 autocast with a GradScaler
against bfloat16. Prints images/s as JSON.

    python tools/gpu_model_speed.py

The ceiling the data path has to reach; ``tools/gpu_check.py``
measures the chain with the kit's loaders.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from annokit.models import build_backbone  # noqa: E402

WARMUP, TIMED = 10, 30


def train_rate(dtype: torch.dtype, batch: int = 32) -> float:
    """Training images/s of ResNet-101 on random inputs (no loader) under autocast of ``dtype``."""
    model = build_backbone("resnet101", num_classes=81).cuda().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype is torch.float16)
    x = torch.randn(batch, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)
    y = (torch.rand(batch, 81, device="cuda") > 0.9).float()
    for step in range(WARMUP + TIMED):
        if step == WARMUP:
            torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast("cuda", dtype=dtype):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    torch.cuda.synchronize()
    return TIMED * batch / (time.perf_counter() - start)


@torch.no_grad()
def inference_rate(dtype: torch.dtype, batch: int = 256) -> float:
    """Inference images/s of ResNet-101 on random inputs under autocast of ``dtype``."""
    model = (
        build_backbone("resnet101", num_classes=81)
        .cuda()
        .to(memory_format=torch.channels_last)
        .eval()
    )
    x = torch.randn(batch, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)
    for step in range(5 + 10):
        if step == 5:
            torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast("cuda", dtype=dtype):
            model(x)
    torch.cuda.synchronize()
    return 10 * batch / (time.perf_counter() - start)


def main() -> None:
    torch.backends.cudnn.benchmark = True
    rates = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    for name, dtype in (("float16+GradScaler", torch.float16), ("bfloat16", torch.bfloat16)):
        rates[f"train batch 32 {name} images/s"] = train_rate(dtype)
        rates[f"inference batch 256 {name} images/s"] = inference_rate(dtype)
    print(json.dumps(rates, indent=1))


if __name__ == "__main__":
    main()
