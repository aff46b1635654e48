"""Multi-class classification of M3 (Niu et al. 2019, Sec. III-C): an fc on
the joint feature f = [f_v, f_t]."""

from __future__ import annotations

from torch import Tensor, nn


class JointClassifier(nn.Module):
    """fc on f -> logits (N, C); the sigmoid lives in the loss (Eq. 4) or at inference."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, f: Tensor) -> Tensor:
        return self.fc(f)
