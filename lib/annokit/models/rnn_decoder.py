"""The LSTM label decoder of the CNN-RNN framework (Dutta et al. 2020, Sec. 3.1, Eq. 1-3).

The CNN's soft scores ŝ ∈ [0, 1]^C (Sec. 3.1's interface) set the LSTM's initial state through
a learned projection; then at every step the decoder reads the embedding of the previous label::

    h_0 = tanh(W_h ŝ + b_h),   c_0 = tanh(W_c ŝ + b_c)     W_h, W_c: H x C    (initial state)
    x_t = E a_{t-1}                                          E: 256 x (C + 1)  (Eq. 1; a_0 = START)
    h_t, c_t = LSTM(x_t, h_{t-1}, c_{t-1})                   H = 512 cells     (Eq. 2)
    ŷ_t = W h_t + b                                                            (Eq. 3)

Column C of E is a learned START input for t = 1. ŝ enters only through the initial state,
not through the output layer (Eq. 3 has no ŝ term). The Multi-order RNN
(``annokit.multi_order``) reads ŷ_t as C sigmoid logits. The fixed-order CNN-RNN baselines
(Table 1) use the same decoder as a sequence model: C + 1 softmax outputs (the labels and END),
teacher forcing in training, and ``greedy_decode`` / ``beam_decode`` at test time, which never
emit a label twice and stop at END or after ``max_length`` labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE = -100  # target of padded steps (``F.cross_entropy``'s ignore_index)


class LabelDecoder(nn.Module):
    """LSTM over label embeddings, started from the CNN scores ŝ (Eq. 1-3); ``end_token`` adds the END output."""

    def __init__(self, num_labels: int, hidden: int = 512, embedding: int = 256, end_token: bool = False) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.start = num_labels  # row of E fed at t = 1
        self.end = num_labels if end_token else None  # output index of END
        self.init_h = nn.Linear(num_labels, hidden)  # W_h, b_h
        self.init_c = nn.Linear(num_labels, hidden)  # W_c, b_c
        self.embedding = nn.Embedding(num_labels + 1, embedding)  # E, labels + START
        self.lstm = nn.LSTM(embedding, hidden, batch_first=True)
        self.output = nn.Linear(hidden, num_labels + int(end_token))  # W, b of Eq. 3

    @property
    def num_outputs(self) -> int:
        return self.output.out_features

    def initial_state(self, s_hat: Tensor) -> tuple[Tensor, Tensor]:
        """(h_0, c_0), each (1, N, H): tanh of a linear map of ŝ."""
        return torch.tanh(self.init_h(s_hat))[None], torch.tanh(self.init_c(s_hat))[None]

    def start_tokens(self, n: int, device: torch.device) -> Tensor:
        return torch.full((n,), self.start, dtype=torch.long, device=device)

    def step(self, previous: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One step: previous label indices (N,) -> logits ŷ_t (N, outputs) and the new state (Eq. 1-3)."""
        out, state = self.lstm(self.embedding(previous)[:, None], state)
        return self.output(out[:, 0]), state

    def forward(self, s_hat: Tensor, inputs: Tensor) -> Tensor:
        """Teacher forcing: input label indices (N, L), START first -> logits (N, L, outputs)."""
        out, _ = self.lstm(self.embedding(inputs), self.initial_state(s_hat))
        return self.output(out)


# Fixed-order sequence training (the CNN-RNN baselines).


def teacher_forcing(sequences: list[np.ndarray], num_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [START, l_1 … l_k] and targets [l_1 … l_k, END] of every image, padded to one length.

    START and END are both index C (START in E, END in the outputs). Padded inputs are START
    (their outputs are ignored), padded targets are ``IGNORE``.
    """
    length = max((len(s) for s in sequences), default=0) + 1
    inputs = np.full((len(sequences), length), num_labels, dtype=np.int64)
    targets = np.full((len(sequences), length), IGNORE, dtype=np.int64)
    for i, seq in enumerate(sequences):
        inputs[i, 1:len(seq) + 1] = seq
        targets[i, :len(seq)] = seq
        targets[i, len(seq)] = num_labels  # END
    return inputs, targets


def sequence_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Softmax cross-entropy over the C labels + END, summed over an image's steps, averaged over images."""
    losses = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE, reduction="none")
    return losses.view(targets.shape).sum(dim=1).mean()


@dataclass
class Decoded:
    """What a decoder says about N images: label sequences (N, L), -1 after the last label, and
    the per-step label probabilities (N, L, C) of the distribution each label was drawn from
    (emitted labels masked out and the rest renormalised; zero after END)."""

    sequences: np.ndarray
    step_scores: np.ndarray

    @property
    def scores(self) -> np.ndarray:
        """Per-label score for ranking (mAP): the largest probability over the steps."""
        return self.step_scores.max(axis=1)

    @property
    def annotation(self) -> np.ndarray:
        """The decoded label sets as a boolean (N, C) matrix."""
        n, _, c = self.step_scores.shape
        out = np.zeros((n, c), dtype=bool)
        rows, steps = np.nonzero(self.sequences >= 0)
        out[rows, self.sequences[rows, steps]] = True
        return out

    @property
    def first_labels(self) -> np.ndarray:
        """First decoded label of every image, -1 when END came first (Table 4's top-1)."""
        return self.sequences[:, 0]


