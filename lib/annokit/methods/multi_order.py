"""Multi-order RNN stages (Dutta et al. 2020): training on cached CNN scores, prediction files,
Tables 1 and 4.

The model and its loss are in ``annokit.models.multi_order_rnn``; the fixed-order CNN-RNN baselines
(Wang et al. 2016) share its decoder (``annokit.models.rnn_decoder``). Every function here trains
with ``annokit.training.fit.fit`` on the profile's ``[rnn]`` settings, one seed, every epoch, so a
run resumes and a finished one is reused. Notebook 05 calls ``annokit.methods.decoder_jobs``, which
trains every decoder of Table 1 with all its seeds at once and early stopping
(``annokit.methods.decoder_seeds``), to the same weights as these functions for the epoch it keeps.

The ``[rnn]`` ``variant`` picks the model: ``"released-code"`` (the authors' release, whose numbers
the paper reports; prediction file and run folder ``multi_order_rnn``) or ``"paper-text"`` (Sec. 3
as printed; ``multi_order_rnn_paper_text``). ``variant_settings`` gives the other variant's
settings, so one profile trains both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from annokit.artifacts.digest import array_digest
from annokit.artifacts.predictions import Predictions
from annokit.data.label_orders import ORDERS, label_sequences
from annokit.evaluation.decision import threshold
from annokit.evaluation.metrics import top1_accuracy
from annokit.evaluation.scoring import score_against
from annokit.models.multi_order_rnn import (
    PAPER_TEXT,
    PICKED_LOGIT,
    RELEASED_CODE,
    THRESHOLD,
    MultiOrderRNN,
    multi_order_loss,
    predict_multi_order,
)
from annokit.models.rnn_decoder import LabelDecoder, decode, sequence_loss, teacher_forcing
from annokit.profile import RNNSettings, stage_settings_dict
from annokit.training.config import fit_config
from annokit.training.fit import SMALL_MODEL_THREADS, FitOptions, History, fit, seed_everything
from annokit.training.validation import curve_subset

# Prediction file names and the rows of Table 1, in the paper's order. The CNN row thresholds ŝ at
# 0.5; "cnn" is notebook 01's file with M3's top-3 rule, so this one is "cnn_threshold". The
# released code keeps the plain name: the paper's "Multi-order RNN (Proposed)" rows are its numbers.
CNN = "cnn_threshold"
MULTI_ORDER = "multi_order_rnn"
MULTI_ORDER_PAPER_TEXT = "multi_order_rnn_paper_text"
MULTI_ORDER_FILES = {RELEASED_CODE: MULTI_ORDER, PAPER_TEXT: MULTI_ORDER_PAPER_TEXT}
FIXED_ORDER = {order: f"cnn_rnn_{order}" for order in ORDERS}
TABLE1_ROWS = {
    CNN: "CNN (BCE)",
    FIXED_ORDER["frequent_first"]: "CNN-RNN (frequent-first)",
    FIXED_ORDER["rare_first"]: "CNN-RNN (rare-first)",
    FIXED_ORDER["lexicographic"]: "CNN-RNN (lexicographic)",
    MULTI_ORDER: "Multi-order RNN (released code)",
    MULTI_ORDER_PAPER_TEXT: "Multi-order RNN (paper text)",
}
# The optimiser of each variant when a profile of the other variant trains it too (and of the
# baselines, which train like the paper text): RMSProp, lr 1e-4, momentum 0.9, no weight decay
# (Sec. 4.3; config.py); the release's is TensorFlow 1's RMSProp with decay 0.9 and epsilon 1.0
# (config.py rmsprop_decay, opt_epsilon), the text's PyTorch's RMSprop with its defaults.
_RMSPROP = {"lr": 1e-4, "momentum": 0.9, "weight_decay": 0.0}
VARIANT_OPTIMIZER = {
    RELEASED_CODE: {
        **_RMSPROP,
        "optimizer": "rmsprop_tf",
        "rmsprop_alpha": 0.9,
        "rmsprop_eps": 1.0,
    },
    PAPER_TEXT: {**_RMSPROP, "optimizer": "rmsprop", "rmsprop_alpha": 0.99, "rmsprop_eps": 1e-8},
}
TABLE1_COLUMNS = ("C-P", "C-R", "C-F1", "S-P", "S-R", "S-F1", "mAP")
# Table 4's two top-1 readings: the first label picked, and the argmax of the scores max-pooled
# over the steps (what the release's evaluation takes as an image's top label).
TOP1_FIRST = "top-1 (first pick)"
TOP1_POOLED = "top-1 (argmax of max-pooled scores, release)"
EVAL_LIMIT = 2000  # validation images of the per-epoch monitoring loss


def _floats(a: np.ndarray) -> Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def variant_settings(settings: RNNSettings, variant: str) -> RNNSettings:
    """The ``[rnn]`` settings for ``variant``: the profile's own when it is the profile's variant,
    else the same model settings with that variant's optimiser (``VARIANT_OPTIMIZER``) and the
    profile seed alone."""
    if variant == settings.variant:
        return settings
    return replace(settings, variant=variant, seeds=(), **VARIANT_OPTIMIZER[variant])


def table1_decoders(variant: str) -> list[str]:
    """The decoders of Table 1: the profile's Multi-order RNN variant, the other one, the orders."""
    other = PAPER_TEXT if variant == RELEASED_CODE else RELEASED_CODE
    return [variant, other, *ORDERS]


