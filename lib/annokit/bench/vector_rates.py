"""Vectors/s of the models that train on cached vectors, on random inputs: the tags MLP, the step-5
heads, the decoders of notebooks 05 and 08 and the linear baselines.

Each model is the stage's own, at the reference profile's widths, batch size and optimiser
(``fit_config`` + ``build_optimizer``, float32 as the fit loop runs these stages), with the stage's
loss; one step is forward, loss, backward and the optimiser's step on one batch of random cached
vectors (CNN scores, features or tag vectors), as ``fit`` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from annokit.bench.timing import Budget, Rate, measure
from annokit.data.label_orders import label_sequences
from annokit.methods.baselines.linear_heads import LabelCountEstimator
from annokit.methods.baselines.order_free import OrderFreeRNN, order_free_loss
from annokit.methods.multi_order import variant_settings
from annokit.models import JointClassifier, LabelQuantityRegressor, TagsMLP
from annokit.models.baseline_losses import HEAD_LOSSES
from annokit.models.losses import label_quantity_loss, sigmoid_cross_entropy
from annokit.models.multi_order_rnn import (
    PAPER_TEXT,
    RELEASED_CODE,
    MultiOrderRNN,
    multi_order_loss,
)
from annokit.models.rnn_decoder import LabelDecoder, sequence_loss, teacher_forcing
from annokit.profile import Profile
from annokit.profile.sections import Training
from annokit.training.config import build_optimizer, fit_config

LABELS = 81  # NUS-WIDE's concepts (MS-COCO: 80)
FEATURE_DIM = 2048  # f_v of ResNet-101's MS-CNN; f_t as wide (M3 Sec. III-B)
JOINT_DIM = 2 * FEATURE_DIM  # [f_v, f_t]: the wider of the two inputs of the step-5 heads

# rate name -> what it measures (printed beside the rate)
VECTOR_RATE_NAMES = {
    "tags_mlp_step": "tags MLP (03)",
    "classifier_step": "classifier head on [f_v, f_t] (04)",
    "lqp_step": "LQP on [f_v, f_t] (04)",
    f"multi_order_step:{RELEASED_CODE}": "Multi-order RNN, released code (05)",
    f"multi_order_step:{PAPER_TEXT}": "Multi-order RNN, paper text (05)",
    "fixed_order_step": "fixed-order CNN-RNN (05)",
    "order_free_step": "Order-free RNN (08)",
    **{f"head_step:{key}": f"linear head, {key} loss (08)" for key in HEAD_LOSSES},
    "count_estimator_step": "LSEP label-count estimator (08)",
}


@dataclass(frozen=True)
class VectorModel:
    """One model on cached vectors: the model, its stage's settings, a batch and its loss."""

    model: nn.Module
    settings: Training
    batch: tuple[Tensor, ...]
    loss: Callable[[nn.Module, tuple[Tensor, ...]], Tensor]


def vector_budget(quick: bool, device: torch.device) -> Budget:
    """Small models take milliseconds a step: a few steps and a fraction of a second each."""
    if device.type == "cuda":
        return Budget(warmup=5, steps=20, seconds=1.0 if quick else 3.0)
    return Budget(warmup=1, steps=3, seconds=0.3 if quick else 2.0)


def multi_hot(size: int, generator: torch.Generator) -> Tensor:
    """Random labels, about 3 of 81 on, at least one per image (as the paper splits keep)."""
    labels = (torch.rand(size, LABELS, generator=generator) < 0.04).float()
    labels[:, 0] = torch.where(labels.sum(1) == 0, 1.0, labels[:, 0])
    return labels


