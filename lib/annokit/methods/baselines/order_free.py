"""The Order-free RNN (Chen, Chen, Yeh, Wang, AAAI 2018): a label decoder trained from a candidate
label pool.

No label order is fixed in advance. At training time the pool starts as the image's true labels; at
each step the target is the label of the pool the decoder is most confident of (the argmax of its
logits over the pool), that label is fed back as the next input and leaves the pool; once the pool
is empty the target is END:

    l_t = argmax_{c ∈ pool_t} ŷ_t^c,   pool_{t+1} = pool_t \\ {l_t}
    L = Σ_t −log softmax(ŷ_t)[l_t]

The decoder is the kit's ``LabelDecoder`` with an END output, started from the CNN scores ŝ, with
the Multi-order RNN's sizes (``[rnn] hidden``, ``embedding``); the Multi-order RNN's paper contrasts
its own masking with exactly this pool (Dutta et al. Sec. 3.3). At test time it decodes with beam
search, as Chen et al. do (``rnn_decoder.beam_decode``: the ``[baselines] order_free_beam_size``
most probable label paths kept at each step, a path ends at END or after ``max_length`` labels,
never a label twice); a beam of 1 is the fixed-order CNN-RNNs' greedy decoding.
"""

from __future__ import annotations

import torch
from torch import Tensor

from annokit.models.rnn_decoder import IGNORE, LabelDecoder, sequence_loss


def pool_step(pool: Tensor, logits: Tensor, end: int) -> tuple[Tensor, Tensor]:
    """One step of the candidate pool: (targets (N,), the pool after it (N, C)).

    The target is the pool's label with the highest logit (ties: the lower index), or ``end`` where
    the pool is empty; that label leaves the pool.
    """
    labels = logits[:, : pool.shape[1]].masked_fill(~pool, float("-inf"))
    best = labels.argmax(dim=1)
    has_labels = pool.any(dim=1)
    targets = torch.where(has_labels, best, torch.full_like(best, end))
    after = pool.clone()
    rows = torch.nonzero(has_labels).squeeze(1)
    after[rows, best[rows]] = False
    return targets, after


class OrderFreeRNN(LabelDecoder):
    """``LabelDecoder`` with an END output whose ``forward`` is the candidate-pool training pass."""

    def __init__(self, num_labels: int, hidden: int = 512, embedding: int = 256) -> None:
        super().__init__(num_labels, hidden, embedding, end_token=True)

    def step(
        self, previous: Tensor, state: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``LabelDecoder.step`` through ``torch.lstm_cell`` on the LSTM's own weights: the same
        function (to float rounding), twice as fast on a CPU as ``nn.LSTM`` called on sequences of
        length one."""
        lstm = self.lstm
        h, c = torch.lstm_cell(
            self.embedding(previous),
            (state[0][0], state[1][0]),
            lstm.weight_ih_l0,
            lstm.weight_hh_l0,
            lstm.bias_ih_l0,
            lstm.bias_hh_l0,
        )
        return self.output(h), (h[None], c[None])

    def forward(self, s_hat: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Feed back each step's pool target: logits (N, T, C+1) and targets (N, T).

        T is the largest label count of the batch plus one (END); the steps after an image's END are
        ``IGNORE``.
        """
        pool = labels.bool().clone()
        steps = int(pool.sum(dim=1).max().item()) + 1 if len(pool) else 1
        state = self.initial_state(s_hat)
        previous = self.start_tokens(len(pool), s_hat.device)
        finished = torch.zeros(len(pool), dtype=torch.bool, device=s_hat.device)
        all_logits, all_targets = [], []
        for _ in range(steps):
            logits, state = self.step(previous, state)
            targets, pool = pool_step(pool, logits.detach(), self.end)
            all_logits.append(logits)
            all_targets.append(torch.where(finished, torch.full_like(targets, IGNORE), targets))
            finished = finished | (targets == self.end)
            previous = torch.where(
                targets == self.end, torch.full_like(targets, self.start), targets
            )
        return torch.stack(all_logits, dim=1), torch.stack(all_targets, dim=1)


def order_free_loss(model: OrderFreeRNN, s_hat: Tensor, labels: Tensor) -> Tensor:
    """Softmax cross-entropy of every step's pool target, summed over the steps, averaged over the
    images."""
    return sequence_loss(*model(s_hat, labels))
