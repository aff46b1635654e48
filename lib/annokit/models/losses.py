"""Training losses.

- ``sigmoid_cross_entropy``: M3 Eq. 4 (CNN, MS-CNN, tags MLP and the joint classifier) and the
  "CNN (BCE)" baseline of the Multi-order RNN paper.
- ``label_quantity_loss``: M3 Eq. 5, the squared error of the predicted label count (LQP).
- ``partial_bce``, ``bce_ignore_unknown``, ``bce_unknown_as_negative``: learning with partial
  labels (Durand et al. 2019, Sec. 3.1, and its two baselines), targets in {1, 0 unknown, −1}.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def sigmoid_cross_entropy(logits: Tensor, targets: Tensor, reduction: str = "sum") -> Tensor:
    """Eq. 4: −[y log σ(l) + (1−y) log(1−σ(l))], summed (``"sum"``) or averaged (``"mean"``) over
    the C labels, averaged over the batch; "mean" is "sum" divided by C (TensorFlow's
    ``tf.losses.sigmoid_cross_entropy``)."""
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', not {reduction!r}")
    total = (
        F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="sum")
        / logits.shape[0]
    )
    return total if reduction == "sum" else total / logits.shape[1]


def label_quantity_loss(pred: Tensor, true_counts: Tensor, reduction: str = "mean") -> Tensor:
    """Eq. 5: L2 = (m̂ − m)², averaged over the batch ("mean", as the
    paper names it) or summed ("sum")."""
    return F.mse_loss(pred, true_counts.to(pred.dtype), reduction=reduction)


# Partial labels (Durand, Mehrasa, Mori, CVPR 2019). Targets are int8/int {1 positive, -1 negative,
# 0 unknown}; every loss below averages over the images of the batch and divides each image's sum
# over labels by C, so the three coincide with mean binary cross-entropy when every label is known.

PARTIAL_BCE_GAMMA = 1.0  # the paper's default: g is linear in p
PARTIAL_BCE_G_LOW = 5.0  # g(0.1) = 5
PARTIAL_BCE_P_LOW = 0.1


def partial_bce_coefficients(
    gamma: float = PARTIAL_BCE_GAMMA,
    g_low: float = PARTIAL_BCE_G_LOW,
    p_low: float = PARTIAL_BCE_P_LOW,
) -> tuple[float, float]:
    """(α, β) of g(p) = α p^γ + β from g(1) = 1 and g(p_low) = g_low (Durand et al. Sec. 3.1).

    The paper fixes g(1) = 1 (plain BCE when every label is known) and g(0.1) = 5, and its main
    experiments use γ = 1, a linear g (other γ appear in its study of the normalisation): α = −40/9
    ≈ −4.44, β = 49/9 ≈ 5.44, the values public reimplementations also use. The kit keeps γ = 1
    (``PARTIAL_BCE_GAMMA``) as the published default. γ = 0 makes g constant: no solution.
    """
    denominator = p_low**gamma - 1.0
    if abs(denominator) < 1e-12:
        raise ValueError(
            f"gamma={gamma} makes g constant: it cannot satisfy g(1) = 1 and g({p_low}) = {g_low}"
        )
    alpha = (g_low - 1.0) / denominator
    return alpha, 1.0 - alpha


def partial_bce_normalisation(
    p: Tensor,
    gamma: float = PARTIAL_BCE_GAMMA,
    g_low: float = PARTIAL_BCE_G_LOW,
    p_low: float = PARTIAL_BCE_P_LOW,
) -> Tensor:
    """g(p) = α p^γ + β for a tensor of known-label proportions;
    0 where p = 0 (nothing to weigh)."""
    alpha, beta = partial_bce_coefficients(gamma, g_low, p_low)
    # γ < 0 would put inf at p = 0; that image's sum is 0 anyway
    safe = torch.where(p > 0, p, torch.ones_like(p))
    return torch.where(p > 0, alpha * safe.pow(gamma) + beta, torch.zeros_like(p))


def known_label_bce(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-entry −[1[y=1] log σ(x) + 1[y=−1] log(1−σ(x))]: exactly 0,
    with zero gradient, where y = 0."""
    if logits.dtype in (torch.float16, torch.bfloat16):  # under AMP: log σ in float32
        logits = logits.float()
    zero = torch.zeros((), dtype=logits.dtype, device=logits.device)
    positive = torch.where(targets > 0, -F.logsigmoid(logits), zero)
    negative = torch.where(targets < 0, -F.logsigmoid(-logits), zero)  # log(1 − σ(x)) = log σ(−x)
    return positive + negative


def partial_bce(
    logits: Tensor,
    targets: Tensor,
    gamma: float = PARTIAL_BCE_GAMMA,
    g_low: float = PARTIAL_BCE_G_LOW,
    p_low: float = PARTIAL_BCE_P_LOW,
) -> Tensor:
    """Partial-BCE (Durand et al. Sec. 3.1): (g(p_y)/C) Σ_c known-label BCE, p_y the
    image's known share; batch mean."""
    per_label = known_label_bce(logits, targets)
    p_y = (targets != 0).to(per_label.dtype).mean(dim=1)
    return (partial_bce_normalisation(p_y, gamma, g_low, p_low) * per_label.mean(dim=1)).mean()


def bce_ignore_unknown(logits: Tensor, targets: Tensor) -> Tensor:
    """BCE on the known labels only, still divided by C (partial-BCE with g ≡ 1, the
    paper's BCE baseline); batch mean."""
    return known_label_bce(logits, targets).mean(dim=1).mean()


def bce_unknown_as_negative(logits: Tensor, targets: Tensor) -> Tensor:
    """The naive baseline: every unknown label is taken as negative, then
    mean BCE over labels and images."""
    return F.binary_cross_entropy_with_logits(
        logits, (targets > 0).to(logits.dtype), reduction="mean"
    )