def decoder_models(profile: Profile, generator: torch.Generator) -> dict[str, VectorModel]:
    """The decoders of notebooks 05 and 08 on random CNN scores ŝ, at the ``[rnn]`` sizes."""
    rnn, size = profile.rnn, profile.rnn.batch_size
    s_hat, y = torch.rand(size, LABELS, generator=generator), multi_hot(size, generator)
    models: dict[str, VectorModel] = {}
    for variant in (RELEASED_CODE, PAPER_TEXT):
        settings = variant_settings(rnn, variant)
        model = MultiOrderRNN(LABELS, rnn.hidden, rnn.embedding, rnn.steps, variant=variant)

        def loss(m: nn.Module, batch: tuple[Tensor, ...], variant: str = variant) -> Tensor:
            logits, picks = m(batch[0])
            return multi_order_loss(logits, batch[1], picks, variant)

        models[f"multi_order_step:{variant}"] = VectorModel(model, settings, (s_hat, y), loss)
    names = [f"label{i}" for i in range(LABELS)]
    sequences = label_sequences("frequent_first", y.numpy(), y.numpy(), names)
    inputs, targets = (torch.as_tensor(a) for a in teacher_forcing(sequences, LABELS))
    paper_text = variant_settings(rnn, PAPER_TEXT)
    models["fixed_order_step"] = VectorModel(
        LabelDecoder(LABELS, rnn.hidden, rnn.embedding, end_token=True),
        paper_text,
        (s_hat, inputs, targets),
        lambda m, b: sequence_loss(m(b[0], b[1]), b[2]),
    )
    models["order_free_step"] = VectorModel(
        OrderFreeRNN(LABELS, rnn.hidden, rnn.embedding),
        paper_text,
        (s_hat, y),
        lambda m, b: order_free_loss(m, b[0], b[1]),
    )
    return models


def head_models(profile: Profile, generator: torch.Generator) -> dict[str, VectorModel]:
    """The tags MLP, the step-5 heads and the linear baselines on random features."""
    tags, classifier, lqp = profile.tags_mlp, profile.classifier, profile.lqp
    features = lambda size, dim: torch.randn(size, dim, generator=generator)
    tag_vectors = torch.rand(tags.batch_size, profile.tag_vocab_size, generator=generator) < 0.01
    joint_y = multi_hot(classifier.batch_size, generator)
    counts = multi_hot(lqp.batch_size, generator).sum(1)
    models = {
        "tags_mlp_step": VectorModel(
            TagsMLP(profile.tag_vocab_size, LABELS, tags.hidden, FEATURE_DIM),
            tags,
            (tag_vectors.float(), multi_hot(tags.batch_size, generator)),
            lambda m, b: sigmoid_cross_entropy(m(b[0]), b[1], tags.loss_reduction),
        ),
        "classifier_step": VectorModel(
            JointClassifier(JOINT_DIM, LABELS),
            classifier,
            (features(classifier.batch_size, JOINT_DIM), joint_y),
            lambda m, b: sigmoid_cross_entropy(m(b[0]), b[1], classifier.loss_reduction),
        ),
        "lqp_step": VectorModel(
            LabelQuantityRegressor(JOINT_DIM),
            lqp,
            (features(lqp.batch_size, JOINT_DIM), counts),
            lambda m, b: label_quantity_loss(m(b[0]), b[1]),
        ),
    }
    baselines = profile.baselines
    x, y = features(baselines.batch_size, FEATURE_DIM), multi_hot(baselines.batch_size, generator)
    for key, fn in HEAD_LOSSES.items():
        models[f"head_step:{key}"] = VectorModel(
            nn.Linear(FEATURE_DIM, LABELS), baselines, (x, y), lambda m, b, fn=fn: fn(m(b[0]), b[1])
        )
    classes = (y.sum(1).clamp(1, baselines.max_label_count) - 1).long()
    models["count_estimator_step"] = VectorModel(
        LabelCountEstimator(FEATURE_DIM, baselines.max_label_count),
        baselines,
        (x, classes),
        lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]),
    )
    return models


def step_rate(entry: VectorModel, device: torch.device, budget: Budget) -> Rate:
    """Vectors/s of one model's training step with its stage's optimiser."""
    model = entry.model.to(device).train()
    optimizer = build_optimizer(list(model.parameters()), fit_config(entry.settings, 0))
    batch = tuple(t.to(device) for t in entry.batch)

    def step() -> int:
        loss = entry.loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return len(batch[0])

    return measure(step, budget, device)


def vector_models(profile: Profile) -> dict[str, VectorModel]:
    """Every model on cached vectors of the profile's chain, on random inputs (seeded)."""
    generator = torch.Generator().manual_seed(0)
    np.random.seed(0)
    return {**head_models(profile, generator), **decoder_models(profile, generator)}


def vector_rates(profile: Profile, device: torch.device, budget: Budget) -> dict[str, Rate]:
    """Each vector model's training-step rate, by name (``VECTOR_RATE_NAMES``)."""
    torch.manual_seed(0)
    return {
        name: step_rate(entry, device, budget) for name, entry in vector_models(profile).items()
    }