def _masked_log_probs(logits: Tensor, emitted: Tensor) -> Tensor:
    """log softmax over labels + END with the labels already emitted excluded."""
    return torch.log_softmax(logits.masked_fill(emitted, float("-inf")), dim=-1)


@torch.no_grad()
def greedy_decode(decoder: LabelDecoder, s_hat: Tensor, max_length: int) -> Decoded:
    """Pick the most probable unseen label (or END) at each step, until END or ``max_length`` labels."""
    n, c = s_hat.shape[0], decoder.num_labels
    state = decoder.initial_state(s_hat)
    previous = decoder.start_tokens(n, s_hat.device)
    emitted = torch.zeros(n, c + 1, dtype=torch.bool, device=s_hat.device)
    done = torch.zeros(n, dtype=torch.bool, device=s_hat.device)
    sequences = torch.full((n, max_length), -1, dtype=torch.long, device=s_hat.device)
    step_scores = torch.zeros(n, max_length, c, device=s_hat.device)
    for t in range(max_length):
        logits, state = decoder.step(previous, state)
        log_probs = _masked_log_probs(logits, emitted)
        choice = log_probs.argmax(dim=-1)
        step_scores[:, t] = torch.where(done[:, None], 0.0, log_probs[:, :c].exp())
        is_label = ~done & (choice != decoder.end)
        sequences[:, t] = torch.where(is_label, choice, -1)
        emitted[is_label, choice[is_label]] = True
        done |= choice == decoder.end
        previous = torch.where(is_label, choice, decoder.start)  # finished rows: any input, output unused
        if done.all():
            break
    return Decoded(sequences.cpu().numpy(), step_scores.cpu().numpy())


@torch.no_grad()
def beam_decode(decoder: LabelDecoder, s_hat: Tensor, beam_size: int, max_length: int) -> Decoded:
    """Beam search over label paths (sum of log-probabilities, no length normalisation); a path ends at END.

    Every path masks its own emitted labels; ``beam_size=1`` is ``greedy_decode``.
    """
    n, c, b = s_hat.shape[0], decoder.num_labels, beam_size
    device = s_hat.device
    end = decoder.end
    h, cell = decoder.initial_state(s_hat)
    state = (h.repeat_interleave(b, dim=1), cell.repeat_interleave(b, dim=1))  # (1, N*B, H), image-major
    previous = decoder.start_tokens(n * b, device)
    emitted = torch.zeros(n * b, c + 1, dtype=torch.bool, device=device)
    done = torch.zeros(n * b, dtype=torch.bool, device=device)
    score = torch.full((n, b), float("-inf"), device=device)
    score[:, 0] = 0.0  # one live path at the start: no duplicate beams
    sequences = torch.full((n * b, max_length), -1, dtype=torch.long, device=device)
    step_scores = torch.zeros(n * b, max_length, c, device=device)
    for t in range(max_length):
        logits, state = decoder.step(previous, state)
        log_probs = _masked_log_probs(logits, emitted)
        # A finished path continues only by "END" at no cost, so it keeps its score and one slot.
        finished = torch.full_like(log_probs, float("-inf"))
        finished[:, end] = 0.0
        log_probs_step = torch.where(done[:, None], finished, log_probs)
        total = (score.view(-1, 1) + log_probs_step).view(n, b * (c + 1))
        score, flat = total.topk(b, dim=1)
        origin = (flat // (c + 1) + torch.arange(n, device=device)[:, None] * b).view(-1)
        choice = (flat % (c + 1)).view(-1)
        state = (state[0][:, origin], state[1][:, origin])
        was_done = done[origin]
        emitted, sequences, step_scores = emitted[origin], sequences[origin], step_scores[origin]
        step_scores[:, t] = torch.where(was_done[:, None], 0.0, log_probs[origin, :c].exp())
        is_label = ~was_done & (choice != end)
        sequences[:, t] = torch.where(is_label, choice, -1)
        emitted[is_label, choice[is_label]] = True
        done = was_done | (choice == end)
        previous = torch.where(is_label, choice, decoder.start)
        if done.all():
            break
    best = score.argmax(dim=1) + torch.arange(n, device=device) * b
    return Decoded(sequences[best].cpu().numpy(), step_scores[best].cpu().numpy())


def decode(decoder: LabelDecoder, s_hat: Tensor, max_length: int, beam_size: int = 1, batch_size: int = 1024) -> Decoded:
    """Greedy (``beam_size=1``) or beam decoding of many images, a batch at a time."""
    if decoder.end is None:
        raise ValueError("sequence decoding needs a decoder with an END output (LabelDecoder(..., end_token=True))")
    if max_length < 1 or beam_size < 1:
        raise ValueError(f"need max_length >= 1 and beam_size >= 1, got {max_length} and {beam_size}")
    decoder.eval()
    parts = [
        greedy_decode(decoder, chunk, max_length) if beam_size == 1 else beam_decode(decoder, chunk, beam_size, max_length)
        for chunk in s_hat.split(batch_size)
    ]
    return Decoded(np.concatenate([p.sequences for p in parts]), np.concatenate([p.step_scores for p in parts]))
