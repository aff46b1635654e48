"""Label quantity prediction (M3 Sec. III-C): an MLP regressing the label count m
(loss: Eq. 5, ``models.losses``)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class LabelQuantityRegressor(nn.Module):
    """f -> predicted label count m^ (N,): hidden layers of 512 and
    256 units, dropout 0.5 after each."""

    def __init__(
        self, in_dim: int, hidden: Sequence[int] = (512, 256), dropout: float = 0.5
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(in_dim, width), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            in_dim = width
        layers.append(nn.Linear(in_dim, 1))  # one output unit: m^
        self.mlp = nn.Sequential(*layers)

    def forward(self, f: Tensor) -> Tensor:
        return self.mlp(f).squeeze(-1)
