"""The models ``annokit annotate --model`` offers, by name: the stages each loads, the notebook
that trains each stage, the prediction file its notebook writes for the test split.

Kept free of torch, so that a wrong name or ``--help`` answers at once.
"""

from __future__ import annotations

from dataclasses import dataclass

FINAL = "final.pt"
RNN_STAGE = "rnn"  # <run>/rnn/<prediction file>: where notebook 05 trains the Multi-order RNN
WANG_STAGE = "wang_cnn_rnn"  # <run>/wang_cnn_rnn/{frozen,end_to_end}/: notebook 07's two phases
STAGE_NOTEBOOKS = {
    "cnn": "01_cnn_finetune",
    "mscnn": "02_ms_cnn",
    "tags_mlp": "03_tags_mlp",
    "classifier_joint": "04_lqp",
    "lqp_joint": "04_lqp",
    "classifier_visual": "04_lqp",
    "lqp_visual": "04_lqp",
    RNN_STAGE: "05_multi_order_rnn",
    WANG_STAGE: "07_cnn_rnn",
}


@dataclass(frozen=True)
class ModelChoice:
    """A model ``annotate`` offers: the stages (run sub-folders) it loads, its notebook's
    prediction file for the test split, and whether it reads the images' tags."""

    name: str
    stages: tuple[str, ...]
    prediction_file: str
    needs_tags: bool = False
    summary: str = ""


MODELS = {
    choice.name: choice
    for choice in (
        ModelChoice("cnn", ("cnn",), "cnn", summary="notebook 01: the fine-tuned CNN, top-k"),
        ModelChoice("mscnn", ("mscnn",), "mscnn", summary="notebook 02: the MS-CNN, top-k"),
        ModelChoice(
            "m3",
            ("mscnn", "tags_mlp", "classifier_joint", "lqp_joint"),
            "mscnn_tags_lqp",
            needs_tags=True,
            summary="notebook 04: MS-CNN + tags + LQP, top-m̂; needs tags",
        ),
        ModelChoice(
            "mscnn-lqp",
            ("mscnn", "classifier_visual", "lqp_visual"),
            "mscnn_lqp",
            summary="notebook 04: MS-CNN + LQP without tags, top-m̂",
        ),
        ModelChoice(
            "multi-order",
            ("cnn", RNN_STAGE),
            "multi_order_rnn",
            summary="notebook 05: the Multi-order RNN on the CNN's scores, max-pooled steps",
        ),
        ModelChoice(
            "wang-cnn-rnn",
            ("cnn", WANG_STAGE),
            "wang_cnn_rnn",
            summary="notebook 07: Wang et al.'s CNN-RNN, its final phase, beam search",
        ),
    )
}


def model_choice(name: str) -> ModelChoice:
    """The model called ``name``; an unknown name is an error listing the valid ones."""
    if name not in MODELS:
        known = "; ".join(f"{c.name} ({c.summary})" for c in MODELS.values())
        raise ValueError(f"unknown model {name!r}: choose one of {known}")
    return MODELS[name]
