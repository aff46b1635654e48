"""Label quantity prediction of M3 (Niu et al. 2019, Sec. III-C, Eq. 5): an MLP regressing the label count m."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn


class LabelQuantityRegressor(nn.Module):
    """f -> predicted label count m^ (N,): hidden layers of 512 and 256 units, dropout 0.5 after each."""

    def __init__(self, in_dim: int, hidden: Sequence[int] = (512, 256), dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(in_dim, width), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            in_dim = width
        layers.append(nn.Linear(in_dim, 1))  # one output unit: m^
        self.mlp = nn.Sequential(*layers)

    def forward(self, f: Tensor) -> Tensor:
        return self.mlp(f).squeeze(-1)


def label_quantity_loss(pred: Tensor, true_counts: Tensor, reduction: str = "mean") -> Tensor:
    """L2 = (m^ - m)^2 (Eq. 5), averaged over the batch ("mean", as the paper names it) or summed ("sum")."""
    return F.mse_loss(pred, true_counts.to(pred.dtype), reduction=reduction)
