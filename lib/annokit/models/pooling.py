"""Global average pooling that is deterministic on every device.

``nn.AdaptiveAvgPool2d(1)``'s CUDA backward accumulates with atomics, which PyTorch lists as
non-deterministic (it raises under ``torch.use_deterministic_algorithms``). On CUDA the pool is the
mean over the spatial dimensions, whose backward is a plain broadcast; on the CPU it stays
``adaptive_avg_pool2d``, deterministic there, so the CPU numbers of earlier releases are unchanged
to the last bit.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class GlobalAvgPool(nn.Module):
    """(N, C, H, W) → (N, C, 1, 1), the mean of each map; no parameters, so checkpoints of models
    built with ``nn.AdaptiveAvgPool2d(1)`` load unchanged."""

    def forward(self, maps: Tensor) -> Tensor:
        if maps.is_cuda:
            return maps.mean(dim=(2, 3), keepdim=True)
        return F.adaptive_avg_pool2d(maps, 1)
