"""Rates of each ``torch.compile`` mode of ``[precision] compile``: "off", "default",
"reduce-overhead" (CUDA graphs) and "max-autotune", side by side on one machine.

For each mode: the CNN's and the MS-CNN branch's training steps and feature extraction (as
``bench.model_rates`` measures them), and the training step of the profile's Multi-order RNN with
all its seeds as one stack (``methods.decoder_seeds``: the decoder of Table 1 as notebook 05 trains
it, at the ``[rnn]`` sizes, on random CNN scores). A mode that cannot run here (no compiler, CUDA
graphs on a CPU) is recorded as failed with its one-line reason; the other modes still run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import torch

from annokit.bench import model_rates
from annokit.bench.model_rates import ModelBench
from annokit.bench.timing import Budget, Rate, measure
from annokit.bench.vector_rates import LABELS, multi_hot
from annokit.methods.decoder_jobs import multi_order_problem
from annokit.methods.decoder_seeds import SeedLosses, label_decoder, train_step
from annokit.methods.multi_order import LabelledScores, variant_settings
from annokit.models.seed_stack import StackedDecoder
from annokit.profile import Profile
from annokit.training import precision
from annokit.training.config import build_optimizer, fit_config

IMAGE_RATES = ("cnn_train_step", "mscnn_train_step", "inference")
DECODER_STACK = "decoder_stack_step"
# rate name -> its column in the printout
COMPILE_RATE_NAMES = {
    "cnn_train_step": "CNN step img/s",
    "mscnn_train_step": "MS-CNN step img/s",
    "inference": "extraction img/s",
    DECODER_STACK: "decoder stack vectors/s",
}
REASON_LENGTH = 300  # characters of a failed mode's reason


def decoder_stack_settings(profile: Profile) -> dict:
    """What the decoder stack step is measured at: the profile's variant, its seeds, the batch."""
    rnn = profile.rnn
    return {"model": rnn.variant, "seeds": len(profile.seeds("rnn")), "batch": rnn.batch_size}


def decoder_stack_rate(profile: Profile, device: torch.device, mode: str, budget: Budget) -> Rate:
    """Vectors/s (images × seeds) of one training step of the profile's Multi-order RNN, every
    seed in one stack, compiled with ``mode``: forward, Eq. 7 per seed, backward, optimiser."""
    settings = variant_settings(profile.rnn, profile.rnn.variant)
    seeds, size = profile.seeds("rnn"), settings.batch_size
    generator = torch.Generator().manual_seed(0)
    scores = LabelledScores(
        torch.rand(size, LABELS, generator=generator).numpy(), multi_hot(size, generator).numpy()
    )
    problem = multi_order_problem(settings, scores, scores)
    decoders = []
    for seed in seeds:
        torch.manual_seed(seed)
        decoders.append(label_decoder(problem.build()))
    stack = StackedDecoder(decoders).to(device)
    optimizer = build_optimizer(list(stack.parameters()), fit_config(settings, seeds[0]))
    seed_losses = precision.maybe_compile(SeedLosses(stack, problem.losses), mode).train()
    batch = tuple(t.to(device).expand(len(seeds), *t.shape) for t in problem.data)

    def step() -> int:
        train_step(seed_losses, optimizer, batch)
        return len(seeds) * size

    return measure(step, budget, device)


def failure(error: Exception) -> str:
    """An exception as one line: its type and its first line (with the next when it ends in ':',
    as a compiler's "backend raised:" does)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if text.endswith(":") and len(lines) > 1:
        text = f"{text} {lines[1]}"
    return f"{type(error).__name__}: {text}"[:REASON_LENGTH]


def mode_rates(
    mode: str,
    bench: ModelBench,
    budgets: tuple[Budget, Budget],
    profile: Profile,
    measured: dict[str, Rate] | None = None,
) -> dict:
    """One mode's record: its rates (``measured``: image rates already taken in this mode, reused)
    and its wall seconds, compiling included; or "failed" and the reason."""
    model_budget, vector_budget = budgets
    started, reused = time.perf_counter(), measured is not None
    torch.compiler.reset()  # each mode compiles afresh, below dynamo's recompile limit
    try:
        if measured is None:
            settings = replace(bench.precision, compile=mode)
            measured = model_rates.model_rates(replace(bench, precision=settings), model_budget)
        rates = {key: measured[key] for key in IMAGE_RATES}
        rates[DECODER_STACK] = decoder_stack_rate(profile, bench.device, mode, vector_budget)
    except Exception as error:  # noqa: BLE001 (a mode that fails is a result, not a crash)
        return {"status": "failed", "reason": failure(error)}
    finally:
        torch.compiler.reset()
    seconds = time.perf_counter() - started
    return {
        "status": "measured",
        "seconds": seconds,  # of the decoder stack alone when the image rates were reused
        "reused_image_rates": reused,
        "rates": {key: rate.to_dict() for key, rate in rates.items()},
    }


def compile_mode_rates(
    modes: Sequence[str],
    bench: ModelBench,
    budgets: tuple[Budget, Budget],
    profile: Profile,
    main: dict[str, Rate],
) -> dict[str, dict]:
    """Every mode of ``modes``, by name; ``main``: the image rates measured in ``bench``'s own
    mode, reused for it."""
    own = precision.compile_mode(bench.precision.compile)
    return {
        mode: mode_rates(mode, bench, budgets, profile, main if mode == own else None)
        for mode in modes
    }
