"""The LSTM label decoder of the CNN-RNN framework (Dutta et al. 2020, Sec. 3.1, Eq. 1-3).

The CNN's soft scores ŝ ∈ [0, 1]^C (Sec. 3.1's interface) set the LSTM's initial state through
a learned projection; then at every step the decoder reads the embedding of the previous label::

    h_0 = tanh(W_h ŝ + b_h),   c_0 = tanh(W_c ŝ + b_c)     W_h, W_c: H x C    (initial state)
    x_t = E a_{t-1}                                          E: 256 x (C + 1)  (Eq. 1; a_0 = START)
    h_t, c_t = LSTM(x_t, h_{t-1}, c_{t-1})                   H = 512 cells     (Eq. 2)
    ŷ_t = W h_t + b                                                            (Eq. 3)

Column C of E is a learned START input for t = 1. ŝ enters only through the initial state, not
through the output layer (Eq. 3 has no ŝ term). The Multi-order RNN
(``annokit.models.multi_order_rnn``) reads ŷ_t as C sigmoid logits. The fixed-order CNN-RNN
baselines (Table 1) use the same decoder as a sequence model: C + 1 softmax outputs (the labels and
END), teacher forcing in training, and ``greedy_decode`` / ``beam_decode`` at test time, which never
emit a label twice and stop at END or after ``max_length`` labels.

``ReleasedLabelDecoder`` is the decoder of the authors' release (``model/lstm/sem_multi_order.py``,
run with ``prev2out=False``), which differs from the text in three places::

    ŝ ← BN(ŝ)                                 batch norm, decay 0.95, epsilon 1e-3 (``_batch_norm``)
    ŷ_t = W_out tanh(W_h h_t + b_h) + b_out   W_h: 256 x H, W_out: C x 256 (``_decode_lstm``)
    E ~ U(-1, 1); W_* Xavier-uniform; biases 0; LSTM forget-gate bias 1 (TF's BasicLSTMCell)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE = -100  # target of padded steps (``F.cross_entropy``'s ignore_index)


class LabelDecoder(nn.Module):
    """LSTM over label embeddings, started from the CNN scores ŝ (Eq. 1-3);
    ``end_token`` adds the END output."""

    def __init__(
        self, num_labels: int, hidden: int = 512, embedding: int = 256, end_token: bool = False
    ) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.num_outputs = num_labels + int(end_token)
        self.start = num_labels  # row of E fed at t = 1
        self.end = num_labels if end_token else None  # output index of END
        self.init_h = nn.Linear(num_labels, hidden)  # W_h, b_h
        self.init_c = nn.Linear(num_labels, hidden)  # W_c, b_c
        self.embedding = nn.Embedding(num_labels + 1, embedding)  # E, labels + START
        self.lstm = nn.LSTM(embedding, hidden, batch_first=True)
        self.output = nn.Linear(hidden, self.num_outputs)  # W, b of Eq. 3

    def initial_state(self, s_hat: Tensor) -> tuple[Tensor, Tensor]:
        """(h_0, c_0), each (1, N, H): tanh of a linear map of ŝ."""
        return torch.tanh(self.init_h(s_hat))[None], torch.tanh(self.init_c(s_hat))[None]

    def start_tokens(self, n: int, device: torch.device) -> Tensor:
        return torch.full((n,), self.start, dtype=torch.long, device=device)

    def step(
        self, previous: Tensor, state: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One step: previous label indices (N,) -> logits ŷ_t (N,
        outputs) and the new state (Eq. 1-3)."""
        out, state = self.lstm(self.embedding(previous)[:, None], state)
        return self.output(out[:, 0]), state

    def forward(self, s_hat: Tensor, inputs: Tensor) -> Tensor:
        """Teacher forcing: input label indices (N, L), START first -> logits (N, L, outputs)."""
        out, _ = self.lstm(self.embedding(inputs), self.initial_state(s_hat))
        return self.output(out)


class ReleasedBatchNorm(nn.BatchNorm1d):
    """BN of ŝ as the release's ``tf.contrib.layers.batch_norm``: the moving variance follows the
    biased batch variance, and a batch of one image normalises to β instead of failing."""

    def __init__(self, num_features: int, decay: float = 0.95, eps: float = 1e-3) -> None:
        # PyTorch's momentum = 1 - TF's decay
        super().__init__(num_features, eps=eps, momentum=1.0 - decay)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return super().forward(x)
        mean, var = x.mean(dim=0), x.var(dim=0, unbiased=False)
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var, self.momentum)
            self.num_batches_tracked += 1
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


