"""Multi-order RNN (Dutta et al. 2020, Sec. 3.2-3.3): the decoder fed its own picks, and its
loss (Eq. 4-7).

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

Two variants (``variant``): ``"paper-text"`` is the above; ``"released-code"`` follows the authors'
``model/lstm/sem_multi_order.py``, whose numbers the paper's tables report. It uses
``ReleasedLabelDecoder`` and changes three things::

    ã_t = ¬ ∨_{s<t} onehot(l_s)       every earlier pick leaves the target (``time_reg_mask``)
    L = Σ_t [t < |y|] Σ_c BCE(…)       step t (from 0) counts only for images with over t labels
    l_t = argmax_c (ŷ_t^c, -9 where c ∈ {l_s : s < t})
                                       at test time only: T distinct picks (``build_sampler``)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from annokit.evaluation.decision import threshold
from annokit.models.rnn_decoder import LabelDecoder, ReleasedLabelDecoder

THRESHOLD = 0.5  # test-time decision on the max-pooled probabilities
PAPER_TEXT, RELEASED_CODE = "paper-text", "released-code"
VARIANTS = (PAPER_TEXT, RELEASED_CODE)
# build_sampler: a label picked earlier has its logit replaced by -9 before the argmax
PICKED_LOGIT = -9.0


class MultiOrderRNN(nn.Module):
    """LSTM decoder fed back its own most confident label for ``steps`` steps (Sec. 3.2),
    as the text or the release has it."""

    def __init__(
        self,
        num_labels: int,
        hidden: int = 512,
        embedding: int = 256,
        steps: int = 5,
        variant: str = PAPER_TEXT,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant {variant!r} unknown: use one of {VARIANTS}")
        self.steps, self.variant = steps, variant
        decoder = ReleasedLabelDecoder if variant == RELEASED_CODE else LabelDecoder
        self.decoder = decoder(num_labels, hidden, embedding, end_token=False)

    @property
    def distinct_at_inference(self) -> bool:
        """Whether test-time picks exclude the labels picked before
        (the release's ``build_sampler``)."""
        return self.variant == RELEASED_CODE

    def forward(self, s_hat: Tensor, distinct: bool = False) -> tuple[Tensor, Tensor]:
        """CNN scores ŝ (N, C) -> step logits ŷ_t (N, T, C) and picked labels l_t (N, T).

        ``distinct``: labels picked at earlier steps get the logit ``PICKED_LOGIT`` before the
        argmax (the picks only; the returned logits are the raw ŷ_t).
        """
        state = self.decoder.initial_state(s_hat)
        previous = self.decoder.start_tokens(s_hat.shape[0], s_hat.device)
        picked = torch.zeros(
            s_hat.shape[0], self.decoder.num_labels, dtype=torch.bool, device=s_hat.device
        )
        logits, picks = [], []
        for _ in range(self.steps):
            step_logits, state = self.decoder.step(previous, state)
            choice = step_logits.detach()
            if distinct:
                choice = choice.masked_fill(picked, PICKED_LOGIT)
            previous = choice.argmax(dim=1)  # Eq. 4: first index wins a tie
            picked[torch.arange(len(previous), device=previous.device), previous] = True
            logits.append(step_logits)
            picks.append(previous)
        return torch.stack(logits, dim=1), torch.stack(picks, dim=1)


def masked_targets(y: Tensor, picks: Tensor, cumulative: bool = False) -> Tensor:
    """y_t = ã_t ⊙ y (Eq. 5-6): (N, C) labels, (N, T) picks -> (N, T, C); y_1 = y.

    ã_t = ¬onehot(l_{t-1}) (the text), or with ``cumulative`` ¬ of every l_s with s < t (the
    release's ``time_reg_mask``): the label picked before leaves the target of this step.
    """
    y = y.float()
    masks = torch.ones(picks.shape[0], picks.shape[1], y.shape[1], device=y.device)  # ã_1 = 1
    earlier = F.one_hot(picks[:, :-1], y.shape[1]).float()  # onehot(l_{t-1}) for t = 2..T
    if cumulative:
        earlier = earlier.cummax(dim=1).values  # every pick so far, not only the last one
    masks[:, 1:] -= earlier  # Eq. 5
    return masks * y[:, None]  # Eq. 6


def length_mask(y: Tensor, steps: int) -> Tensor:
    """(N, T) weights: step t (from 0) counts for an image with more than t true labels
    (the release's ``t < caption_len``)."""
    return (torch.arange(steps, device=y.device)[None] < y.sum(dim=1, keepdim=True)).float()


def multi_order_loss(
    step_logits: Tensor, y: Tensor, picks: Tensor, variant: str = PAPER_TEXT
) -> Tensor:
    """Eq. 7: sigmoid cross-entropy against the masked targets, summed over
    steps and labels, mean over images.

    ``"released-code"``: cumulative masks and ``length_mask`` on the
    steps (``build_model``'s ``time_reg``).
    """
    released = variant == RELEASED_CODE
    bce = F.binary_cross_entropy_with_logits(
        step_logits, masked_targets(y, picks, cumulative=released), reduction="none"
    )
    if released:
        bce = bce * length_mask(y, step_logits.shape[1])[:, :, None]
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
def predict_multi_order(
    model: MultiOrderRNN,
    s_hat: np.ndarray | Tensor,
    device: str | torch.device = "cpu",
    batch_size: int = 1024,
) -> MultiOrderOutput:
    """Run T steps feeding back the argmax (distinct picks for the release);
    max-pool the logits over steps, then σ."""
    model.eval().to(device)
    parts = []
    for chunk in torch.as_tensor(np.asarray(s_hat), dtype=torch.float32).split(batch_size):
        logits, picks = model(chunk.to(device), distinct=model.distinct_at_inference)
        parts.append((torch.sigmoid(logits.max(dim=1).values), torch.sigmoid(logits), picks))
    scores, step_scores, picks = (torch.cat(p).cpu().numpy() for p in zip(*parts))
    return MultiOrderOutput(scores, step_scores, picks)
