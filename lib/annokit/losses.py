"""Training losses.

- ``sigmoid_cross_entropy``: M3 Eq. 4 (CNN, MS-CNN, tags MLP and the joint classifier) and the
  "CNN (BCE)" baseline of the Multi-order RNN paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def sigmoid_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Eq. 4: −[y log σ(l) + (1−y) log(1−σ(l))], summed over labels, averaged over the batch."""
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="sum") / logits.shape[0]
