"""Wang et al.'s CNN-RNN (CVPR 2016) as notebook 07 leaves it, for ``annokit annotate --model
wang-cnn-rnn``: the phase whose model wrote the prediction file ``wang_cnn_rnn``, at its chosen
epoch, and the CNN part that phase reads.

Notebook 07 (``methods.wang_cnn_rnn_jobs.train_seed``, the profile's seed) keeps phase 2
(``<run>/wang_cnn_rnn/end_to_end/``) when its best validation score beats phase 1's (``frozen/``),
else phase 1; a phase's model is its chosen epoch (``chosen.pt``, ``methods.baselines.selection``).
The images reach the RNN as the test split did: phase 1 reads notebook 01's CNN features; phase 2
with ``finetune = "last_block"`` or ``"last_conv"`` the maps below notebook 01's last residual
block through the fine-tuned block, with ``"all"`` the fine-tuned whole CNN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from annokit.annotate.model_menu import FINAL, STAGE_NOTEBOOKS, WANG_STAGE
from annokit.artifacts.run import Run
from annokit.methods.baselines.selection import CHOSEN, VALIDATION, best_epoch
from annokit.methods.partial_finetune import below_last_block
from annokit.methods.wang_cnn_rnn import (
    END_TO_END,
    FROZEN,
    EndToEnd,
    LastBlock,
    WholeCNN,
    build_cnn_rnn,
    decision_rule,
)
from annokit.models.backbone import ResNetBackbone, build_backbone, feature_dim_of
from annokit.models.cnn_rnn import CNNRNN, beam_search
from annokit.training.checkpoints import load_checkpoint

NOTEBOOK = STAGE_NOTEBOOKS[WANG_STAGE]
# [cnn_rnn] settings that shape the trained model: a checkpoint made with others is refused
MODEL_SETTINGS = ("embed_dim", "hidden_dim", "recurrent", "activation", "finetune")


def phase_folders(run: Run) -> list[Path]:
    """The phase folders notebook 07 leaves for the profile's seed: phase 1, and phase 2 unless
    ``[cnn_rnn] finetune = "none"``."""
    root = Path(run.run_dir) / WANG_STAGE
    phases = [FROZEN] if run.profile.cnn_rnn.finetune == "none" else [FROZEN, END_TO_END]
    return [root / phase for phase in phases]


def _rerun(run: Run) -> str:
    """The fix of a stale or damaged phase: notebook 07 again, through the runner."""
    profile = run.source or "NAME"
    return f"rerun notebook {NOTEBOOK} on this run (annokit reproduce --profile {profile})"


def validation_scores(run: Run, folder: Path) -> list[float]:
    """The validation score of every epoch of a finished phase (its ``final.pt`` history)."""
    checkpoint = load_checkpoint(folder / FINAL)
    stage = checkpoint["config"].get("stage") or {}
    if stage.get("index") != run.index.meta.get("fingerprint"):
        raise ValueError(
            f"{folder / FINAL} was trained on another prepared index than {run.run_dir}/index: "
            + _rerun(run)
        )
    return [float(m[VALIDATION]) for m in checkpoint["history"]["metrics"]]


def final_phase(run: Run) -> Path:
    """The folder of the phase whose model wrote the prediction file: phase 2 when its best
    validation score is higher than phase 1's, as ``wang_cnn_rnn_jobs.train_seed`` decides."""
    folders = phase_folders(run)
    if len(folders) == 1:
        return folders[0]
    frozen, end_to_end = (validation_scores(run, folder) for folder in folders)
    return folders[1] if max(end_to_end) > max(frozen) else folders[0]


def chosen_checkpoint(run: Run) -> Path:
    """The weights of the final phase's chosen epoch: ``chosen.pt``, or ``final.pt`` when the last
    epoch was chosen and ``chosen.pt`` is missing; any other state names notebook 07."""
    folder = final_phase(run)
    scores = validation_scores(run, folder)
    epoch = best_epoch(scores)
    chosen = folder / CHOSEN
    if chosen.is_file():
        saved = torch.load(chosen, map_location="cpu", weights_only=True)
        if isinstance(saved, dict) and saved.get("epoch") == epoch:
            return chosen
    if epoch == len(scores):
        return folder / FINAL
    raise FileNotFoundError(
        f"{chosen} is missing or not of epoch {epoch}, the one chosen on the validation split "
        f"({folder / FINAL}): " + _rerun(run)
    )


