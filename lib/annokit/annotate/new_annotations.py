"""Scores and labels of new images: a finished run's model on them, batch by batch, then the
decision rule its notebook applies to the test split.

The networks run as ``training.extraction.features_and_scores`` runs them (eval mode, no autocast,
features in float32, scores σ(fc(f))); M3's heads take [f_v, f_t] as ``methods.m3_heads`` does;
the Multi-order RNN is ``methods.multi_order.multi_order_predictions`` on the CNN's scores ŝ;
Wang et al.'s CNN-RNN is the beam search of notebook 07 (``annotate.finished_cnn_rnn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from annokit.annotate.finished_models import check_finished, load_stage, prediction_file
from annokit.annotate.model_menu import RNN_STAGE, WANG_STAGE, ModelChoice
from annokit.annotate.new_images import LeftOut, NewImage, decode_batch
from annokit.artifacts.run import Run
from annokit.evaluation import decision
from annokit.methods.multi_order import multi_order_predictions

LQP_RULES = {
    "joint": "top-m̂ (LQP on [f_v, f_t])",  # the rules of methods.m3_heads.step5_predictions
    "visual": "top-m̂ (LQP on f_v)",
}


@dataclass
class Annotations:
    """What one model says about the new images: scores (N, C), the annotation (N, C) and, where
    the model has them, the LQP outputs (N,) and the decoder's steps."""

    model: str
    prediction_file: str
    profile: str
    rule: str
    label_names: tuple[str, ...]
    images: list[NewImage]
    scores: np.ndarray
    annotation: np.ndarray
    counts: np.ndarray | None = None
    step_scores: np.ndarray | None = None
    sequences: np.ndarray | None = None
    left_out: list[LeftOut] = field(default_factory=list)
    checkpoints: dict[str, str] = field(default_factory=dict)
    unknown_tags: int = 0  # tags given that the run's tag vocabulary does not hold (ignored)

    def labels_of(self, i: int) -> list[int]:
        """The labels given to image i, highest score first (ties: the lower label index)."""
        order = np.argsort(-self.scores[i], kind="stable")
        return [int(c) for c in order if self.annotation[i, c]]


def tag_vectors(images: Sequence[NewImage], tag_names: Sequence[str]) -> tuple[np.ndarray, int]:
    """Multi-hot (N, T) tag vectors over the run's tag vocabulary, and how many given tags it does
    not hold (they are left out, as the prepared index leaves out tags outside its vocabulary)."""
    column = {name: j for j, name in enumerate(tag_names)}
    vectors = np.zeros((len(images), len(tag_names)), dtype=np.float32)
    unknown = 0
    for i, image in enumerate(images):
        for tag in image.tags or ():
            if tag in column:
                vectors[i, column[tag]] = 1.0
            else:
                unknown += 1
    return vectors, unknown


