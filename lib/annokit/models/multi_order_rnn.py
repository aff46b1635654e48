"""Multi-order RNN (Dutta et al. 2020, Sec. 3.2-3.3): the decoder fed its own picks, and its loss (Eq. 4-7).

The LSTM decoder of ``annokit.models.rnn_decoder`` starts from the CNN scores ŝ and runs T = 5
steps, each fed the label it was most confident about at the previous step. Training asks
it, at every step, for all true labels except that one::

    l_t = argmax_c ŷ_t^c                                   (Eq. 4; the model's own prediction)
    ã_t = ¬ onehot(l_{t-1}),  ã_1 = 1                       (Eq. 5)
    y_t = ã_t ⊙ y                                           (Eq. 6)
    L = Σ_t Σ_c BCE(σ(ŷ_t^c), y_t^c)                        (Eq. 7, summed over steps and labels)

so the label picked at t-1 is a negative at t and may come back as a positive at t+1 (Fig. 2's
sky → cloud → sky). The loss is averaged over the images of a batch. At test time the logits
are max-pooled label-wise over the T steps, passed through σ and thresholded at 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from annokit.annotate import threshold
from annokit.models.rnn_decoder import LabelDecoder

THRESHOLD = 0.5  # test-time decision on the max-pooled probabilities


class MultiOrderRNN(nn.Module):
    """LSTM decoder fed back its own most confident label for ``steps`` steps (Sec. 3.2)."""

    def __init__(self, num_labels: int, hidden: int = 512, embedding: int = 256, steps: int = 5) -> None:
        super().__init__()
        self.steps = steps
        self.decoder = LabelDecoder(num_labels, hidden, embedding, end_token=False)

    def forward(self, s_hat: Tensor) -> tuple[Tensor, Tensor]:
        """CNN scores ŝ (N, C) -> step logits ŷ_t (N, T, C) and picked labels l_t (N, T)."""
        state = self.decoder.initial_state(s_hat)
        previous = self.decoder.start_tokens(s_hat.shape[0], s_hat.device)
        logits, picks = [], []
        for _ in range(self.steps):
            step_logits, state = self.decoder.step(previous, state)
            previous = step_logits.detach().argmax(dim=1)  # Eq. 4: first index wins a tie
            logits.append(step_logits)
            picks.append(previous)
        return torch.stack(logits, dim=1), torch.stack(picks, dim=1)


def masked_targets(y: Tensor, picks: Tensor) -> Tensor:
    """y_t = ¬onehot(l_{t-1}) ⊙ y (Eq. 5-6): (N, C) labels, (N, T) picks -> (N, T, C); y_1 = y."""
    y = y.float()
    masks = torch.ones(picks.shape[0], picks.shape[1], y.shape[1], device=y.device)
    masks[:, 1:] -= F.one_hot(picks[:, :-1], y.shape[1]).float()
    return masks * y[:, None]


def multi_order_loss(step_logits: Tensor, y: Tensor, picks: Tensor) -> Tensor:
    """Eq. 7: sigmoid cross-entropy against the masked targets, summed over steps and labels, mean over images."""
    bce = F.binary_cross_entropy_with_logits(step_logits, masked_targets(y, picks), reduction="none")
    return bce.sum(dim=(1, 2)).mean()


@dataclass
class MultiOrderOutput:
    """Test-time output: σ(max_t ŷ_t) (N, C), σ(ŷ_t) per step (N, T, C), picked labels (N, T)."""

    scores: np.ndarray
    step_scores: np.ndarray
    sequences: np.ndarray

    @property
    def annotation(self) -> np.ndarray:
        return threshold(self.scores, THRESHOLD)


@torch.no_grad()
def predict_multi_order(model: MultiOrderRNN, s_hat: np.ndarray | Tensor, device: str | torch.device = "cpu",
                        batch_size: int = 1024) -> MultiOrderOutput:
    """Run T steps feeding back the argmax; max-pool the logits label-wise over steps, then σ (Sec. 3.2)."""
    model.eval().to(device)
    parts = []
    for chunk in torch.as_tensor(np.asarray(s_hat), dtype=torch.float32).split(batch_size):
        logits, picks = model(chunk.to(device))
        parts.append((torch.sigmoid(logits.max(dim=1).values), torch.sigmoid(logits), picks))
    scores, step_scores, picks = (torch.cat(p).cpu().numpy() for p in zip(*parts))
    return MultiOrderOutput(scores, step_scores, picks)
