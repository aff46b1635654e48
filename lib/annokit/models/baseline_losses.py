"""The losses of the CNN baselines, on the label scores f(x) ∈ R^C of a linear head (logits).

- ``logistic_loss``: one sigmoid per label, M3's "CNN+logistic" row (Hu et al. 2016); M3's Eq. 4.
- ``softmax_loss``: softmax cross-entropy against the label vector normalised to
  sum 1 (Gong et al. 2013, Sec. 2.2.1).
- ``warp_loss``: WARP, pairwise hinge weighted by L(r̂) of the positive label's sampled rank
  estimate (Weston et al. 2011, as used by Gong et al. 2013, Sec. 2.2.3).
- ``lsep_loss``: the log-sum-exp pairwise (LSEP) loss (Li, Song, Luo 2017).

Targets are (N, C) multi-hot. Every loss is summed over an image's labels or
label pairs and averaged over the images of the batch; an image without a
positive (or without a negative) label adds 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from annokit.models.losses import sigmoid_cross_entropy

MARGIN = 1.0  # the hinge of WARP: a negative violates a positive when 1 − f_pos + f_neg > 0


def logistic_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Σ_c binary cross-entropy of σ(f_c), batch mean: an independent
    logistic regression per label (Eq. 4)."""
    return sigmoid_cross_entropy(logits, targets, "sum")


def softmax_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """−Σ_j p̄_j log p_j with p = softmax(f) and p̄ = y / Σ y,
    batch mean (Gong et al. Sec. 2.2.1)."""
    y = targets.to(logits.dtype)
    count = y.sum(dim=1, keepdim=True)
    normalised = torch.where(count > 0, y / count.clamp(min=1), torch.zeros_like(y))
    return -(normalised * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def harmonic_weights(num_labels: int, device: torch.device | str = "cpu") -> Tensor:
    """L(r) = Σ_{i=1..r} 1/i for r = 0 … C−1 (L(0) = 0): WARP's weight of a
    positive ranked r-th (α_i = 1/i)."""
    return torch.cat(
        [
            torch.zeros(1, device=device),
            torch.cumsum(1.0 / torch.arange(1, num_labels, device=device), 0),
        ]
    )


def warp_rank_weights(
    logits: Tensor, targets: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """L(r̂_j) of every positive label j of every image (0
    elsewhere), with WARP's sampled rank estimate.

    For each positive j the negatives are drawn one by one without replacement, in a random order of
    their own, until one violates the margin (1 − f_j + f_k > 0); with s draws, r̂_j = ⌊(C − 1) /
    s⌋. A positive that no negative violates has no hinge term, and weight 0. The weights are
    constants of the loss (no gradient).
    """
    with torch.no_grad():
        n, c = logits.shape
        positive, negative = targets.bool(), ~targets.bool()
        violates = (
            (MARGIN - logits[:, :, None] + logits[:, None, :] > 0)
            & positive[:, :, None]
            & negative[:, None, :]
        )
        # A random drawing order per positive: negative k is drawn
        # before k' when its key is smaller.
        keys = torch.rand((n, c, c), generator=generator, device=logits.device)
        # key of the first violating draw (2: none)
        first = keys.masked_fill(~violates, 2.0).amin(dim=2, keepdim=True)
        found = first[:, :, 0] < 2.0
        # negatives drawn before it
        misses = (negative[:, None, :] & ~violates & (keys < first)).sum(dim=2)
        rank = torch.div(c - 1, misses + 1, rounding_mode="floor")  # s = misses + 1 draws
        weights = harmonic_weights(c, logits.device).to(logits.dtype)[rank.clamp(max=c - 1)]
        return torch.where(found, weights, torch.zeros_like(weights))


def warp_loss(logits: Tensor, targets: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Σ_{j ∈ Y} Σ_{k ∉ Y} L(r̂_j) max(0, 1 − f_j + f_k), batch mean (Gong et al.
    Sec. 2.2.3; Weston et al. 2011)."""
    positive, negative = targets.bool(), ~targets.bool()
    weights = warp_rank_weights(logits, targets, generator)
    hinge = F.relu(MARGIN - logits[:, :, None] + logits[:, None, :])  # [n, j, k]
    pairs = positive[:, :, None] & negative[:, None, :]
    return (
        (weights[:, :, None] * torch.where(pairs, hinge, torch.zeros_like(hinge)))
        .sum(dim=(1, 2))
        .mean()
    )


def lsep_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """log(1 + Σ_{v ∈ Y} Σ_{u ∉ Y} exp(f_u − f_v)), batch mean (Li et
    al. 2017), as a stable logsumexp."""
    positive, negative = targets.bool(), ~targets.bool()
    difference = logits[:, None, :] - logits[:, :, None]  # [n, v, u] = f_u − f_v
    pairs = positive[:, :, None] & negative[:, None, :]
    terms = difference.masked_fill(~pairs, float("-inf")).flatten(1)
    # the 1 inside the log is exp(0)
    with_one = torch.cat([torch.zeros_like(terms[:, :1]), terms], dim=1)
    return torch.logsumexp(with_one, dim=1).mean()


HEAD_LOSSES = {
    "logistic": logistic_loss,
    "softmax": softmax_loss,
    "warp": warp_loss,
    "lsep": lsep_loss,
}
