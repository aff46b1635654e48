"""Timing loops shared by the loader and model benchmarks: warm up, then count
images until enough steps and seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class Budget:
    """How long each rate is measured: untimed warm-up steps, then at least
    ``steps`` steps and ``seconds`` seconds."""

    warmup: int
    steps: int
    seconds: float


@dataclass(frozen=True)
class Rate:
    """A measured throughput: ``images`` processed in ``seconds`` over ``steps`` timed steps."""

    images: int
    seconds: float
    steps: int

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict:
        return {"images_per_s": self.images_per_s, **asdict(self)}


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(step: Callable[[], int], budget: Budget, device: torch.device) -> Rate:
    """Call ``step`` (returns the images it processed) ``budget.warmup`` times
    untimed, then until the budget is spent."""
    for _ in range(budget.warmup):
        step()
    synchronize(device)
    images = steps = 0
    start = time.perf_counter()
    while steps < budget.steps or time.perf_counter() - start < budget.seconds:
        images += step()
        steps += 1
    synchronize(device)
    return Rate(images=images, seconds=time.perf_counter() - start, steps=steps)
