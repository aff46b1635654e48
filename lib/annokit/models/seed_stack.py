"""Several seeds of one label decoder as one model: every weight of ``rnn_decoder.LabelDecoder``
(or ``ReleasedLabelDecoder``) stacked along a leading seed axis S, so that one batched matrix
product (``torch.bmm``) steps all the seeds' LSTMs at once.

The seeds share no weight and no batch statistic: seed k's outputs are those of its own decoder
(Eq. 1-3 as in ``annokit.models.rnn_decoder``), only computed beside the others. On a CPU the
decoders of the demo are small enough that a step costs mostly its Python overhead, which the
stack pays once for S seeds. ``decoder(k)`` gives seed k back as an ordinary decoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from annokit.models.multi_order_rnn import PICKED_LOGIT
from annokit.models.rnn_decoder import LabelDecoder, ReleasedLabelDecoder


def _attribute(key: str) -> str:
    return key.replace(".", "__")


class StackedDecoder(nn.Module):
    """S decoders of one architecture, their state-dict entries stacked: ``weight(key)`` is the
    (S, ...) tensor of the decoders' ``key`` (e.g. ``"lstm.weight_ih_l0"``)."""

    def __init__(self, decoders: Sequence[LabelDecoder]) -> None:
        super().__init__()
        first = decoders[0]
        if any(type(d) is not type(first) for d in decoders):
            raise ValueError("a stack holds decoders of one class")
        self.template = [type(first), first.num_labels, first.lstm.hidden_size]
        self.embedding_size, self.end_token = first.embedding.embedding_dim, first.end is not None
        self.released = isinstance(first, ReleasedLabelDecoder)
        self.num_labels, self.start, self.end = first.num_labels, first.start, first.end
        self.seeds = len(decoders)
        params, states = dict(first.named_parameters()), [d.state_dict() for d in decoders]
        self.keys = list(states[0])
        for key in self.keys:
            stacked = torch.stack([state[key].detach().clone() for state in states])
            if key in params:  # a weight; else a buffer (BN's moving averages)
                setattr(self, _attribute(key), nn.Parameter(stacked))
            else:
                self.register_buffer(_attribute(key), stacked)
        if self.released:
            self.norm_momentum, self.norm_eps = first.norm.momentum, first.norm.eps

    def weight(self, key: str) -> Tensor:
        return getattr(self, _attribute(key))

    def decoder(self, k: int) -> LabelDecoder:
        """Seed k as an ordinary decoder of its class (a copy of its weights, in eval mode)."""
        kind, num_labels, hidden = self.template
        one = kind(num_labels, hidden, self.embedding_size, end_token=self.end_token)
        one.load_state_dict({key: self.weight(key)[k].detach().clone() for key in self.keys})
        return one.eval()

    def linear(self, x: Tensor, name: str, bias: str = "") -> Tensor:
        """(S, N, in) -> (S, N, out): each seed's layer ``name`` (weights ``name.weight``, or
        ``name`` and ``bias``) on its own rows."""
        if bias:
            w, b = self.weight(name), self.weight(bias)
        else:
            w, b = self.weight(f"{name}.weight"), self.weight(f"{name}.bias")
        return torch.baddbmm(b[:, None], x, w.mT)

    def normalise(self, s_hat: Tensor) -> Tensor:
        """The release's BN of ŝ, per seed (``ReleasedBatchNorm``): batch statistics in training,
        which update that seed's moving averages; the moving averages in eval mode."""
        mean, var = self.weight("norm.running_mean"), self.weight("norm.running_var")
        if self.training:
            batch_mean, batch_var = s_hat.mean(dim=1), s_hat.var(dim=1, unbiased=False)
            with torch.no_grad():
                mean.lerp_(batch_mean, self.norm_momentum)
                var.lerp_(batch_var, self.norm_momentum)
                self.weight("norm.num_batches_tracked").add_(1)
            mean, var = batch_mean, batch_var
        scale = torch.rsqrt(var + self.norm_eps) * self.weight("norm.weight")
        return (s_hat - mean[:, None]) * scale[:, None] + self.weight("norm.bias")[:, None]

    def initial_state(self, s_hat: Tensor) -> tuple[Tensor, Tensor]:
        """(h_0, c_0), each (S, N, H), from ŝ (S, N, C)."""
        if self.released:
            s_hat = self.normalise(s_hat)
        return torch.tanh(self.linear(s_hat, "init_h")), torch.tanh(self.linear(s_hat, "init_c"))

    def inputs(self, labels: Tensor) -> Tensor:
        """The LSTM's input part of the gates for labels (S, N, ...): W_ih E a + b_ih (Eq. 1)."""
        table = self.weight("embedding.weight")  # (S, C + 1, E)
        rows = torch.arange(self.seeds, device=table.device).view(-1, *[1] * (labels.dim() - 1))
        x = table[rows, labels]  # Eq. 1: x_t = E a_{t-1}
        flat = self.linear(x.flatten(1, -2), "lstm.weight_ih_l0", "lstm.bias_ih_l0")
        return flat.view(*labels.shape, -1)

    def cell(self, gates_in: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """One LSTM step (Eq. 2) from the input part of the gates (S, N, 4H)."""
        h, c = state
        gates = gates_in + self.linear(h, "lstm.weight_hh_l0", "lstm.bias_hh_l0")
        i, f, g, o = gates.chunk(4, dim=-1)  # PyTorch's gate order
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def output(self, h: Tensor) -> Tensor:
        """Logits ŷ_t from h_t (S, N, H): W h_t + b (Eq. 3), the release's W_out tanh(W_h h_t)."""
        if self.released:
            return self.linear(torch.tanh(self.linear(h, "output.0")), "output.2")
        return self.linear(h, "output")

    def step(
        self, previous: Tensor, state: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Previous labels (S, N) -> logits (S, N, outputs) and the new state (Eq. 1-3)."""
        state = self.cell(self.inputs(previous), state)
        return self.output(state[0]), state

    def start_tokens(self, n: int, device: torch.device) -> Tensor:
        return torch.full((self.seeds, n), self.start, dtype=torch.long, device=device)

    def teacher_forced(self, s_hat: Tensor, inputs: Tensor) -> Tensor:
        """``LabelDecoder.forward`` per seed: ŝ (S, N, C), inputs (S, N, L) -> (S, N, L, outputs).

        The inputs are known in advance, so their part of the gates and the outputs are computed
        for all L steps at once, as ``nn.LSTM`` does; only the recurrence runs step by step.
        """
        state = self.initial_state(s_hat)
        gates_in = self.inputs(inputs)  # (S, N, L, 4H)
        hidden = []
        for t in range(inputs.shape[2]):
            state = self.cell(gates_in[:, :, t], state)
            hidden.append(state[0])
        h = torch.stack(hidden, dim=2)  # (S, N, L, H)
        return self.output(h.flatten(1, 2)).view(*inputs.shape, -1)

    def multi_order(
        self, s_hat: Tensor, steps: int, distinct: bool = False
    ) -> tuple[Tensor, Tensor]:
        """``MultiOrderRNN.forward`` per seed: ŝ (S, N, C) -> step logits (S, N, T, C) and picks
        (S, N, T); each step fed the previous argmax (Eq. 4)."""
        s, n = s_hat.shape[:2]
        state = self.initial_state(s_hat)
        previous = self.start_tokens(n, s_hat.device)
        picked = torch.zeros(s, n, self.num_labels, dtype=torch.bool, device=s_hat.device)
        logits, picks = [], []
        for _ in range(steps):
            step_logits, state = self.step(previous, state)
            choice = step_logits.detach()
            if distinct:
                choice = choice.masked_fill(picked, PICKED_LOGIT)
            previous = choice.argmax(dim=2)  # Eq. 4: first index wins a tie
            picked.scatter_(2, previous[:, :, None], True)
            logits.append(step_logits)
            picks.append(previous)
        return torch.stack(logits, dim=2), torch.stack(picks, dim=2)
