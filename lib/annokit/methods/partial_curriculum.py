"""Curriculum learning with partial labels (Durand et al. 2019, Sec. 3.3): the score threshold
strategy, where the model labels the unknown entries it is confident about.

- ``score_threshold_labels``: one labelling step.
- ``train_with_curriculum``: round 0 trains on the partial labels; every later round first adds the
  confident predictions, then continues training.
- ``curriculum_summary``: what each round knew, added and scored; ``run_curriculum``: notebook 06's
  one call, at one proportion of known labels.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from torch import Tensor, nn
from torch.utils.data import Dataset

from annokit.artifacts.run import Run
from annokit.methods.partial_labels import (
    NEGATIVE,
    POSITIVE,
    UNKNOWN,
    ClassifierTraining,
    PartialData,
    evaluate,
    mask_labels,
    predict_probabilities,
    train_classifier,
)
from annokit.training.fit import History

CURRICULUM_LOSS = "partial_bce"


def score_threshold_labels(
    probabilities: np.ndarray, targets: np.ndarray, theta: float
) -> np.ndarray:
    """New targets: unknown entries with σ(x) ≥ θ become positive, σ(x) ≤ 1 − θ negative; known
    ones never change.

    The paper thresholds the score x at ±θ; a threshold on σ(x) is the same rule with
    θ_x = logit(θ).
    """
    if not 0.5 < theta <= 1.0:
        raise ValueError(
            f"theta must lie in (0.5, 1] so that positive and negative never overlap, got {theta}"
        )
    targets = np.asarray(targets, dtype=np.int8)
    probabilities = np.asarray(probabilities)
    unknown = targets == UNKNOWN
    new = targets.copy()
    new[unknown & (probabilities >= theta)] = POSITIVE
    # σ ≤ 1 − θ, written so that 0.1 counts at θ = 0.9
    new[unknown & (1.0 - probabilities >= theta)] = NEGATIVE
    return new


@dataclass(frozen=True)
class Curriculum:
    """The curriculum's settings: ``rounds`` labelling rounds after the first training (0: plain
    training), the threshold ``theta``, and the ``proportion`` of known labels it starts from."""

    rounds: int
    theta: float
    proportion: float = 0.1


@dataclass
class CurriculumRun:
    """The model after the last round; per round the targets it trained on, its history and its
    weights."""

    model: nn.Module
    targets: list[np.ndarray] = field(default_factory=list)
    histories: list[History] = field(default_factory=list)
    weights: list[dict[str, Tensor]] = field(default_factory=list)


def train_with_curriculum(
    features: np.ndarray | Dataset,
    targets: np.ndarray,
    loss: str,
    run_dir: Path,
    training: ClassifierTraining,
    curriculum: Curriculum,
    *,
    retrain: bool = False,
) -> CurriculumRun:
    """Round 0 trains on the partial ``targets``; each later round first adds the confident
    predictions of the model on the unknown training entries (``score_threshold_labels``), then
    continues training on them.

    Round r lives in ``run_dir/round_r``; ``retrain`` deletes ``run_dir`` first. Round 0's model is
    ``training.new_model``.
    """
    if retrain and Path(run_dir).exists():
        shutil.rmtree(run_dir)
    result = CurriculumRun(model=None)  # type: ignore[arg-type]
    current, model, theta = np.asarray(targets, dtype=np.int8), None, curriculum.theta
    for r in range(curriculum.rounds + 1):
        if r > 0:
            probabilities = predict_probabilities(model, features, training.device)
            current = score_threshold_labels(probabilities, current, theta)
        stage = {"curriculum_round": r, "theta": theta}
        folder = Path(run_dir) / f"round_{r}"
        model, history = train_classifier(
            features, current, loss, folder, training, model=model, stage_config=stage
        )
        result.targets.append(current)
        result.histories.append(history)
        result.weights.append({k: v.detach().clone().cpu() for k, v in model.state_dict().items()})
    result.model = model
    return result


def curriculum_summary(
    curriculum: CurriculumRun,
    start: np.ndarray,
    labels: np.ndarray,
    test_features: np.ndarray | Dataset,
    test_labels: np.ndarray,
    device: str = "cpu",
) -> pd.DataFrame:
    """Per round: share of known training labels, labels the model added and the share of them
    that is right, and the test scores of that round's weights (round 0 is plain training on the
    partial labels)."""
    rows, model = [], copy.deepcopy(curriculum.model)
    for r, (targets, weights) in enumerate(zip(curriculum.targets, curriculum.weights)):
        added = (targets != UNKNOWN) & (start == UNKNOWN)
        correct = ((targets == POSITIVE) == labels)[added]
        model.load_state_dict(weights)
        scores = evaluate(test_labels, predict_probabilities(model, test_features, device))
        rows.append(
            {
                "round": r,
                "known_share": float((targets != UNKNOWN).mean()),
                "added": int(added.sum()),
                "added_correct": float(correct.mean()) if added.any() else float("nan"),
                **{f"test {k}": scores[k] for k in ("mAP", "C-F1", "O-F1")},
            }
        )
    return pd.DataFrame(rows)


def run_curriculum(
    run: Run,
    data: PartialData,
    curriculum: Curriculum,
    training: ClassifierTraining,
    *,
    retrain: bool = False,
) -> pd.DataFrame:
    """The curriculum with partial-BCE at ``curriculum.proportion``, from the mask of the run's
    seed, in ``<run>/partial/curriculum_p<percent>``: ``curriculum_summary`` of its rounds."""
    start = mask_labels(data.train_labels, curriculum.proportion, run.profile.seed)
    folder = run.run_dir / "partial" / f"curriculum_p{round(100 * curriculum.proportion):03d}"
    result = train_with_curriculum(
        data.train, start, CURRICULUM_LOSS, folder, training, curriculum, retrain=retrain
    )
    table = curriculum_summary(
        result, start, data.train_labels, data.test, data.test_labels, training.device
    )
    return table.assign(proportion=curriculum.proportion, theta=curriculum.theta)
