"""The Multi-order RNN stages (Dutta et al. 2020): each variant's settings, training on cached CNN
scores, prediction files, Tables 1 and 4, and every decoder of Table 1 over seeds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from annokit.artifacts.predictions import Predictions
from annokit.methods.decoder_jobs import DecoderData, DecoderJob, train_decoder
from annokit.methods.multi_order import (
    MULTI_ORDER,
    MULTI_ORDER_PAPER_TEXT,
    TABLE1_ROWS,
    TOP1_FIRST,
    TOP1_POOLED,
    VARIANT_OPTIMIZER,
    DecoderTraining,
    LabelledScores,
    cnn_predictions,
    first_labels,
    fixed_order_predictions,
    multi_order_predictions,
    pooled_top_labels,
    table1,
    table1_decoders,
    table4,
    train_fixed_order,
    train_multi_order,
    variant_settings,
)
from annokit.models.multi_order_rnn import VARIANTS, MultiOrderRNN
from annokit.profile import ProfileError, RNNSettings, load_profile
from annokit.profile.strict import build
from annokit.training.checkpoints import load_checkpoint
from annokit.training.config import build_optimizer, fit_config
from annokit.training.optimizers import TFRMSprop
from annokit.training.parallel import run_jobs


def synthetic_problem(n: int = 240, c: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Correlated labels (label 2k+1 mostly comes with 2k) and noisy CNN scores of them."""
    rng = np.random.default_rng(seed)
    base = rng.random((n, c // 2)) < 0.35
    follow = base & (rng.random((n, c // 2)) < 0.8)
    y = np.stack([base, follow], axis=2).reshape(n, c)
    s_hat = 1 / (1 + np.exp(-(np.where(y, 1.5, -2.5) + rng.normal(0, 1.0, y.shape))))
    return s_hat.astype(np.float32), y


# Training, prediction files and top-1.


def test_training_decreases_the_loss(tmp_path):
    s_hat, y = synthetic_problem()
    train, curve = LabelledScores(s_hat[:200], y[:200]), LabelledScores(s_hat[200:], y[200:])
    settings = RNNSettings(
        hidden=32, embedding=16, steps=3, lr=1e-3, epochs=4, batch_size=16, max_length=4
    )
    how = DecoderTraining(settings, seed=0, run_dir=tmp_path)
    model, history = train_multi_order(how, train, curve)
    assert history.train_loss[-1] < 0.7 * history.train_loss[0]
    assert history.metrics[-1]["val_loss"] < history.metrics[0]["val_loss"]
    assert (tmp_path / "rnn" / "multi_order_rnn_paper_text" / "final.pt").exists()
    pred = multi_order_predictions(model, s_hat[200:], np.arange(200, 240))
    assert pred.model == MULTI_ORDER_PAPER_TEXT and pred.meta["variant"] == "paper-text"
    assert pred.step_scores.shape == (40, 3, 6) and pred.sequences.shape == (40, 3)

    released_settings = dataclasses.replace(
        settings, variant="released-code", **{**VARIANT_OPTIMIZER["released-code"], "lr": 2e-2}
    )
    released_how = dataclasses.replace(how, settings=released_settings)
    released, released_history = train_multi_order(released_how, train)
    assert released_history.train_loss[-1] < 0.7 * released_history.train_loss[0]
    final = tmp_path / "rnn" / "multi_order_rnn" / "final.pt"  # its own run folder
    # TF 1's RMSProp, and no short last batch (200 fit images, batch 16: 12 full batches)
    fit_record = load_checkpoint(final)["config"]["fit"]
    assert fit_record["drop_last"] is True and fit_record["training"]["optimizer"] == "rmsprop_tf"
    released_pred = multi_order_predictions(released, s_hat[200:], np.arange(200, 240))
    assert released_pred.model == MULTI_ORDER and released_pred.meta["variant"] == "released-code"
    assert all(len(set(seq.tolist())) == 3 for seq in released_pred.sequences)

    names = [f"label{j}" for j in range(6)]
    decoder, fixed_history = train_fixed_order(how, "rare_first", train, names)
    assert fixed_history.train_loss[-1] < 0.7 * fixed_history.train_loss[0]
    assert (tmp_path / "rnn" / "cnn_rnn_rare_first" / "final.pt").exists()
    rows = np.arange(200, 240)
    fixed = fixed_order_predictions("rare_first", decoder, s_hat[200:], rows, settings)
    assert fixed.model == "cnn_rnn_rare_first" and "greedy" in fixed.rule
    np.testing.assert_array_equal(fixed.scores, fixed.step_scores.max(axis=1))

    again, _ = train_multi_order(how, train)  # final.pt reused, same weights
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_top1_accuracy_and_tables():
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    # max-pooled scores: their argmax is 0, 1, 2, 0 (right, right, wrong, wrong)
    scores = np.array(
        [[0.9, 0.2, 0.1], [0.1, 0.8, 0.3], [0.3, 0.2, 0.7], [0.6, 0.2, 0.5]], dtype=np.float32
    )
    # first labels: right, wrong, right, right
    multi = Predictions(
        MULTI_ORDER,
        np.arange(4),
        scores,
        scores > 0.5,
        "test",
        sequences=np.array([[2, 0], [0, 1], [1, 1], [2, 2]]),
    )
    # right, none (wrong), wrong, wrong
    rare = Predictions(
        "cnn_rnn_rare_first",
        np.arange(4),
        scores,
        scores > 0.5,
        "test",
        sequences=np.array([[0, -1], [-1, -1], [2, 0], [1, -1]]),
    )
    assert first_labels(multi).tolist() == [2, 0, 1, 2]
    assert pooled_top_labels(multi).tolist() == [0, 1, 2, 0]
    top1 = table4([rare, multi], y)
    assert list(top1.columns) == [TOP1_FIRST, TOP1_POOLED]
    assert top1[TOP1_FIRST].tolist() == [25.0, 75.0]
    assert top1[TOP1_POOLED].tolist() == [50.0, 50.0]  # the same scores for both
    assert list(top1.index) == ["CNN-RNN (rare-first)", "Multi-order RNN (released code)"]
    assert TABLE1_ROWS[MULTI_ORDER_PAPER_TEXT] == "Multi-order RNN (paper text)"

    cnn = cnn_predictions(
        np.array([[0.9, 0.1, 0.6], [0.2, 0.7, 0.1], [0.8, 0.3, 0.2], [0.1, 0.2, 0.9]]), np.arange(4)
    )
    frame = table1([cnn], y)
    assert list(frame.columns) == ["C-P", "C-R", "C-F1", "S-P", "S-R", "S-F1", "mAP"]
    assert frame.loc["CNN (BCE)", "S-P"] == pytest.approx(100.0)
    assert frame.loc["CNN (BCE)", "S-R"] == pytest.approx(100 * (1 + 1 + 0.5 + 1) / 4)
    assert frame.loc["CNN (BCE)", "mAP"] == pytest.approx(100.0)


def test_settings_come_from_the_profile():
    profile = load_profile("demo")
    settings = profile.rnn
    model = (settings.hidden, settings.embedding, settings.steps, settings.optimizer)
    # the demo's own decoder size (the paper profiles: 512, 256), the paper's 50 epochs at most,
    # early stopping after 5 epochs without a lower validation loss
    assert model == (64, 32, 5, "rmsprop_tf")
    assert (settings.epochs, settings.patience) == (50, 5)
    assert load_profile("nuswide-multi-order").rnn.patience == 0  # all 50 epochs, lowest kept
    assert settings.variant == "released-code"
    assert settings.with_epochs(2).epochs == 2 and settings.with_epochs(None) is settings
    # the baselines train exactly as long as the Multi-order RNN
    assert not hasattr(settings, "baseline_epochs")
    assert load_profile("demo", seed=7).seed == 7
    assert table1_decoders("released-code") == [
        "released-code",
        "paper-text",
        "frequent_first",
        "rare_first",
        "lexicographic",
    ]
    assert table1_decoders("paper-text")[:2] == ["paper-text", "released-code"]


@pytest.mark.slow
def test_every_decoder_trains_alike_and_a_second_process_gives_the_same_predictions(tmp_path):
    s_hat, y = synthetic_problem()
    settings = RNNSettings(
        hidden=16, embedding=8, steps=3, lr=1e-3, epochs=2, batch_size=32, max_length=4
    )
    data = DecoderData(
        fit=LabelledScores(s_hat[:160], y[:160]),
        validation=LabelledScores(s_hat[160:200], y[160:200]),
        s_test=s_hat[200:],
        test_rows=np.arange(200, 240),
        label_names=tuple(f"label{j}" for j in range(6)),
    )

    def jobs(run_dir):
        return [
            (DecoderJob(model, (0, 3), settings, profile_seed=0, run_dir=run_dir), data)
            for model in ("released-code", "rare_first")
        ]

    in_process = [fit for job in run_jobs(train_decoder, jobs(tmp_path / "a"), 1) for fit in job]
    names = [p.model for p, _ in in_process]
    assert names == [
        "multi_order_rnn",
        "multi_order_rnn@seed3",
        "cnn_rnn_rare_first",
        "cnn_rnn_rare_first@seed3",
    ]
    # at most the same epochs for every decoder (patience 0: all), the curve on the validation
    # images, the epoch of lowest validation loss kept
    assert all(len(h.epoch) == settings.epochs for _, h in in_process)
    assert all("val_loss" in h.metrics[-1] for _, h in in_process)
    for p, h in in_process:
        losses = [m["val_loss"] for m in h.metrics]
        assert p.meta["chosen epoch"] == int(np.argmin(losses)) + 1
    assert (tmp_path / "a" / "seeds" / "seed3" / "rnn" / "cnn_rnn_rare_first" / "final.pt").exists()
    spawned = [fit for job in run_jobs(train_decoder, jobs(tmp_path / "b"), 2) for fit in job]
    for (mine, _), (theirs, _) in zip(in_process, spawned):
        np.testing.assert_array_equal(mine.scores, theirs.scores)


@pytest.mark.parametrize(
    "name, lr", [("nuswide-m3", 1e-4), ("coco-multi-order", 1e-4), ("demo", 2e-3)]
)
def test_rmsprop_settings_of_each_variant_reach_torch(name, lr):
    settings = load_profile(name).rnn
    assert settings.variant == "released-code"
    param = [torch.nn.Parameter(torch.zeros(2))]

    def rmsprop(section: RNNSettings, kind: type, decay: str) -> tuple:
        optimizer = build_optimizer(param, fit_config(section, seed=0))
        assert type(optimizer) is kind
        group = optimizer.param_groups[0]
        return tuple(group[k] for k in ("lr", decay, "momentum", "eps", "weight_decay"))

    # config.py: decay 0.9, momentum 0.9, epsilon 1.0, lr 1e-4 (the demo's own), TF 1's RMSProp
    assert rmsprop(settings, TFRMSprop, "decay") == (lr, 0.9, 0.9, 1.0, 0.0)
    text = variant_settings(settings, "paper-text")  # the other variant, and the baselines
    assert rmsprop(text, torch.optim.RMSprop, "alpha") == (1e-4, 0.99, 0.9, 1e-8, 0.0)
    assert text.variant == "paper-text" and text.seeds == ()
    assert variant_settings(settings, "released-code") is settings
    sizes = ("hidden", "embedding", "steps", "epochs", "batch_size")
    assert [getattr(text, k) for k in sizes] == [getattr(settings, k) for k in sizes]


def test_variant_is_a_checked_setting():
    variant = next(f for f in dataclasses.fields(RNNSettings) if f.name == "variant")
    assert set(variant.metadata["choices"]) == set(VARIANTS)
    table = {"epochs": 1, "batch_size": 2, "lr": 0.1}
    # a section without it: as before
    assert build(RNNSettings, table, "x.toml", "rnn").variant == "paper-text"
    with pytest.raises(ProfileError, match="variant"):
        build(RNNSettings, {**table, "variant": "released"}, "x.toml", "rnn")
    with pytest.raises(ProfileError, match="rmsprop_eps"):
        build(RNNSettings, {**table, "rmsprop_eps": 0.0}, "x.toml", "rnn")
    with pytest.raises(ValueError, match="variant"):
        MultiOrderRNN(3, variant="released")