class FinishedCNNRNN(nn.Module):
    """The CNN-RNN of notebook 07's final phase: ``trunk`` None (phase 1: I is notebook 01's CNN
    features), or phase 2's fine-tuned CNN part (``LastBlock`` on the maps below notebook 01's
    last block, or ``WholeCNN`` on the images); ``rnn`` decodes by beam search."""

    def __init__(
        self, rnn: CNNRNN, trunk: nn.Module | None, beam_size: int, max_labels: int
    ) -> None:
        super().__init__()
        self.rnn, self.trunk = rnn, trunk
        self.beam_size, self.max_labels = beam_size, max_labels

    @torch.no_grad()
    def image_features(self, cnn: ResNetBackbone, images: Tensor) -> Tensor:
        """I of a batch, as notebook 07 computed it for the test split (eval mode, float32)."""
        if self.trunk is None:
            return cnn.features(images).float()  # notebook 01's cached features
        if isinstance(self.trunk, LastBlock):
            return self.trunk(below_last_block(cnn, images).float()).float()  # the cached maps
        return self.trunk(images).float()

    def rule(self) -> str:
        """The rule the prediction file ``wang_cnn_rnn`` states."""
        return decision_rule(self.beam_size, self.max_labels)

    @torch.no_grad()
    def outputs(self, cnn: ResNetBackbone, images: Tensor) -> dict[str, np.ndarray | str]:
        """The beam's label set (``annotation``), its path (``sequences``) and per label its
        largest softmax probability over the path's steps, up to the step it was emitted at
        (``scores``): what the prediction file ``wang_cnn_rnn`` stores."""
        features = self.image_features(cnn, images)
        result = beam_search(self.rnn, features, self.beam_size, self.max_labels)
        return {
            "scores": result.scores.astype(np.float32),
            "annotation": result.annotation,
            "sequences": result.paths,
            "rule": self.rule(),
        }


def load_cnn_rnn(run: Run, weights: Path, device: torch.device) -> FinishedCNNRNN:
    """Notebook 07's final model from ``weights`` (``chosen_checkpoint``), built with the
    profile's ``[cnn_rnn]`` as notebook 07 builds it, in eval mode on ``device``."""
    folder, settings = weights.parent, run.profile.cnn_rnn
    stage = load_checkpoint(folder / FINAL)["config"]["stage"]
    differ = [key for key in MODEL_SETTINGS if stage.get(key) != getattr(settings, key)]
    if differ:
        raise ValueError(
            f"{folder / FINAL} was trained with other [cnn_rnn] settings than profile "
            f"{run.profile.name!r} ({', '.join(differ)}): " + _rerun(run)
        )
    backbone, labels = run.profile.cnn.backbone, len(run.index.label_names)
    rnn = build_cnn_rnn(settings, labels, feature_dim_of(backbone))
    trunk, model = None, rnn
    if folder.name == END_TO_END:
        cnn = build_backbone(backbone, num_classes=None)
        if settings.finetune == "all":
            trunk = WholeCNN(cnn)
        else:
            trunk = LastBlock(cnn.layer4[-1], last_conv_only=settings.finetune == "last_conv")
        model = EndToEnd(trunk, rnn)
    try:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True)["model"])
    except (RuntimeError, KeyError, TypeError) as err:
        problem = str(err).strip().splitlines()[0]
        raise ValueError(
            f"{weights} does not fit the CNN-RNN of [cnn_rnn] ({problem}): " + _rerun(run)
        ) from err
    finished = FinishedCNNRNN(rnn, trunk, settings.beam_size, int(stage["max_labels"]))
    return finished.eval().to(device)
