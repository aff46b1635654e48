"""Every seed of one decoder of Table 1 trained at once, each keeping its validation-best epoch.

``fit_seeds`` trains the S seeds of one decoder as one ``models.seed_stack.StackedDecoder``. Seed k
starts from the weights its model gets after ``seed_everything(k)``, sees its batches in the order
``training.fit.fit`` would give it (a shuffle drawn from seed k and the epoch), and its loss is its
own batch mean: its gradients, RMSProp state and weights are those of a fit of seed k alone, to
float rounding, whichever seeds train beside it.

After every epoch each seed's loss on the validation images is recorded (``val_loss``). A seed stops
once ``patience`` epochs have passed without a new lowest validation loss and keeps the weights of
its lowest epoch (``training.validation.lowest_epoch``); the stack stops when every seed has, at
``epochs`` at the latest (patience 0: all epochs, still keeping the lowest). Each seed's weights go
to ``<folder>/final.pt`` as ``fit`` writes them, the chosen epoch in ``meta``; a seed whose file is
there is loaded, not trained again. A stack trains in seconds, so it keeps no per-epoch checkpoints:
an interrupted one starts again, to the same result. The configs' ``[precision] compile`` mode
compiles each step's losses (``SeedLosses``, ``training.precision.maybe_compile``); "off", the
default, runs them as they are.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from annokit.models.rnn_decoder import LabelDecoder
from annokit.models.seed_stack import StackedDecoder
from annokit.training import precision
from annokit.training.checkpoints import load_weights, save_final
from annokit.training.config import FitConfig, build_optimizer
from annokit.training.fit import (
    SMALL_MODEL_THREADS,
    FitOptions,
    History,
    run_record,
    seed_everything,
)
from annokit.training.resume import RESUME_MAY_DIFFER
from annokit.training.validation import lowest_epoch, patience_ran_out

VAL_LOSS = "val_loss"  # the history's key of the per-epoch validation loss
CHOSEN_EPOCH = "chosen_epoch"  # the final.pt ``meta`` key of the epoch kept


@dataclass(frozen=True)
class SeedProblem:
    """What the seeds of one decoder learn: ``build()`` makes one seed's model (``MultiOrderRNN``
    or ``LabelDecoder``; called after seeding), ``data`` the training tensors (first axis: images),
    ``losses(stack, batch)`` each seed's loss (S,) on a batch of (S, B, ...) tensors, ``validation``
    the validation tensors (one set for every seed), ``stage`` what the checkpoints agree with."""

    build: Callable[[], nn.Module]
    data: tuple[Tensor, ...]
    losses: Callable[[StackedDecoder, tuple[Tensor, ...]], Tensor]
    validation: tuple[Tensor, ...]
    stage: dict


@dataclass
class SeedFit:
    """One seed's model at its chosen epoch (eval mode), that epoch (from 1) and its curve."""

    model: nn.Module
    epoch: int
    history: History


class SeedLosses(nn.Module):
    """Each seed's loss (S,) on a batch of (S, B, ...) tensors, as one module: what
    ``[precision] compile`` compiles. Its parameters are the stack's, which checkpoints save."""

    def __init__(
        self,
        stack: StackedDecoder,
        losses: Callable[[StackedDecoder, tuple[Tensor, ...]], Tensor],
    ) -> None:
        super().__init__()
        self.stack = stack
        self.losses = losses

    def forward(self, *batch: Tensor) -> Tensor:
        return self.losses(self.stack, batch)


def train_step(
    seed_losses: nn.Module, optimizer: torch.optim.Optimizer, batch: tuple[Tensor, ...]
) -> Tensor:
    """One optimiser step of every seed at once (``seed_losses``: a ``SeedLosses``, compiled or
    not); each seed's loss (S,), detached."""
    losses = seed_losses(*batch)
    optimizer.zero_grad(set_to_none=True)
    losses.sum().backward()  # seed k's weights get the gradient of its own loss only
    optimizer.step()
    return losses.detach()


def label_decoder(model: nn.Module) -> LabelDecoder:
    """The ``LabelDecoder`` inside a model: a Multi-order RNN's ``decoder``, else the model."""
    return getattr(model, "decoder", model)


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """The order ``fit`` shows ``n`` images in at ``epoch`` (from 1) with ``seed``: its
    ``DistributedSampler``'s shuffle on one process."""
    generator = torch.Generator()
    generator.manual_seed(seed + epoch - 1)
    return torch.randperm(n, generator=generator)