class Annotator:
    """The networks of one model of a finished run, on ``device``, and their outputs on a batch."""

    def __init__(self, run: Run, choice: ModelChoice, device: torch.device) -> None:
        self.run, self.choice, self.device = run, choice, device
        self.finals = check_finished(run, choice)
        self.nets = {
            stage: load_stage(run, stage, path, device) for stage, path in self.finals.items()
        }

    @torch.no_grad()
    def visual(self, stage: str, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features f and scores σ(fc(f)) of an image network, as the notebook extracts them."""
        net = self.nets[stage]
        features = net.features(images.to(self.device))
        return features.float(), torch.sigmoid(net.fc(features)).float()

    @torch.no_grad()
    def outputs(self, images: torch.Tensor, tags: np.ndarray | None) -> dict[str, np.ndarray | str]:
        """``scores`` and, by model, ``counts`` (LQP), ``step_scores`` and ``sequences`` (RNNs), and
        the annotation and rule of the models that decide as they decode (RNNs)."""
        name = self.choice.name
        if name in ("cnn", "mscnn"):
            return {"scores": self.visual(name, images)[1].cpu().numpy()}
        if WANG_STAGE in self.nets:  # notebook 07's final phase: beam search on I
            return self.nets[WANG_STAGE].outputs(self.nets["cnn"], images.to(self.device))
        if RNN_STAGE in self.nets:
            s_hat = self.visual("cnn", images)[1].cpu().numpy()
            rows = np.arange(len(s_hat))
            out = multi_order_predictions(self.nets[RNN_STAGE], s_hat, rows, device=self.device)
            return {
                "scores": out.scores,
                "step_scores": out.step_scores,
                "sequences": out.sequences,
                "annotation": out.annotation,
                "rule": out.rule,
            }
        features = self.visual("mscnn", images)[0]
        kind = "joint" if "tags_mlp" in self.nets else "visual"
        if kind == "joint":
            f_t = self.nets["tags_mlp"].features(torch.from_numpy(tags).to(self.device))
            features = torch.cat([features, f_t.float()], dim=1)
        scores = torch.sigmoid(self.nets[f"classifier_{kind}"](features))
        counts = self.nets[f"lqp_{kind}"](features)
        return {"scores": scores.cpu().numpy(), "counts": counts.cpu().numpy()}

    def rule(self, outputs: dict) -> str:
        """The decision rule's text, as the notebook's prediction file states it."""
        if "rule" in outputs:
            return str(outputs["rule"])
        if "counts" in outputs:
            return LQP_RULES["joint" if "tags_mlp" in self.nets else "visual"]
        return f"top-{self.run.profile.annotation.top_k}"

    def decide(self, outputs: dict) -> np.ndarray:
        """The notebook's decision rule: top-k, top-m̂, the Multi-order RNN's threshold on pooled
        scores, or the CNN-RNN's beam (both given by ``outputs``)."""
        if "annotation" in outputs:
            return outputs["annotation"]
        if "counts" in outputs:
            return decision.top_m_hat(outputs["scores"], outputs["counts"])
        return decision.top_k(outputs["scores"], self.run.profile.annotation.top_k)


def _joined(parts: list[dict], key: str) -> np.ndarray | None:
    return np.concatenate([part[key] for part in parts]) if parts and key in parts[0] else None


def annotate_images(
    annotator: Annotator, images: Sequence[NewImage], batch_size: int = 32, progress: bool = True
) -> Annotations:
    """Decode, score and label ``images`` in batches; the images that do not decode are left out
    (``Annotations.left_out``) and the others annotated."""
    run, choice = annotator.run, annotator.choice
    tag_names = run.index.tag_names
    parts, kept, left_out, unknown = [], [], [], 0
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc=f"annotate ({choice.name})", disable=not progress, leave=False):
        batch, ok, failed = decode_batch(images[start : start + batch_size], run.profile.image_size)
        left_out += failed
        if not ok:
            continue
        tags, missed = tag_vectors(ok, tag_names) if choice.needs_tags else (None, 0)
        parts.append(annotator.outputs(batch, tags))
        kept += ok
        unknown += missed
    if not kept:
        raise ValueError(
            f"no image could be read or decoded ({len(images)} given): "
            + "; ".join(f"{item.name} ({item.reason})" for item in left_out)
        )
    keys = ("scores", "counts", "step_scores", "sequences", "annotation")
    outputs = {key: _joined(parts, key) for key in keys}
    outputs = {key: value for key, value in outputs.items() if value is not None}
    rule = annotator.rule(parts[0])
    return Annotations(
        model=choice.name,
        prediction_file=prediction_file(run, choice),
        profile=run.profile.name,
        rule=rule,
        label_names=tuple(run.index.label_names),
        images=kept,
        scores=outputs["scores"].astype(np.float32),
        annotation=annotator.decide(outputs),
        counts=outputs.get("counts"),
        step_scores=outputs.get("step_scores"),
        sequences=outputs.get("sequences"),
        left_out=left_out,
        checkpoints={stage: str(Path(path)) for stage, path in annotator.finals.items()},
        unknown_tags=unknown,
    )
