"""CNN-RNN (Wang et al., "CNN-RNN: A Unified Framework for Multi-label Image Classification",
CVPR 2016) as a stage of the chain: notebook 07.

The model, its loss, the frequent-first sequences and the beam search are in
``annokit.models.cnn_rnn``. Here they are trained in two phases, each keeping its best epoch on the
validation split (``annokit.methods.baselines.selection.fit_best_epoch``):

1. the CNN unchanged (Sec. 3.4): the RNN on notebook 01's cached image features I (``frozen``);
2. end to end: the CNN's trainable part and the RNN from phase 1's weights (``end_to_end``), on the
   images (``[cnn_rnn] finetune = "all"``) or, cheaply, the CNN's last residual block on the cached
   maps that enter it (``"last_block"``), or only that block's last convolution (``"last_conv"``,
   the demo); ``"none"`` stops after phase 1. Phase 1's model stays the final one when no epoch of
   phase 2 beats it on the validation split.

Every seed of ``[cnn_rnn] seeds`` trains both phases; the test split is read once, by beam search
(``beam_size``) of the chosen model. Files: ``<run>/wang_cnn_rnn/{frozen,end_to_end}/`` (or under
``<run>/seeds/seed<k>/``) and the prediction file ``wang_cnn_rnn`` (``wang_cnn_rnn@seed<k>``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from annokit.artifacts.digest import array_digest
from annokit.artifacts.predictions import Predictions
from annokit.evaluation.metrics import annotation_scores
from annokit.methods.baselines.selection import ChosenEpoch, Trainable, fit_best_epoch
from annokit.models.cnn_rnn import CNNRNN, BeamSearchResult, beam_search, frequent_first
from annokit.models.cnn_rnn import sequence_loss as cnn_rnn_loss
from annokit.profile import CNNRNNSettings, stage_settings_dict
from annokit.training.config import FitConfig, fit_config

NAME = "wang_cnn_rnn"  # prediction file and run folder
FROZEN, END_TO_END = "frozen", "end_to_end"
FEATURE_BATCH = 256


def chosen_max_labels(settings: CNNRNNSettings, y_fit: np.ndarray) -> int:
    """Labels on a predicted path at most: ``max_labels``, or the most of a training image."""
    return settings.max_labels or max(1, int(np.asarray(y_fit).sum(axis=1).max(initial=1)))


def training_sequences(y_fit: np.ndarray) -> np.ndarray:
    """Each training image's labels, most frequent first (frequencies of these images), then END
    (Sec. 3.4): ``frequent_first`` of ``annokit.models.cnn_rnn``."""
    y = np.asarray(y_fit, dtype=bool)
    return frequent_first(y, y.sum(axis=0))


def build_cnn_rnn(settings: CNNRNNSettings, num_labels: int, image_dim: int) -> CNNRNN:
    """The CNN-RNN of ``[cnn_rnn]``'s sizes over image features of ``image_dim``."""
    return CNNRNN(
        num_labels,
        image_dim,
        settings.embed_dim,
        settings.hidden_dim,
        recurrent=settings.recurrent,
        activation=settings.activation,
        dropout=settings.dropout,
    )


class LastBlock(nn.Module):
    """The CNN's last residual block and its average pool: cached maps in, image features I out.

    ``last_conv_only``: the block's first convolution and its BN stay as they are (frozen, BN in
    eval mode), so only the last convolution and BN train (``[cnn_rnn] finetune = "last_conv"``).
    """

    def __init__(self, block: nn.Module, last_conv_only: bool = False) -> None:
        super().__init__()
        self.block, self.last_conv_only = block, last_conv_only
        self.pool = nn.AdaptiveAvgPool2d(1)
        if last_conv_only:
            for p in [*block.conv1.parameters(), *block.bn1.parameters()]:
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> LastBlock:
        super().train(mode)
        if self.last_conv_only:
            self.block.bn1.eval()
        return self

    def forward(self, maps: Tensor) -> Tensor:
        return self.pool(self.block(maps)).flatten(1)