class ReleasedLabelDecoder(LabelDecoder):
    """The decoder of the authors' release (``model/lstm/sem_multi_order.py``): BN on
    ŝ, a tanh layer before the logits."""

    def __init__(
        self, num_labels: int, hidden: int = 512, embedding: int = 256, end_token: bool = False
    ) -> None:
        super().__init__(num_labels, hidden, embedding, end_token)
        self.norm = ReleasedBatchNorm(num_labels)
        # W_h (256 x H), b_h, then W_out (C x 256), b_out: ``_decode_lstm``
        # with prev2out=False, ctx2out=False
        self.output = nn.Sequential(
            nn.Linear(hidden, embedding), nn.Tanh(), nn.Linear(embedding, self.num_outputs)
        )
        released_initialisation(self)

    def initial_state(self, s_hat: Tensor) -> tuple[Tensor, Tensor]:
        """(h_0, c_0) = tanh of a linear map of BN(ŝ) (``build_model``:
        ``_batch_norm`` then ``_get_initial_lstm``)."""
        return super().initial_state(self.norm(s_hat))


@torch.no_grad()
def released_initialisation(decoder: LabelDecoder) -> None:
    """The release's initialisers: E ~ U(-1, 1), every matrix Xavier-uniform,
    biases 0 (``CaptionGenerator.__init__``).

    TF's BasicLSTMCell keeps one (input + H) x 4H kernel, Xavier over that shape, and adds
    a constant 1 to the forget gate; PyTorch's two LSTM matrices get that shape's bound,
    and the forget-gate bias starts at 1.
    """
    nn.init.uniform_(decoder.embedding.weight, -1.0, 1.0)
    for layer in [
        decoder.init_h,
        decoder.init_c,
        *(m for m in decoder.output.modules() if isinstance(m, nn.Linear)),
    ]:
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
    lstm = decoder.lstm
    bound = math.sqrt(6.0 / (lstm.input_size + lstm.hidden_size + 4 * lstm.hidden_size))
    for weight in (lstm.weight_ih_l0, lstm.weight_hh_l0):
        nn.init.uniform_(weight, -bound, bound)
    nn.init.zeros_(lstm.bias_ih_l0)
    nn.init.zeros_(lstm.bias_hh_l0)
    # PyTorch's gate order i, f, g, o
    lstm.bias_ih_l0[lstm.hidden_size : 2 * lstm.hidden_size] = 1.0


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
        inputs[i, 1 : len(seq) + 1] = seq
        targets[i, : len(seq)] = seq
        targets[i, len(seq)] = num_labels  # END
    return inputs, targets


def sequence_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Softmax cross-entropy over the C labels + END, summed over an
    image's steps, averaged over images."""
    losses = F.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE, reduction="none"
    )
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
    """Pick the most probable unseen label (or END) at each step,
    until END or ``max_length`` labels."""
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
        # finished rows: any input, output unused
        previous = torch.where(is_label, choice, decoder.start)
        if done.all():
            break
    return Decoded(sequences.cpu().numpy(), step_scores.cpu().numpy())


@torch.no_grad()
def beam_decode(decoder: LabelDecoder, s_hat: Tensor, beam_size: int, max_length: int) -> Decoded:
    """Beam search over label paths (sum of log-probabilities, no length
    normalisation); a path ends at END.

    Every path masks its own emitted labels; ``beam_size=1`` is ``greedy_decode``.
    """
    n, c, b = s_hat.shape[0], decoder.num_labels, beam_size
    device = s_hat.device
    end = decoder.end
    h, cell = decoder.initial_state(s_hat)
    # (1, N*B, H), image-major
    state = (h.repeat_interleave(b, dim=1), cell.repeat_interleave(b, dim=1))
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


def decode(
    decoder: LabelDecoder,
    s_hat: Tensor,
    max_length: int,
    beam_size: int = 1,
    batch_size: int = 1024,
) -> Decoded:
    """Greedy (``beam_size=1``) or beam decoding of many images, a batch at a time."""
    if decoder.end is None:
        raise ValueError(
            "sequence decoding needs a decoder with an END output (LabelDecoder(..., "
            "end_token=True))"
        )
    if max_length < 1 or beam_size < 1:
        raise ValueError(
            f"need max_length >= 1 and beam_size >= 1, got {max_length} and {beam_size}"
        )
    decoder.eval()
    parts = [
        greedy_decode(decoder, chunk, max_length)
        if beam_size == 1
        else beam_decode(decoder, chunk, beam_size, max_length)
        for chunk in s_hat.split(batch_size)
    ]
    return Decoded(
        np.concatenate([p.sequences for p in parts]), np.concatenate([p.step_scores for p in parts])
    )
