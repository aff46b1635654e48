"""The CNN baselines as heads on the fine-tuned CNN's cached features f_v, trained on the fit
images.

- ``train_head``: one fully connected layer, f(x) = W x + b, trained with one of ``HEAD_LOSSES``
  (CNN+logistic, CNN+softmax, CNN+WARP, LSEP); its epoch is the one with the best validation mAP.
- ``LabelCountEstimator`` / ``train_count_estimator``: LSEP's label decision by label-count
  estimation (Li et al. 2017): an MLP f_v → FC-100 → ReLU → FC-10 → ReLU → FC-n classifies the
  image's label count as 1 … n (n or more in the last class), trained with softmax cross-entropy;
  the annotation is the top-k̂ labels. Its epoch is the one with the best validation count accuracy.

Features are z-scored with the fit images' mean and standard deviation (``standardize``), so one
learning rate suits every profile; the papers fine-tune the whole CNN instead (docs/deviations.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from annokit.artifacts.digest import array_digest
from annokit.evaluation.metrics import mean_average_precision
from annokit.methods.baselines.inputs import Parts
from annokit.methods.baselines.selection import ChosenEpoch, Trainable, fit_best_epoch
from annokit.models.baseline_losses import HEAD_LOSSES
from annokit.training.fit import FitConfig

HIDDEN = (100, 10)  # LSEP's label-decision MLP: FC-100, FC-10 (Li et al. 2017)


def standardize(fit: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """z-score ``fit`` and each of ``others`` with the mean and standard deviation of ``fit`` alone
    (float32)."""
    mean, std = fit.mean(axis=0, keepdims=True), fit.std(axis=0, keepdims=True) + 1e-6
    return [((x - mean) / std).astype(np.float32) for x in (fit, *others)]


@torch.no_grad()
def outputs(model: nn.Module, features: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """The model's raw outputs (logits) on ``features``, float32 on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    x = torch.as_tensor(features, dtype=torch.float32)
    return torch.cat(
        [model(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    ).numpy()


def _floats(a: np.ndarray) -> Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def train_head(
    loss: str,
    x: Parts,
    y: Parts,
    config: FitConfig,
    run_dir: Path,
    *,
    device: str | torch.device = "cpu",
    retrain: bool = False,
) -> ChosenEpoch:
    """A linear head trained with ``HEAD_LOSSES[loss]`` on the fit images (features ``x.fit``,
    labels ``y.fit``), at its best epoch by validation mAP."""
    fn = HEAD_LOSSES[loss]
    stage = {
        "baseline": loss,
        "inputs": array_digest(x.fit, y.fit),
        "validation": array_digest(x.validation, y.validation),
    }
    trainable = Trainable(
        build=lambda: nn.Linear(x.fit.shape[1], y.fit.shape[1]),
        train_set=TensorDataset(_floats(x.fit), _floats(y.fit)),
        loss_fn=lambda m, batch: fn(m(batch[0]), batch[1]),
        validate=lambda m: mean_average_precision(y.validation, outputs(m, x.validation)),
        stage=stage,
    )
    return fit_best_epoch(trainable, config, run_dir, device=device, retrain=retrain)


def head_probabilities(loss: str, logits: np.ndarray) -> np.ndarray:
    """Scores in [0, 1] for the prediction file: the softmax for CNN+softmax, σ(f) otherwise (the
    same ranking)."""
    t = torch.as_tensor(logits)
    probabilities = torch.softmax(t, dim=1) if loss == "softmax" else torch.sigmoid(t)
    return probabilities.numpy().astype(np.float32)


class LabelCountEstimator(nn.Sequential):
    """LSEP's label-count branch: FC-100, ReLU, FC-10, ReLU, FC-n over the features; class m − 1
    means m labels."""

    def __init__(self, in_dim: int, max_count: int) -> None:
        super().__init__(
            nn.Linear(in_dim, HIDDEN[0]),
            nn.ReLU(),
            nn.Linear(HIDDEN[0], HIDDEN[1]),
            nn.ReLU(),
            nn.Linear(HIDDEN[1], max_count),
        )


def count_classes(labels: np.ndarray, max_count: int) -> np.ndarray:
    """The count class of every image: min(max(m, 1), n) − 1 for m true labels (an image without
    labels: class 0)."""
    return np.clip(np.asarray(labels).sum(axis=1), 1, max_count).astype(np.int64) - 1


def estimated_counts(model: LabelCountEstimator, features: np.ndarray) -> np.ndarray:
    """k̂ of every image: the most probable count class + 1."""
    return outputs(model, features).argmax(axis=1) + 1


def train_count_estimator(
    x: Parts,
    y: Parts,
    max_count: int,
    config: FitConfig,
    run_dir: Path,
    *,
    device: str | torch.device = "cpu",
    retrain: bool = False,
) -> ChosenEpoch:
    """The label-count MLP trained with softmax cross-entropy on the fit images, at its best
    validation accuracy."""
    val_classes = count_classes(y.validation, max_count)
    stage = {
        "baseline": "lsep_label_count",
        "max_count": max_count,
        "hidden": list(HIDDEN),
        "inputs": array_digest(x.fit, y.fit),
        "validation": array_digest(x.validation, y.validation),
    }

    def accuracy(m: nn.Module) -> float:
        return float((outputs(m, x.validation).argmax(axis=1) == val_classes).mean())

    trainable = Trainable(
        build=lambda: LabelCountEstimator(x.fit.shape[1], max_count),
        train_set=TensorDataset(_floats(x.fit), torch.as_tensor(count_classes(y.fit, max_count))),
        loss_fn=lambda m, batch: F.cross_entropy(m(batch[0]), batch[1]),
        validate=accuracy,
        stage=stage,
    )
    return fit_best_epoch(trainable, config, run_dir, device=device, retrain=retrain)
