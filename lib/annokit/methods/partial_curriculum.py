"""Curriculum learning with partial labels (Durand et al. 2019, Sec. 3.3): train, let the model
label some unknown training entries (one of ``annokit.methods.partial_strategies``), train on, for
a few rounds.

- ``train_with_curriculum``: the loop, one strategy; round 0 is training on the partial labels
  (by default the sweep's partial-BCE fit, reused).
- ``curriculum_summary``: what each round knew, added and scored.
- ``compare_strategies``: notebook 06's one call: every strategy from the same round 0, per seed,
  each θ chosen on the validation split.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from torch import Tensor, nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from annokit.artifacts.run import Run
from annokit.methods.m3_files import seed_suffix
from annokit.methods.partial_labels import (
    POSITIVE,
    UNKNOWN,
    ClassifierTraining,
    PartialData,
    evaluate,
    mask_labels,
    predict_probabilities,
    train_classifier,
)
from annokit.methods.partial_strategies import (
    Strategy,
    apply_strategy,
    choose_theta,
    strategy_scores,
)
from annokit.methods.partial_sweep import sweep_fit
from annokit.training.fit import History

CURRICULUM_LOSS = "partial_bce"


@dataclass(frozen=True)
class Curriculum:
    """The curriculum's settings: ``rounds`` labelling rounds after the first training (0: plain
    training), the ``strategy`` that labels, the ``proportion`` of known labels it starts from and
    the dropout passes of the Bayesian strategy."""

    rounds: int
    strategy: Strategy
    proportion: float = 0.1
    mc_samples: int = 10


@dataclass
class CurriculumStart:
    """Round 0 already trained (``model`` and its ``history``; None: trained in ``round_0``) and
    the ensemble strategy's other members, trained on the same partial labels."""

    model: nn.Module | None = None
    history: History | None = None
    ensemble: tuple[nn.Module, ...] = ()


@dataclass
class CurriculumRun:
    """The model after the last round; per round the targets it trained on, its history and its
    weights."""

    model: nn.Module
    targets: list[np.ndarray] = field(default_factory=list)
    histories: list[History] = field(default_factory=list)
    weights: list[dict[str, Tensor]] = field(default_factory=list)

    def record(self, model: nn.Module, targets: np.ndarray, history: History) -> None:
        """Keep one round: its targets, history and a copy of its weights."""
        self.model = model
        self.targets.append(targets)
        self.histories.append(history)
        self.weights.append({k: v.detach().clone().cpu() for k, v in model.state_dict().items()})


def train_with_curriculum(
    features: np.ndarray | Dataset,
    targets: np.ndarray,
    run_dir: Path,
    training: ClassifierTraining,
    curriculum: Curriculum,
    *,
    start: CurriculumStart | None = None,
    retrain: bool = False,
) -> CurriculumRun:
    """Round 0 trains on the partial ``targets`` with partial-BCE (or is ``start.model``, copied);
    each later round first labels unknown training entries with ``curriculum.strategy``, then
    continues training on the new targets from the previous round's weights.

    Round r ≥ 1 lives in ``run_dir/round_r`` (round 0 in ``run_dir/round_0`` when trained here);
    ``retrain`` deletes ``run_dir`` first.
    """
    if retrain and Path(run_dir).exists():
        shutil.rmtree(run_dir)
    start = start or CurriculumStart()
    strategy, current = curriculum.strategy, np.asarray(targets, dtype=np.int8)
    if start.model is None:
        folder = Path(run_dir) / "round_0"
        model, history = train_classifier(features, current, CURRICULUM_LOSS, folder, training)
    else:  # the caller's model stays as it is
        model, history = copy.deepcopy(start.model), start.history or History()
    result = CurriculumRun(model=model)
    result.record(model, current, history)
    for r in range(1, curriculum.rounds + 1):
        scores = strategy_scores(
            strategy,
            model,
            features,
            ensemble=start.ensemble,
            samples=curriculum.mc_samples,
            device=training.device,
        )
        current = apply_strategy(strategy, scores, current)
        stage = {"curriculum_round": r, "strategy": strategy.kind, "theta": strategy.theta}
        folder = Path(run_dir) / f"round_{r}"
        model, history = train_classifier(
            features, current, CURRICULUM_LOSS, folder, training, model=model, stage_config=stage
        )
        result.record(model, current, history)
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
                "added_positive": int((added & (targets == POSITIVE)).sum()),
                "added_correct": float(correct.mean()) if added.any() else float("nan"),
                **{f"test {k}": scores[k] for k in ("mAP", "C-F1", "O-F1")},
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class StrategyComparison:
    """Notebook 06's comparison: the strategy ``kinds``, at one ``proportion`` of known labels,
    ``rounds`` each, per seed; per kind its θ ``candidates`` (chosen on the validation split: the
    one labelling most entries at ``min_accuracy`` or better), the ensemble's size, the dropout
    passes of the Bayesian strategy and the epochs of each round after round 0."""

    kinds: tuple[str, ...]
    proportion: float
    rounds: int
    seeds: tuple[int, ...]
    candidates: Mapping[str, tuple[float, ...]]
    min_accuracy: float = 0.95
    ensemble_size: int = 2
    mc_samples: int = 10
    round_epochs: int | None = None  # epochs of each round after round 0 (None: the stage's)