@dataclass(frozen=True)
class LabelledScores:
    """Some images: their cached CNN scores ŝ (N, C) and their true labels y (N, C)."""

    s: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class DecoderTraining:
    """How one decoder trains: its ``[rnn]`` settings (epochs included), its seed, the run folder it
    lives in (``<run_dir>/rnn/<its file name>``), the device, and whether fit shows batch bars."""

    settings: RNNSettings
    seed: int
    run_dir: Path
    device: str | torch.device = "cpu"
    progress: bool = True

    def options(self, stage: dict, eval_fn) -> FitOptions:
        return FitOptions(
            stage=stage,
            device=self.device,
            eval_fn=eval_fn,
            threads=SMALL_MODEL_THREADS,
            progress=self.progress,
        )


def decoder_stage(model: str, settings: RNNSettings, num_labels: int, inputs: str, **extra) -> dict:
    """What a decoder's checkpoints must agree with (the seed in use is in FitConfig)."""
    record = stage_settings_dict(settings)
    del record["seeds"]
    return {"model": model, **record, "num_labels": num_labels, "inputs": inputs, **extra}


def train_multi_order(
    how: DecoderTraining, train: LabelledScores, curve: LabelledScores | None = None
) -> tuple[MultiOrderRNN, History]:
    """Train ``how.settings.variant`` of the Multi-order RNN on cached CNN scores in
    ``<run>/rnn/<its file name>`` (``MULTI_ORDER_FILES``; resumes, reuses final.pt).

    With ``curve`` (validation images) the variant's Eq. 7 loss on at most ``EVAL_LIMIT`` of them
    is recorded each epoch as ``val_loss``, for the training curve only.
    """
    settings, device = how.settings, how.device
    num_labels, name = train.y.shape[1], MULTI_ORDER_FILES[settings.variant]
    seed_everything(how.seed)
    model = MultiOrderRNN(
        num_labels, settings.hidden, settings.embedding, settings.steps, variant=settings.variant
    )
    data = TensorDataset(_floats(train.s), _floats(train.y))

    def loss_fn(m: nn.Module, batch) -> Tensor:
        s_hat, y = batch
        logits, picks = m(s_hat)
        return multi_order_loss(logits, y, picks, settings.variant)

    eval_fn = None
    if curve is not None:
        keep = curve_subset(len(curve.s), EVAL_LIMIT)
        eval_s, eval_y = _floats(curve.s[keep]).to(device), _floats(curve.y[keep]).to(device)
        eval_fn = lambda m: {"val_loss": loss_fn(m, (eval_s, eval_y))}
    stage = decoder_stage(name, settings, num_labels, array_digest(train.s, train.y))
    # the release never trains on a short last batch, whose few images would set BN's statistics
    config = fit_config(settings, how.seed, drop_last=settings.variant == RELEASED_CODE)
    folder = Path(how.run_dir) / "rnn" / name
    history = fit(model, data, loss_fn, config, folder, how.options(stage, eval_fn))
    return model, history


def train_fixed_order(
    how: DecoderTraining,
    order: str,
    train: LabelledScores,
    label_names: Sequence[str],
    curve: LabelledScores | None = None,
) -> tuple[LabelDecoder, History]:
    """Train a CNN-RNN baseline on label sequences in ``order`` (teacher forcing) in
    ``<run>/rnn/cnn_rnn_<order>``.

    Frequencies for the frequent/rare-first orders come from ``train.y``. The baselines use the
    paper text's decoder, so they train with the paper-text variant's settings
    (``variant_settings``) whatever the profile's variant.
    """
    settings, device = variant_settings(how.settings, PAPER_TEXT), how.device
    num_labels = train.y.shape[1]
    seed_everything(how.seed)
    decoder = LabelDecoder(num_labels, settings.hidden, settings.embedding, end_token=True)

    def tensors(labels: np.ndarray) -> tuple[Tensor, Tensor]:
        sequences = label_sequences(order, train.y, labels, label_names)
        inputs, targets = teacher_forcing(sequences, num_labels)
        return torch.as_tensor(inputs), torch.as_tensor(targets)

    data = TensorDataset(_floats(train.s), *tensors(train.y))

    def loss_fn(m: nn.Module, batch) -> Tensor:
        s_hat, inputs, targets = batch
        return sequence_loss(m(s_hat, inputs), targets)

    eval_fn = None
    if curve is not None:
        keep = curve_subset(len(curve.s), EVAL_LIMIT)
        eval_tensors = (_floats(curve.s[keep]), *tensors(np.asarray(curve.y)[keep]))
        eval_batch = tuple(t.to(device) for t in eval_tensors)
        eval_fn = lambda m: {"val_loss": loss_fn(m, eval_batch)}
    name = FIXED_ORDER[order]
    inputs = array_digest(train.s, train.y)
    stage = decoder_stage(
        name, settings, num_labels, inputs, order=order, label_names=list(label_names)
    )
    config = fit_config(settings, how.seed)
    folder = Path(how.run_dir) / "rnn" / name
    history = fit(decoder, data, loss_fn, config, folder, how.options(stage, eval_fn))
    return decoder, history