class WholeCNN(nn.Module):
    """The whole CNN up to its pooled features: images in, image features I out."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, images: Tensor) -> Tensor:
        return self.backbone.features(images)


class EndToEnd(nn.Module):
    """A CNN part (``trunk``: inputs -> I) under the CNN-RNN, trained together (phase 2)."""

    def __init__(self, trunk: nn.Module, rnn: CNNRNN) -> None:
        super().__init__()
        self.trunk, self.rnn = trunk, rnn

    def forward(self, inputs: Tensor, label_sequences: Tensor) -> Tensor:
        return self.rnn(self.trunk(inputs), label_sequences)


class WithSequences(Dataset):
    """(input, label sequence) pairs: cached features or maps (an array), or images (a dataset
    whose items start with the image)."""

    def __init__(self, inputs: np.ndarray | Dataset, sequences: np.ndarray) -> None:
        self.inputs, self.sequences = inputs, torch.as_tensor(sequences)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        x = self.inputs[i]
        if isinstance(self.inputs, np.ndarray):
            x = torch.as_tensor(x, dtype=torch.float32)
        elif isinstance(x, (tuple, list)):
            x = x[0]
        return x, self.sequences[i]


@torch.no_grad()
def features_of(
    trunk: nn.Module | None, inputs: np.ndarray | Dataset, device: torch.device | str
) -> Tensor:
    """Image features I of ``inputs`` on ``device``: the inputs themselves (``trunk`` None), or the
    trunk's output in eval mode, batch by batch."""
    if trunk is None:
        return torch.as_tensor(np.asarray(inputs), dtype=torch.float32, device=device)
    was_training = trunk.training
    trunk.eval().to(device)
    items = WithSequences(inputs, np.zeros((len(inputs), 1), dtype=np.int64))
    out = [trunk(x.to(device)).float() for x, _ in DataLoader(items, batch_size=FEATURE_BATCH)]
    trunk.train(was_training)
    return torch.cat(out)


def predict(
    rnn: CNNRNN, features: Tensor, settings: CNNRNNSettings, max_labels: int
) -> BeamSearchResult:
    """Beam search of Sec. 3.3 with ``[cnn_rnn] beam_size``, at most ``max_labels`` labels."""
    return beam_search(rnn, features, settings.beam_size, max_labels)


def validation_f1(result: BeamSearchResult, y_true: np.ndarray) -> float:
    """What an epoch is chosen by: the mean of C-F1 and O-F1 of the predicted label sets."""
    scores = annotation_scores(np.asarray(y_true, dtype=bool), result.annotation)
    return 0.5 * (scores["C-F1"] + scores["O-F1"])


@dataclass(frozen=True)
class Split:
    """One part of the images: the phase's inputs (features, maps or images) and true labels."""

    inputs: np.ndarray | Dataset
    y: np.ndarray


@dataclass(frozen=True)
class PhaseData:
    """What a phase trains on (``fit``) and chooses its epoch on (``validation``)."""

    fit: Split
    validation: Split


@dataclass(frozen=True)
class SeedRun:
    """One seed's training: ``[cnn_rnn]`` settings (epochs included), where its folders go, the
    device, what its checkpoints must agree with, and the image stage's fit config when phase 2
    reads images (None: cached inputs, float32, no loader processes)."""

    settings: CNNRNNSettings
    seed: int
    folder: Path
    device: str = "cpu"
    stage: dict | None = None
    image_config: FitConfig | None = None


def phase_stage(how: SeedRun, phase: str, data: PhaseData, max_labels: int) -> dict:
    """What a phase's checkpoints must agree with: the settings, the phase and its inputs."""
    record = stage_settings_dict(how.settings)
    del record["seeds"]
    inputs = data.fit.inputs
    digest = array_digest(inputs, data.fit.y) if isinstance(inputs, np.ndarray) else "images"
    return {
        "model": NAME,
        "phase": phase,
        **record,
        "max_labels": max_labels,
        "inputs": digest,
        **(how.stage or {}),
    }