def batch_positions(orders: Tensor, batch_size: int, drop_last: bool) -> list[Tensor]:
    """Each step's (S, B) image positions: every seed's order cut into batches (the short last
    one dropped with ``drop_last``)."""
    n = orders.shape[1]
    stops = range(batch_size, n + (1 if drop_last else batch_size), batch_size)
    return [orders[:, stop - batch_size : min(stop, n)] for stop in stops]


def fit_seeds(
    problem: SeedProblem,
    configs: Sequence[FitConfig],
    folders: Sequence[Path],
    patience: int,
    device: str | torch.device = "cpu",
) -> list[SeedFit]:
    """Train ``problem`` with every ``configs[k].seed`` (``configs[k].epochs`` at most, early
    stopping after ``patience``) in ``folders[k]``; each seed at its lowest validation loss."""
    stage = {**problem.stage, "patience": int(patience)}
    records = [run_record(c, FitOptions(stage=stage), world_size=1) for c in configs]
    done: dict[int, SeedFit] = {}
    for k, (config, folder) in enumerate(zip(configs, folders)):
        final = Path(folder) / "final.pt"
        if final.exists():
            seed_everything(config.seed)
            model = problem.build()
            saved = load_weights(
                final, model, expected_config=records[k].config, ignore=RESUME_MAY_DIFFER
            )
            epoch = int(saved["meta"][CHOSEN_EPOCH])
            done[k] = SeedFit(model.eval(), epoch, History.from_dict(saved["history"]))
    todo = [k for k in range(len(configs)) if k not in done]
    if todo:
        previous = torch.get_num_threads()
        torch.set_num_threads(SMALL_MODEL_THREADS)
        try:
            fits = _train([configs[k] for k in todo], problem, patience, torch.device(device))
        finally:
            torch.set_num_threads(previous)
        for k, trained in zip(todo, fits):
            meta = {**records[k].meta, CHOSEN_EPOCH: trained.epoch}
            save_final(
                Path(folders[k]) / "final.pt",
                model_state=trained.model.state_dict(),
                config=records[k].config,
                history=trained.history.to_dict(),
                meta=meta,
            )
            done[k] = trained
    return [done[k] for k in range(len(configs))]


def _train(
    configs: Sequence[FitConfig], problem: SeedProblem, patience: int, device: torch.device
) -> list[SeedFit]:
    """The loop behind ``fit_seeds``, for the seeds of ``configs`` (one shared training set)."""
    first = configs[0]
    models = []
    for config in configs:
        seed_everything(config.seed)
        models.append(problem.build())
    stack = StackedDecoder([label_decoder(m) for m in models]).to(device)
    optimizer = build_optimizer(list(stack.parameters()), first)
    seed_losses = precision.maybe_compile(
        SeedLosses(stack, problem.losses), first.precision.compile
    )
    data = tuple(t.to(device) for t in problem.data)
    seeds = len(configs)
    validation = tuple(t.to(device).expand(seeds, *t.shape) for t in problem.validation)
    histories = [History() for _ in configs]
    best: list[dict[str, Tensor] | None] = [None] * seeds
    running = list(range(seeds))
    for epoch in range(1, first.epochs + 1):
        started = time.perf_counter()
        orders = torch.stack([epoch_order(len(data[0]), c.seed, epoch) for c in configs])
        seed_losses.train()
        totals, steps = torch.zeros(seeds, dtype=torch.float64), 0
        for positions in batch_positions(orders.to(device), first.batch_size, first.drop_last):
            losses = train_step(seed_losses, optimizer, tuple(t[positions] for t in data))
            totals += losses.cpu().double()
            steps += 1
        seed_losses.eval()
        with torch.no_grad():
            val_losses = seed_losses(*validation).cpu()
        seconds = time.perf_counter() - started
        for k in list(running):
            histories[k].append(
                epoch, float(totals[k] / steps), {VAL_LOSS: float(val_losses[k])}, seconds
            )
            curve = [m[VAL_LOSS] for m in histories[k].metrics]
            if lowest_epoch(curve) == epoch:
                best[k] = {key: stack.weight(key)[k].detach().clone() for key in stack.keys}
            if patience_ran_out(curve, patience):
                running.remove(k)
        if not running:
            break
    fits = []
    for k, model in enumerate(models):
        label_decoder(model).load_state_dict(best[k])
        curve = [m[VAL_LOSS] for m in histories[k].metrics]
        fits.append(SeedFit(model.cpu().eval(), lowest_epoch(curve), histories[k]))
    return fits