# Prediction files.


def cnn_predictions(s_test: np.ndarray, rows: np.ndarray, meta: dict | None = None) -> Predictions:
    """Table 1's "CNN (BCE)" row: the fine-tuned CNN's scores ŝ thresholded at 0.5."""
    return Predictions(
        CNN,
        rows,
        np.asarray(s_test, dtype=np.float32),
        threshold(s_test, THRESHOLD),
        rule="threshold 0.5 on the CNN sigmoid scores",
        meta=meta or {},
    )


def multi_order_predictions(
    model: MultiOrderRNN,
    s_test: np.ndarray,
    rows: np.ndarray,
    *,
    device: str | torch.device = "cpu",
    meta: dict | None = None,
) -> Predictions:
    """Prediction file of a Multi-order RNN variant (``MULTI_ORDER_FILES``): pooled scores,
    annotation, per-step scores, picks."""
    out = predict_multi_order(model, s_test, device)
    picks = (
        f"labels picked earlier set to {PICKED_LOGIT:g} before the argmax fed back"
        if model.distinct_at_inference
        else "the argmax fed back"
    )
    return Predictions(
        MULTI_ORDER_FILES[model.variant],
        rows,
        out.scores,
        out.annotation,
        rule=f"max-pool over {model.steps} steps, sigmoid, threshold 0.5; {picks}",
        step_scores=out.step_scores,
        sequences=out.sequences,
        meta={"variant": model.variant, **(meta or {})},
    )


def fixed_order_predictions(
    order: str,
    decoder: LabelDecoder,
    s_test: np.ndarray,
    rows: np.ndarray,
    settings: RNNSettings,
    *,
    device: str | torch.device = "cpu",
    meta: dict | None = None,
) -> Predictions:
    """Prediction file of a CNN-RNN baseline: the decoded label set; scores = max over steps of
    the softmax."""
    decoder.to(device)
    decoded = decode(decoder, _floats(s_test).to(device), settings.max_length, settings.beam_size)
    beam = settings.beam_size
    search = "greedy decoding" if beam == 1 else f"beam search (beam {beam})"
    rule = (
        f"{search} until END or {settings.max_length} labels, no label twice; "
        "scores: per-label max over steps of the softmax probabilities"
    )
    return Predictions(
        FIXED_ORDER[order],
        rows,
        decoded.scores,
        decoded.annotation,
        rule=rule,
        step_scores=decoded.step_scores,
        sequences=decoded.sequences,
        meta={"order": order, **(meta or {})},
    )


# Tables.


def first_labels(predictions: Predictions) -> np.ndarray:
    """First predicted label per image: step-1 argmax (Multi-order) or first decoded label
    (CNN-RNN)."""
    if predictions.sequences is None:
        raise ValueError(f"{predictions.model} has no label sequences, so no first label")
    return np.asarray(predictions.sequences)[:, 0].astype(np.int64)


def table1(predictions: Sequence[Predictions], y_true: np.ndarray) -> pd.DataFrame:
    """Per-label (C-*) and per-image (S-*) precision, recall, F1 and mAP, in percent (Table 1)."""
    rows = {TABLE1_ROWS.get(p.model, p.model): score_against(y_true, p) for p in predictions}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(TABLE1_COLUMNS))
    frame.index.name = "method"
    return frame


def pooled_top_labels(predictions: Predictions) -> np.ndarray:
    """Top label per image by its score max-pooled over the steps (ties: the lower index)."""
    return np.asarray(predictions.scores).argmax(axis=1).astype(np.int64)


def table4(predictions: Sequence[Predictions], y_true: np.ndarray) -> pd.DataFrame:
    """Top-1 accuracy in percent (Table 4), two ways: the share of images whose first predicted
    label is true (``TOP1_FIRST``), and whose label of top max-pooled score is (``TOP1_POOLED``)."""
    first = [100 * top1_accuracy(y_true, first_labels(p)) for p in predictions]
    pooled = [100 * top1_accuracy(y_true, pooled_top_labels(p)) for p in predictions]
    names = [TABLE1_ROWS.get(p.model, p.model) for p in predictions]
    return pd.DataFrame(
        {TOP1_FIRST: first, TOP1_POOLED: pooled}, index=pd.Index(names, name="method")
    )


def example_images(predictions: Predictions, y_true: np.ndarray, count: int = 3) -> np.ndarray:
    """Test images (positions) worth showing in Fig. 3: several true labels and several distinct
    picks."""
    truth = np.asarray(y_true, dtype=bool)
    sequences = np.asarray(predictions.sequences)
    distinct = np.array([len(set(seq[seq >= 0].tolist())) for seq in sequences])
    true_counts = -np.minimum(truth.sum(axis=1), 3)
    ranked = np.lexsort((np.arange(len(truth)), -np.minimum(distinct, 3), true_counts))
    return ranked[:count]
