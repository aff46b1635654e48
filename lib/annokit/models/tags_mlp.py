"""Multi-layer perceptron for textual features of M3 (Niu et al. 2019, Sec. III-B, Fig. 2)."""

from __future__ import annotations

from torch import Tensor, nn


class TagsMLP(nn.Module):
    """Noisy-tag vector t (N, T) -> f_t via two hidden layers, plus an fc head
    for its own training (Alg. 1 step 4).

    The paper's two hidden layers have 2,048 units and dim f_t = dim f_v. With ResNet-101
    (f_v of 2048) both hold; for ResNet-18/34 (f_v of 512) we keep the first layer at `hidden`
    = 2048 and make the second, f_t, `feature_dim` = 512 wide, so f_t still matches f_v.
    """

    def __init__(
        self, num_tags: int, num_classes: int, hidden: int = 2048, feature_dim: int = 2048
    ) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.encoder = nn.Sequential(
            nn.Linear(num_tags, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, feature_dim),
            nn.ReLU(inplace=True),
        )
        self.fc = nn.Linear(feature_dim, num_classes)

    def features(self, tags: Tensor) -> Tensor:
        """f_t, shape (N, feature_dim), from the multi-hot tag vector t (Sec. III-B)."""
        return self.encoder(tags.float())

    def forward(self, tags: Tensor) -> Tensor:
        """Logits (N, C) for training the MLP with the sigmoid cross-entropy of Eq. 4."""
        return self.fc(self.features(tags))
