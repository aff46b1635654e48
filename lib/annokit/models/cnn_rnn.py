"""CNN-RNN of Wang et al., "CNN-RNN: A Unified Framework for Multi-label Image Classification"
(CVPR 2016), Sec. 3, as published.

Per step t, with I the CNN representation of the image (Sec. 3.2) and U_l the label embedding::

    w_k(t) = U_l e_k                                  label embedding of the t-th input (Eq. 2)
    o(t), r(t) = LSTM(r(t-1), w_k(t))                 recurrent layer (Eq. 1 and 3)
    x_t = h(U_o^x o(t) + U_I^x I)                     projection into the embedding space (Eq. 4)
    s(t) = U_l^T x_t                                  label scores, the SAME U_l (Eq. 5)
    P(l_t | I, l_1 ... l_{t-1}) = softmax(s(t))       over the labels and END (Sec. 3.2-3.3)

Indices: labels 0 .. C-1, END = C, START = C + 1. ``embedding.weight`` is U_l with C + 1 rows
(the labels and END) and is also ``output.weight``: one parameter tensor. START has its own
vector (``start``), fed as the input of step 1 only; END is never an input. Training (Sec. 3.4):
softmax cross-entropy per step on label sequences ordered frequent-first, END after the last
label. Inference (Sec. 3.3): beam search over prediction paths, a path ends at END. The model
reads image features: the CNN stays outside, frozen as in Sec. 3.4, or trained end to end by
the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from annokit.data.label_orders import label_priority, order_labels

IGNORE = -100  # padding of label sequences (``F.cross_entropy``'s ignore_index)
RECURRENT_LAYERS = ("paper", "lstm")
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}

State = tuple[Tensor, ...]


class PaperLSTMCell(nn.Module):
    """The recurrent layer of Sec. 3.1, Eq. 1, with δ = ReLU ("we employ rectified linear units
    (ReLU) as the activation function") and, as written, no bias terms::

        x_t = δ(U_r r(t-1) + U_w w)      i_t = δ(U_ir r(t-1) + U_iw w)
        f_t = δ(U_fr r(t-1) + U_fw w)    o_t = δ(U_or r(t-1) + U_ow w)
        r(t) = f_t ⊙ r(t-1) + i_t ⊙ x_t  o(t) = r(t) ⊙ o_t

    The state is r(t) alone; the output o(t) feeds the projection layer (Eq. 4).
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.gates = nn.Linear(hidden_size + input_size, 4 * hidden_size, bias=False)

    def forward(self, w: Tensor, state: State) -> tuple[Tensor, State]:
        (r,) = state
        x, i, f, o = torch.relu(self.gates(torch.cat([r, w], dim=1))).chunk(4, dim=1)
        r = f * r + i * x
        return r * o, (r,)


class StandardLSTMCell(nn.Module):
    """A standard LSTM (sigmoid gates, tanh, biases) in the place of Eq. 1; state (h, c)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.cell = nn.LSTMCell(input_size, hidden_size)

    def forward(self, w: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = self.cell(w, state)
        return h, (h, c)


class CNNRNN(nn.Module):
    """Wang et al.'s CNN-RNN over image features (Sec. 3.2, Fig. 4).

    ``num_labels`` C; ``image_dim`` the size of I (4096: VGG-16's fc7); ``embed_dim`` the size of
    U_l's rows and of x_t (64); ``hidden_dim`` the recurrent layer (512); ``recurrent`` "paper"
    (Eq. 1 with ReLU, no biases) or "lstm" (a standard LSTM); ``activation`` h of Eq. 4, "relu"
    or "tanh"; ``dropout`` on both inputs of the projection layer.
    """

    def __init__(
        self,
        num_labels: int,
        image_dim: int = 4096,
        embed_dim: int = 64,
        hidden_dim: int = 512,
        recurrent: str = "paper",
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if recurrent not in RECURRENT_LAYERS:
            raise ValueError(f"recurrent must be one of {RECURRENT_LAYERS}, got {recurrent!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        self.num_labels = num_labels
        self.end = num_labels
        self.start_index = num_labels + 1
        self.activation = activation
        self.embedding = nn.Embedding(num_labels + 1, embed_dim)  # U_l: labels and END
        self.start = nn.Parameter(torch.randn(embed_dim))  # input of step 1
        cell = PaperLSTMCell if recurrent == "paper" else StandardLSTMCell
        self.recurrent = cell(embed_dim, hidden_dim)
        self.project_recurrent = nn.Linear(hidden_dim, embed_dim, bias=False)  # U_o^x
        self.project_image = nn.Linear(image_dim, embed_dim, bias=False)  # U_I^x
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(embed_dim, num_labels + 1, bias=False)  # U_l^T of Eq. 5
        self.output.weight = self.embedding.weight  # shared: one parameter tensor

    def embed(self, tokens: Tensor) -> Tensor:
        """w_k = U_l e_k (Eq. 2) for label indices; START (index C + 1) gives ``start``."""
        table = torch.cat([self.embedding.weight, self.start[None]])
        return F.embedding(tokens, table)

    def image_term(self, image_features: Tensor) -> Tensor:
        """U_I^x I of Eq. 4, computed once per image and added at every step."""
        return self.project_image(self.dropout(image_features))

    def initial_state(self, n: int, device: torch.device) -> State:
        """The recurrent state before step 1: zeros (the paper does not say)."""
        size = self.recurrent.hidden_size
        count = 1 if isinstance(self.recurrent, PaperLSTMCell) else 2
        return tuple(torch.zeros(n, size, device=device) for _ in range(count))

    def step(self, previous: Tensor, state: State, image_term: Tensor) -> tuple[Tensor, State]:
        """One step: previous label indices (M,) -> logits s(t) over labels + END (M, C + 1)."""
        out, state = self.recurrent(self.embed(previous), state)
        x = ACTIVATIONS[self.activation](self.project_recurrent(self.dropout(out)) + image_term)
        return self.output(x), state

    def forward(self, image_features: Tensor, label_sequences: Tensor) -> Tensor:
        """Teacher forcing: logits (N, T, C + 1) of each step for sequences (N, T) as built by
        ``frequent_first`` (labels, END, then ``IGNORE``); step t reads START (t = 1) or the
        sequence's (t-1)-th entry and predicts its t-th."""
        n, length = label_sequences.shape
        check_sequences(label_sequences, self.num_labels)
        previous = torch.full(
            (n,), self.start_index, dtype=torch.long, device=image_features.device
        )
        state = self.initial_state(n, image_features.device)
        image = self.image_term(image_features)
        logits = []
        for t in range(length):
            step_logits, state = self.step(previous, state, image)
            logits.append(step_logits)
            token = label_sequences[:, t]
            is_label = (token >= 0) & (token < self.num_labels)
            previous = torch.where(is_label, token, self.start_index)
        return torch.stack(logits, dim=1)


def check_sequences(label_sequences: Tensor, num_labels: int) -> None:
    """Refuse entries other than a label index, END (C) or ``IGNORE``."""
    bad = (label_sequences != IGNORE) & ((label_sequences < 0) | (label_sequences > num_labels))
    if bool(bad.any()):
        value = int(label_sequences[bad][0])
        raise ValueError(
            f"label sequences hold {value}: entries must be label indices 0..{num_labels - 1}, "
            f"END ({num_labels}) or the padding {IGNORE}"
        )


def sequence_loss(logits: Tensor, label_sequences: Tensor) -> Tensor:
    """Softmax cross-entropy of every step against the sequence (Sec. 3.4), padding
    (``IGNORE``) left out: summed over an image's steps, averaged over images."""
    losses = F.cross_entropy(
        logits.flatten(0, 1), label_sequences.flatten(), ignore_index=IGNORE, reduction="none"
    )
    return losses.view(label_sequences.shape).sum(dim=1).mean()


def frequent_first(label_matrix: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """Training sequences (N, L + 1), L the most labels of an image: each image's labels, the most
    frequent first (Sec. 3.4; ties: lower label index first), then END (C), then ``IGNORE``."""
    matrix = np.asarray(label_matrix, dtype=bool)
    c = matrix.shape[1]
    priority = label_priority("frequent_first", frequencies, tuple(str(j) for j in range(c)))
    sequences = order_labels(matrix, priority)
    out = np.full((len(matrix), int(matrix.sum(axis=1).max(initial=0)) + 1), IGNORE, np.int64)
    for i, labels in enumerate(sequences):
        out[i, : len(labels)] = labels
        out[i, len(labels)] = c
    return out


@dataclass(frozen=True)
class BeamSearchResult:
    """The best prediction path of each of N images.

    ``paths`` (N, max_steps): label indices in predicted order, -1 after the last; ``log_probs``
    (N,): the path's log-probability, END's term included when it ``ended`` at END (False: cut
    at max_steps labels); ``scores`` (N, C): per label, its largest probability over the steps
    of the path (zero at the steps after it was predicted), for ranking metrics.
    """

    paths: np.ndarray
    log_probs: np.ndarray
    scores: np.ndarray
    ended: np.ndarray

    @property
    def annotation(self) -> np.ndarray:
        """The predicted label sets as a boolean (N, C) matrix."""
        out = np.zeros(self.scores.shape, dtype=bool)
        rows, steps = np.nonzero(self.paths >= 0)
        out[rows, self.paths[rows, steps]] = True
        return out


@torch.no_grad()
def beam_search(
    model: CNNRNN, image_features: Tensor, beam_size: int, max_steps: int, batch_size: int = 1024
) -> BeamSearchResult:
    """Beam search of Sec. 3.3, Fig. 5, over ``batch_size`` images at a time.

    The N = ``beam_size`` best intermediate paths are extended by every label not yet in the path
    and by END, with the model's probabilities (not renormalised over the allowed symbols); the N
    best extensions form the next intermediate paths, those ending at END join the candidate
    paths. The search stops when no intermediate path is more probable than the best candidate
    (extending a path only lowers its probability), or after ``max_steps`` labels, where the
    intermediate paths become candidates as they are (no END term). ``beam_size=1`` is greedy.
    """
    if beam_size < 1 or max_steps < 1:
        raise ValueError(f"need beam_size >= 1 and max_steps >= 1, got {beam_size}, {max_steps}")
    was_training = model.training
    model.eval()
    try:
        parts = [
            _search(model, chunk, beam_size, max_steps)
            for chunk in image_features.split(batch_size)
        ]
    finally:
        model.train(was_training)
    fields = ("paths", "log_probs", "scores", "ended")
    return BeamSearchResult(*(np.concatenate([getattr(p, k) for p in parts]) for k in fields))


def _search(model: CNNRNN, features: Tensor, b: int, max_steps: int) -> BeamSearchResult:
    n, c, device = features.shape[0], model.num_labels, features.device
    rows = torch.arange(n, device=device)[:, None]
    image = model.image_term(features).repeat_interleave(b, dim=0)  # (n*b, d), image-major
    state = model.initial_state(n * b, device)
    previous = torch.full((n * b,), model.start_index, dtype=torch.long, device=device)
    live = torch.full((n, b), float("-inf"), device=device)
    live[:, 0] = 0.0  # one intermediate path to start with
    paths = torch.full((n, b, max_steps), -1, dtype=torch.long, device=device)
    emitted = torch.zeros(n, b, c, dtype=torch.bool, device=device)
    seen = torch.zeros(n, b, c, device=device)  # running max of each label's probability
    best = _Best(n, c, max_steps, device)
    for t in range(max_steps):
        logits, state = model.step(previous, state, image)
        log_p = torch.log_softmax(logits, dim=-1).view(n, b, c + 1)
        seen = torch.maximum(seen, log_p[..., :c].exp().masked_fill(emitted, 0.0))
        log_p = torch.cat([log_p[..., :c].masked_fill(emitted, float("-inf")), log_p[..., c:]], -1)
        score, flat = (live[..., None] + log_p).view(n, b * (c + 1)).topk(b, dim=1)
        origin, symbol = flat // (c + 1), flat % (c + 1)
        best.offer(torch.where(symbol == c, score, float("-inf")), origin, paths, seen, ended=True)
        is_label = (symbol < c) & torch.isfinite(score)
        live = torch.where(is_label, score, float("-inf"))
        paths, emitted, seen = paths[rows, origin], emitted[rows, origin], seen[rows, origin]
        paths[..., t] = torch.where(is_label, symbol, -1)
        emitted |= F.one_hot(symbol, c + 1)[..., :c].bool() & is_label[..., None]
        flat_origin = (rows * b + origin).view(-1)
        state = tuple(s[flat_origin] for s in state)
        previous = torch.where(is_label, symbol, model.start_index).view(-1)
        if bool((live.max(dim=1).values <= best.log_probs).all()):
            break
    else:  # max_steps labels: the intermediate paths end here, without END
        rows_all = torch.arange(b, device=device).expand(n, b)
        best.offer(live, rows_all, paths, seen, ended=False)
    return best.result()


class _Best:
    """The best candidate path of each image so far, with its per-label scores."""

    def __init__(self, n: int, c: int, max_steps: int, device: torch.device) -> None:
        self.log_probs = torch.full((n,), float("-inf"), device=device)
        self.paths = torch.full((n, max_steps), -1, dtype=torch.long, device=device)
        self.scores = torch.zeros(n, c, device=device)
        self.ended = torch.zeros(n, dtype=torch.bool, device=device)

    def offer(
        self, score: Tensor, origin: Tensor, paths: Tensor, seen: Tensor, ended: bool
    ) -> None:
        """Keep, per image, the best of ``score`` (n, b) where it beats the current best;
        ``origin`` names the intermediate path each entry extends."""
        value, k = score.max(dim=1)
        better = value > self.log_probs
        if not bool(better.any()):
            return
        rows = torch.arange(len(value), device=value.device)
        source = origin[rows, k]
        self.log_probs = torch.where(better, value, self.log_probs)
        self.paths[better] = paths[rows, source][better]
        self.scores[better] = seen[rows, source][better]
        self.ended[better] = ended

    def result(self) -> BeamSearchResult:
        return BeamSearchResult(
            self.paths.cpu().numpy(),
            self.log_probs.double().cpu().numpy(),
            self.scores.cpu().numpy(),
            self.ended.cpu().numpy(),
        )
