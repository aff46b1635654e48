"""Multi-class classification of M3 (Niu et al. 2019, Sec. III-C): an fc on the joint feature f = [f_v, f_t]."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def joint_feature(f_v: Tensor, f_t: Tensor | None = None) -> Tensor:
    """f = [f_v, f_t] (Sec. III-B); f_v alone when there are no tags (the MS-CNN / LQP-only ablations)."""
    return f_v if f_t is None else torch.cat([f_v, f_t], dim=1)


class JointClassifier(nn.Module):
    """fc on f -> logits (N, C); the sigmoid lives in the loss (Eq. 4) or at inference."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, f: Tensor) -> Tensor:
        return self.fc(f)
