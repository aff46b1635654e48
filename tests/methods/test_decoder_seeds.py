"""Every seed of a decoder trained as one stack: the same curves and weights as separate fits,
each seed kept at its lowest validation loss and stopped on its own curve, finished seeds reused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from annokit.methods.decoder_jobs import fixed_order_problem, multi_order_problem
from annokit.methods.decoder_seeds import VAL_LOSS, fit_seeds
from annokit.methods.multi_order import (
    DecoderTraining,
    LabelledScores,
    train_fixed_order,
    train_multi_order,
    variant_settings,
)
from annokit.models.multi_order_rnn import MultiOrderRNN
from annokit.models.rnn_decoder import LabelDecoder, ReleasedLabelDecoder
from annokit.models.seed_stack import StackedDecoder
from annokit.profile import RNNSettings
from annokit.training.config import fit_config

NAMES = [f"label{j}" for j in range(6)]


def synthetic_problem(n: int = 200, c: int = 6) -> tuple[LabelledScores, LabelledScores]:
    """Correlated labels (label 2k+1 mostly with 2k) and noisy scores: 160 fit, 40 validation."""
    rng = np.random.default_rng(0)
    base = rng.random((n, c // 2)) < 0.35
    y = np.stack([base, base & (rng.random((n, c // 2)) < 0.8)], axis=2).reshape(n, c)
    s_hat = 1 / (1 + np.exp(-(np.where(y, 1.5, -2.5) + rng.normal(0, 1.0, y.shape))))
    s_hat = s_hat.astype(np.float32)
    return LabelledScores(s_hat[:160], y[:160]), LabelledScores(s_hat[160:], y[160:])


def settings_of(variant: str, epochs: int = 3) -> RNNSettings:
    optimizer = "rmsprop_tf" if variant == "released-code" else "rmsprop"
    return RNNSettings(
        hidden=16,
        embedding=8,
        steps=3,
        lr=1e-3,
        epochs=epochs,
        batch_size=32,
        variant=variant,
        optimizer=optimizer,
    )


def stacked(model: str, seeds, folder, epochs: int = 3, patience: int = 0):
    """``fit_seeds`` on ``model`` (a variant or an order) as ``train_decoder`` runs it."""
    train, curve = synthetic_problem()
    if model in ("released-code", "paper-text"):
        settings = settings_of(model, epochs)
        problem = multi_order_problem(settings, train, curve)
    else:
        settings = variant_settings(settings_of("released-code", epochs), "paper-text")
        problem = fixed_order_problem(settings, model, train, NAMES, curve)
    drop_last = model == "released-code"
    configs = [fit_config(settings, seed, drop_last=drop_last) for seed in seeds]
    return problem, fit_seeds(problem, configs, [folder / f"seed{s}" for s in seeds], patience)


def weights_equal(a: torch.nn.Module, b: torch.nn.Module, tolerance: float) -> None:
    theirs = b.state_dict()
    for key, value in a.state_dict().items():
        torch.testing.assert_close(value.float(), theirs[key].float(), atol=tolerance, rtol=0)


@pytest.mark.parametrize("model", ["released-code", "paper-text", "rare_first"])
def test_a_stack_of_seeds_trains_each_seed_as_its_own_fit_would(model, tmp_path):
    train, curve = synthetic_problem()
    _, fits = stacked(model, (0, 3), tmp_path / "stack")
    for seed, trained in zip((0, 3), fits):
        # the reference: the kit's fit loop with this seed alone, for the epochs the stack kept
        settings = settings_of("released-code" if model == "rare_first" else model, trained.epoch)
        how = DecoderTraining(settings, seed, tmp_path / f"fit{seed}", progress=False)
        if model == "rare_first":
            alone, history = train_fixed_order(how, model, train, NAMES, curve)
        else:
            alone, history = train_multi_order(how, train, curve)
        kept = trained.history
        np.testing.assert_allclose(kept.train_loss[: trained.epoch], history.train_loss, atol=1e-5)
        val = [m[VAL_LOSS] for m in kept.metrics[: trained.epoch]]
        np.testing.assert_allclose(val, [m["val_loss"] for m in history.metrics], atol=1e-5)
        # PyTorch's RMSProp (ε 1e-8) divides a gradient by its own root mean square: one of
        # rounding size still moves its weight by up to lr (1e-3), so the text's weights agree less
        weights_equal(trained.model, alone, tolerance=5e-4 if model == "paper-text" else 1e-5)


def test_each_seed_keeps_its_lowest_epoch_and_stops_on_its_own_curve(tmp_path):
    curves = [
        [3.0, 2.0, 1.0, 1.5, 1.6, 1.7, 1.8, 1.9],  # lowest at 3: stops after epoch 5
        [3.0, 2.5, 2.0, 1.9, 1.8, 1.85, 1.9, 2.0],  # lowest at 5: stops after epoch 7
    ]
    problem, _ = stacked("paper-text", (0, 3), tmp_path / "plain", epochs=1)
    scripted = {"calls": 0}

    def losses(stack, batch):
        if stack.training:
            return problem.losses(stack, batch)
        scripted["calls"] += 1  # one validation per epoch
        return torch.tensor([curve[scripted["calls"] - 1] for curve in curves[: stack.seeds]])

    settings = settings_of("paper-text", epochs=8)
    configs = [fit_config(settings, seed) for seed in (0, 3)]
    folders = [tmp_path / "early" / f"seed{s}" for s in (0, 3)]
    fits = fit_seeds(replace(problem, losses=losses), configs, folders, patience=2)
    assert [f.epoch for f in fits] == [3, 5]
    assert [len(f.history) for f in fits] == [5, 7]
    assert scripted["calls"] == 7  # the stack stopped with its last seed, before epoch 8
    # seed 0's weights are those after its third epoch: a fit of 3 epochs of it alone
    scripted["calls"] = 0
    curves[:] = [[3.0, 2.0, 1.0]]
    three = fit_seeds(
        replace(problem, losses=losses),
        [fit_config(settings.with_epochs(3), 0)],
        [tmp_path / "three"],
        patience=0,
    )
    weights_equal(fits[0].model, three[0].model, tolerance=1e-6)
    # finished seeds are loaded, not trained: a problem that cannot train gives the same weights
    untrainable = replace(problem, losses=lambda stack, batch: 1 / 0)
    again = fit_seeds(untrainable, configs, folders, patience=2)
    assert [f.epoch for f in again] == [3, 5]
    weights_equal(again[1].model, fits[1].model, tolerance=0.0)


@pytest.mark.parametrize("kind", [LabelDecoder, ReleasedLabelDecoder])
def test_a_stack_steps_each_seed_like_its_own_decoder(kind):
    torch.manual_seed(0)
    decoders = [kind(5, 12, 4, end_token=True).eval() for _ in range(3)]
    stack = StackedDecoder(decoders).eval()
    s_hat, inputs = torch.rand(3, 7, 5), torch.randint(0, 6, (3, 7, 4))
    forced = stack.teacher_forced(s_hat, inputs)
    for k, decoder in enumerate(decoders):
        torch.testing.assert_close(forced[k], decoder(s_hat[k], inputs[k]), atol=1e-6, rtol=0)
        weights_equal(stack.decoder(k), decoder, tolerance=0.0)
    models = [MultiOrderRNN(5, 12, 4, steps=4, variant="released-code").eval() for _ in range(2)]
    stack = StackedDecoder([m.decoder for m in models]).eval()
    logits, picks = stack.multi_order(s_hat[:2], steps=4, distinct=True)
    for k, model in enumerate(models):
        one_logits, one_picks = model(s_hat[k], distinct=True)
        torch.testing.assert_close(logits[k], one_logits, atol=1e-6, rtol=0)
        assert torch.equal(picks[k], one_picks)
