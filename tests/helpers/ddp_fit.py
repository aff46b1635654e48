"""torchrun entry for tests/test_train.py: fit a tiny MLP with DDP (gloo, CPU).

    torchrun --standalone --nproc_per_node=2 tests/helpers/ddp_fit.py RUN_DIR

The problem (data, model, config) is built by the same functions the test uses for its
single-process reference run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import TensorDataset

from annokit.profile import Training
from annokit.training.fit import FitConfig, FitOptions, fit

CONFIG = FitConfig(
    Training(epochs=3, batch_size=16, lr=0.05, momentum=0.9, weight_decay=1e-4), seed=3
)


def make_problem() -> tuple[nn.Module, TensorDataset]:
    """A tiny MLP (no BatchNorm, no dropout) and 64 random regression samples."""
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(64, 6, generator=gen)
    y = torch.tanh(x @ torch.randn(6, 2, generator=gen))
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))
    return model, TensorDataset(x, y)


def mse(model: nn.Module, batch) -> torch.Tensor:
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def main(run_dir: Path) -> None:
    model, data = make_problem()
    fit(model, data, mse, CONFIG, run_dir, FitOptions(stage={"stage": "ddp-test"}))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