def _fit_phase(
    how: SeedRun, phase: str, model_of, data: PhaseData, config: FitConfig
) -> ChosenEpoch:
    """Fit ``model_of()`` by teacher forcing on ``data.fit``, keep its best validation epoch."""
    max_labels = chosen_max_labels(how.settings, data.fit.y)
    sequences = training_sequences(data.fit.y)
    trainable = Trainable(
        build=model_of,
        train_set=WithSequences(data.fit.inputs, sequences),
        loss_fn=lambda m, batch: cnn_rnn_loss(m(*batch), batch[1]),
        validate=lambda m: validation_f1(
            predict(
                rnn_of(m),
                image_features(m, data.validation.inputs, how.device),
                how.settings,
                max_labels,
            ),
            data.validation.y,
        ),
        stage=phase_stage(how, phase, data, max_labels),
    )
    return fit_best_epoch(trainable, config, how.folder / NAME / phase, device=how.device)


def rnn_of(model: nn.Module) -> CNNRNN:
    """The CNN-RNN of a phase's model."""
    return model.rnn if isinstance(model, EndToEnd) else model


def image_features(
    model: nn.Module, inputs: np.ndarray | Dataset, device: torch.device | str
) -> Tensor:
    """I of ``inputs`` as a phase's model sees them: through its trunk in phase 2."""
    return features_of(model.trunk if isinstance(model, EndToEnd) else None, inputs, device)


def train_frozen(how: SeedRun, data: PhaseData) -> ChosenEpoch:
    """Phase 1: the CNN-RNN on cached image features, ``[cnn_rnn] epochs`` and ``lr``."""
    num_labels, image_dim = data.fit.y.shape[1], np.asarray(data.fit.inputs).shape[1]
    config = fit_config(how.settings, how.seed)
    model_of = lambda: build_cnn_rnn(how.settings, num_labels, image_dim)  # noqa: E731
    return _fit_phase(how, FROZEN, model_of, data, config)


def train_end_to_end(how: SeedRun, trunk: nn.Module, rnn: CNNRNN, data: PhaseData) -> ChosenEpoch:
    """Phase 2: ``trunk`` (the CNN's trainable part) and phase 1's ``rnn`` together,
    ``finetune_epochs`` with ``finetune_lr``."""
    settings = how.settings
    phase2 = replace(settings, epochs=settings.finetune_epochs, lr=settings.finetune_lr)
    config = fit_config(phase2, how.seed)
    if how.image_config is not None:
        config = replace(how.image_config, training=config.training)
    model_of = lambda: EndToEnd(copy.deepcopy(trunk), copy.deepcopy(rnn))  # noqa: E731
    return _fit_phase(how, END_TO_END, model_of, data, config)


def decision_rule(beam_size: int, max_labels: int) -> str:
    """The rule a prediction file of the CNN-RNN states: the beam's label set, and its scores."""
    return (
        f"beam search (beam {beam_size}) until END or {max_labels} labels, no label twice; "
        "scores: per-label max over the path's steps of the softmax probabilities"
    )


def prediction_file(
    model: nn.Module,
    test_inputs: np.ndarray | Dataset,
    test_rows: np.ndarray,
    how: SeedRun,
    max_labels: int,
    meta: dict,
) -> Predictions:
    """The test split's prediction file of a trained phase: the beam's label set, its per-label
    scores (largest probability over the path's steps) and its label sequence."""
    result = predict(
        rnn_of(model), image_features(model, test_inputs, how.device), how.settings, max_labels
    )
    return Predictions(
        NAME,
        test_rows,
        result.scores,
        result.annotation,
        rule=decision_rule(how.settings.beam_size, max_labels),
        sequences=result.paths,
        meta=meta,
    )