def ensemble_members(
    run: Run,
    data: PartialData,
    training: ClassifierTraining,
    seed: int,
    comparison: StrategyComparison,
) -> tuple[nn.Module, ...]:
    """The ensemble's other members: the round-0 model retrained from other initialisations
    (seed + 1000 k) on the same partial labels, in ``<run>/partial/ensemble_member<k>_p<..>``."""
    targets = mask_labels(data.train_labels, comparison.proportion, seed)
    percent = f"p{round(100 * comparison.proportion):03d}{seed_suffix(run.profile, seed)}"
    members = []
    for k in range(1, comparison.ensemble_size):
        config = replace(training.config, seed=seed + 1000 * k)
        folder = run.run_dir / "partial" / f"ensemble_member{k}_{percent}"
        stage = {"proportion": comparison.proportion, "mask_seed": seed}
        model, _ = train_classifier(
            data.train,
            targets,
            CURRICULUM_LOSS,
            folder,
            replace(training, config=config),
            stage_config=stage,
        )
        members.append(model)
    return tuple(members)


def strategy_folder(run: Run, point: tuple[str, int, StrategyComparison]) -> str:
    """``curriculum_<kind>_p<percent>[@seed<k>]``: the rounds of one strategy and seed, in
    ``<run>/partial``."""
    kind, seed, comparison = point
    percent = round(100 * comparison.proportion)
    return f"curriculum_{kind}_p{percent:03d}{seed_suffix(run.profile, seed)}"


def strategy_rounds(
    run: Run, data: PartialData, training: ClassifierTraining, point: tuple
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``compare_strategies`` for one ``(kind, seed, comparison)``: a job of its own, since no
    strategy reads another's rounds (the MC dropout masks are drawn from a fixed seed)."""
    kind, seed, comparison = point
    return compare_strategies(
        run, data, training, replace(comparison, kinds=(kind,), seeds=(seed,))
    )


def compare_strategies(
    run: Run,
    data: PartialData,
    training: ClassifierTraining,
    comparison: StrategyComparison,
    *,
    retrain: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every strategy of ``comparison`` from the same round 0 (the sweep's partial-BCE fit at that
    proportion and seed, reused), each θ chosen on the validation images masked alike.

    Returns the rounds (``curriculum_summary`` rows with strategy, seed, θ) and the θ choices.
    Models go to ``<run>/partial/curriculum_<kind>_p<percent>[@seed<k>]/round_<r>``.
    """
    if data.validation is None or data.validation_labels is None:
        raise ValueError("the curriculum chooses θ on the validation images: PartialData has none")
    p, tables, choices = comparison.proportion, [], []
    points = [(s, kind) for s in comparison.seeds for kind in comparison.kinds]
    members: dict[int, tuple[nn.Module, ...]] = {}
    for s, kind in (bar := tqdm(points, desc="curriculum strategies", unit="strategy")):
        bar.set_postfix_str(f"{kind} seed {s}")
        model0, history0, start, _ = sweep_fit(run, data, training, (p, CURRICULUM_LOSS, s))
        if kind == "ensemble" and s not in members:
            members[s] = ensemble_members(run, data, training, s, comparison)
        ensemble = members.get(s, ()) if kind == "ensemble" else ()
        theta = 0.0
        if kind != "none":
            scores = strategy_scores(
                Strategy(kind),
                model0,
                data.validation,
                ensemble=ensemble,
                samples=comparison.mc_samples,
                device=training.device,
            )
            val_targets = mask_labels(data.validation_labels, p, s)
            theta, choice = choose_theta(
                kind,
                scores,
                val_targets,
                data.validation_labels,
                comparison.candidates[kind],
                comparison.min_accuracy,
            )
            choices.append(choice.assign(seed=s))
        curriculum = Curriculum(comparison.rounds, Strategy(kind, theta), p, comparison.mc_samples)
        config = replace(training.config, seed=s)
        if comparison.round_epochs:
            config = replace(config, training=config.training.with_epochs(comparison.round_epochs))
        seeded = replace(training, config=config)
        result = train_with_curriculum(
            data.train,
            start,
            run.run_dir / "partial" / strategy_folder(run, (kind, s, comparison)),
            seeded,
            curriculum,
            start=CurriculumStart(model0, history0, ensemble),
            retrain=retrain,
        )
        table = curriculum_summary(
            result, start, data.train_labels, data.test, data.test_labels, training.device
        )
        tables.append(table.assign(strategy=kind, title=Strategy(kind).title, seed=s, theta=theta))
    rounds = pd.concat(tables, ignore_index=True).assign(proportion=p)
    return rounds, (pd.concat(choices, ignore_index=True) if choices else pd.DataFrame())
