"""The trained baselines, each with one seed, its epoch chosen by validation mAP: the linear heads
on f_v (CNN+logistic, CNN+softmax, CNN+WARP, LSEP) and the Order-free RNN on ŝ."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from annokit.artifacts.digest import array_digest
from annokit.artifacts.predictions import Predictions
from annokit.evaluation.decision import top_k, top_m
from annokit.evaluation.metrics import mean_average_precision
from annokit.methods.baselines.inputs import BaselineData, Parts
from annokit.methods.baselines.linear_heads import (
    estimated_counts,
    head_probabilities,
    outputs,
    standardize,
    train_count_estimator,
    train_head,
)
from annokit.methods.baselines.order_free import OrderFreeRNN, order_free_loss
from annokit.methods.baselines.registry import BaselineJob, method_meta
from annokit.methods.baselines.selection import Trainable, fit_best_epoch
from annokit.methods.multi_order import variant_settings
from annokit.models.multi_order_rnn import PAPER_TEXT
from annokit.models.rnn_decoder import decode
from annokit.training.config import fit_config


def _floats(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float32)


def head_baseline(job: BaselineJob, data: BaselineData) -> Predictions:
    """CNN+logistic, CNN+softmax, CNN+WARP (top-k) or LSEP (top-k̂ from its label-count
    estimator) with the job's seed."""
    key, seed, profile = job.key, job.seed, job.profile
    settings, k = profile.baselines, profile.annotation.top_k
    x = Parts(*standardize(*data.features))
    config = fit_config(settings, seed)
    fitting = {"device": job.device, "retrain": job.retrain}
    head = train_head(key, x, data.labels, config, job.folder, **fitting)
    scores = head_probabilities(key, outputs(head.model, x.test))
    chosen = {"epoch": head.epoch, "validation mAP": round(100 * max(head.scores), 2)}
    counts = None
    if key == "lsep":
        max_count = settings.max_label_count
        folder = job.folder / "label_count"
        estimator = train_count_estimator(x, data.labels, max_count, config, folder, **fitting)
        counts = estimated_counts(estimator.model, x.test).astype(np.float32)
        annotation = top_m(scores, np.minimum(counts, scores.shape[1]).astype(np.int64))
        accuracy = round(100 * max(estimator.scores), 2)
        chosen |= {"count epoch": estimator.epoch, "validation count accuracy": accuracy}
        rule = f"top-k̂, k̂ from the label-count estimator (1 … {max_count})"
    else:
        annotation, rule = top_k(scores, k), f"top-{k}"
    meta = method_meta(profile, key, seed, chosen, fit=asdict(config))
    return Predictions(job.file, data.test_rows, scores, annotation, rule, counts=counts, meta=meta)


def order_free_baseline(job: BaselineJob, data: BaselineData) -> Predictions:
    """The candidate-pool decoder on the CNN scores with the job's seed, its epoch chosen by
    validation mAP.

    It trains as the fixed-order CNN-RNNs of notebook 05 do: the paper text's decoder and
    optimiser ([rnn] through ``variant_settings``) for ``[baselines] order_free_epochs`` epochs
    (0: the [rnn] epochs). It decodes with Chen et al.'s beam search, ``[baselines]
    order_free_beam_size`` paths wide, on the validation split as on the test split.
    """
    profile, device = job.profile, job.device
    rnn = variant_settings(profile.rnn, PAPER_TEXT)
    epochs = profile.baselines.order_free_epochs or rnn.epochs
    beam = profile.baselines.order_free_beam_size
    num_labels = data.labels.fit.shape[1]
    train_set = torch.utils.data.TensorDataset(_floats(data.scores.fit), _floats(data.labels.fit))
    val_s = _floats(data.scores.validation).to(device)
    stage = {
        "baseline": "order_free_rnn",
        "hidden": rnn.hidden,
        "embedding": rnn.embedding,
        "max_length": rnn.max_length,
        "beam_size": beam,
        "inputs": array_digest(data.scores.fit, data.labels.fit),
        "validation": array_digest(data.scores.validation, data.labels.validation),
    }

    def validate(m: OrderFreeRNN) -> float:
        decoded = decode(m, val_s, rnn.max_length, beam)
        return mean_average_precision(data.labels.validation, decoded.scores)

    trainable = Trainable(
        build=lambda: OrderFreeRNN(num_labels, rnn.hidden, rnn.embedding),
        train_set=train_set,
        loss_fn=lambda m, batch: order_free_loss(m, batch[0], batch[1]),
        validate=validate,
        stage=stage,
    )
    config = fit_config(rnn, job.seed, epochs)
    chosen = fit_best_epoch(trainable, config, job.folder, device=device, retrain=job.retrain)
    test_s = _floats(data.scores.test).to(device)
    decoded = decode(chosen.model.to(device), test_s, rnn.max_length, beam)
    search = "greedy decoding" if beam == 1 else f"beam search (beam {beam})"
    validation_map = round(100 * max(chosen.scores), 2)
    choice = {"epoch": chosen.epoch, "validation mAP": validation_map}
    meta = method_meta(profile, "order_free_rnn", job.seed, choice, fit=asdict(config))
    return Predictions(
        job.file,
        data.test_rows,
        decoded.scores,
        decoded.annotation,
        f"{search} until END or {rnn.max_length} labels, no label twice",
        step_scores=decoded.step_scores,
        sequences=decoded.sequences,
        meta=meta,
    )
