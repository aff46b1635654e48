"""TagProp (Guillaumin, Mensink, Verbeek, Schmid, ICCV 2009): weighted nearest neighbours,
word-specific sigmoids.

The σML variant with one base distance d (the CNN features'): over image i's K nearest training
images,

    π_ij = exp(−θ d_ij) / Σ_j' exp(−θ d_ij')              distance-based neighbour weights
    x_iw = Σ_j π_ij p(y_iw = 1 | j)                        weighted neighbour vote, with
           p(y_iw = 1 | j) = 1 − ε if j has w, else ε
    p(y_iw = 1) = σ(α_w x_iw + β_w)                        word-specific sigmoid modulation

θ, α and β maximise Σ_i Σ_w c_iw log p(y_iw) on the training images, each predicted from its K
nearest *other* training images (leave-one-out), with c_iw = 1/n₊ for positive and 1/n₋ for negative
entries, so both kinds weigh the same in total. K itself is chosen on the validation split.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

EPSILON = 1e-5  # p(y_iw = 1 | j) for a neighbour j without w
ITERATIONS = 50  # L-BFGS iterations: the smooth objective of 2C + 1 parameters has settled by then
# θ at most e^80: where the nearest neighbour alone explains the fit images best, the likelihood
# keeps rising with θ and L-BFGS can push log θ past float32's exp range (inf · 0 = NaN weights).
# θ d stays finite (d ≤ 4 on unit rows), and the weights are one-hot long before the bound.
MAX_LOG_THETA = 80.0


class TagProp(nn.Module):
    """θ (as log θ) and α_w, β_w of σML TagProp; ``forward`` gives the logits α_w x_iw + β_w."""

    def __init__(self, num_labels: int, theta: float = 1.0) -> None:
        super().__init__()
        self.log_theta = nn.Parameter(torch.tensor(float(np.log(theta))))
        self.alpha = nn.Parameter(torch.ones(num_labels))
        self.beta = nn.Parameter(torch.zeros(num_labels))

    @property
    def theta(self) -> Tensor:
        """θ, bounded by e^``MAX_LOG_THETA`` so that the weights stay finite."""
        return self.log_theta.clamp(max=MAX_LOG_THETA).exp()

    def vote(self, distances: Tensor, presence: Tensor) -> Tensor:
        """x_iw: the π-weighted vote of the neighbours, from (n, K) distances and (n, K, C)
        ``presence``."""
        weights = torch.softmax(-self.theta * distances, dim=1)
        return torch.bmm(weights[:, None, :], presence)[:, 0]

    def forward(self, distances: Tensor, presence: Tensor) -> Tensor:
        return self.alpha * self.vote(distances, presence) + self.beta


def presence(neighbour_labels: np.ndarray | Tensor) -> Tensor:
    """p(y_iw = 1 | j) of every neighbour j: 1 − ε where j has label w, ε where it has not (float32
    (n, K, C))."""
    return (1.0 - 2.0 * EPSILON) * torch.as_tensor(neighbour_labels, dtype=torch.float32) + EPSILON


def entry_weights(labels: Tensor) -> Tensor:
    """c_iw: 1/n₊ on the positive entries of the label matrix and 1/n₋ on the negative ones."""
    positive = labels.bool()
    n_pos, n_neg = positive.sum().clamp(min=1), (~positive).sum().clamp(min=1)
    return torch.where(positive, 1.0 / n_pos, 1.0 / n_neg).to(torch.float32)


def tagprop_loss(
    model: TagProp,
    distances: Tensor,
    neighbour_presence: Tensor,
    labels: Tensor,
    weights: Tensor | None = None,
) -> Tensor:
    """−Σ_i Σ_w c_iw log p(y_iw): the negative weighted log-likelihood TagProp maximises
    (``weights``: c_iw)."""
    logits = model(distances, neighbour_presence)
    per_entry = F.binary_cross_entropy_with_logits(
        logits, labels.to(logits.dtype), reduction="none"
    )
    return ((entry_weights(labels) if weights is None else weights) * per_entry).sum()


def fit_tagprop(
    distances: np.ndarray,
    neighbour_labels: np.ndarray,
    labels: np.ndarray,
    iterations: int = ITERATIONS,
) -> TagProp:
    """θ, α, β fitted by L-BFGS on training images' leave-one-out neighbours (deterministic: full
    batch, no sampling).

    θ starts at 1 / (mean neighbour distance), so the first weights are neither uniform nor one-hot.
    """
    d = torch.as_tensor(distances, dtype=torch.float32)
    p = presence(neighbour_labels)
    y = torch.as_tensor(labels, dtype=torch.float32)
    c = entry_weights(y)
    model = TagProp(y.shape[1], theta=1.0 / max(float(d.mean()), 1e-6))
    optimizer = torch.optim.LBFGS(
        model.parameters(), lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = tagprop_loss(model, d, p, y, c)
        loss.backward()
        return loss

    optimizer.step(closure)
    return model.eval()


@torch.no_grad()
def tagprop_probabilities(
    model: TagProp, distances: np.ndarray, neighbour_labels: np.ndarray
) -> np.ndarray:
    """p(y_iw = 1) of every image and label, float32 (n, C)."""
    logits = model(torch.as_tensor(distances, dtype=torch.float32), presence(neighbour_labels))
    return torch.sigmoid(logits).numpy().astype(np.float32)
