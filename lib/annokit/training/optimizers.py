"""Optimisers that torch.optim lacks: TensorFlow 1's RMSProp, which the Multi-order RNN's release
trains with (``tf.train.RMSPropOptimizer`` in ``solver/graph_ops.py`` of
``ayushidutta/multi-order-rnn``).

TF 1's update, with its mean square ``ms`` started at 1 and ε inside the root::

    ms  ← decay · ms + (1 − decay) · g²
    mom ← momentum · mom + lr · g / √(ms + ε)
    θ   ← θ − mom

``torch.optim.RMSprop`` starts the mean square at 0 and divides by √v + ε instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor


class TFRMSprop(torch.optim.Optimizer):
    """``tf.train.RMSPropOptimizer`` (not centred): mean square from 1, ε inside the root,
    ``weight_decay`` added to the gradient as ``torch.optim.RMSprop`` does."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float,
        decay: float = 0.9,
        eps: float = 1e-10,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        if not lr > 0 or not 0 <= decay <= 1 or eps < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(
                f"TFRMSprop needs lr > 0, 0 <= decay <= 1 and eps, momentum, weight_decay >= 0; "
                f"got lr={lr}, decay={decay}, eps={eps}, momentum={momentum}, "
                f"weight_decay={weight_decay}"
            )
        defaults = {
            "lr": lr,
            "decay": decay,
            "eps": eps,
            "momentum": momentum,
            "weight_decay": weight_decay,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One update of every parameter with a gradient (TF's ``ApplyRMSProp``)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            decay, eps, lr = group["decay"], group["eps"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["mean_square"] = torch.ones_like(p, memory_format=torch.preserve_format)
                    state["momentum"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                mean_square, mom = state["mean_square"], state["momentum"]
                mean_square.mul_(decay).addcmul_(grad, grad, value=1.0 - decay)
                mom.mul_(group["momentum"]).addcdiv_(grad, mean_square.add(eps).sqrt_(), value=lr)
                p.sub_(mom)
        return loss
