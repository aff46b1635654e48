"""The partial-label sweep (Durand et al. 2019): one model per (seed, proportion of known labels,
loss), scored on the test split, and the paper's own numbers beside ours.

- ``SweepGrid`` and ``sweep``: the p × loss × seed grid, notebook 06's one call; ``save_sweep``
  writes a prediction file per model.
- ``reported_results`` and ``beside_reported``: the paper's rows and ours at the same proportion.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from annokit import paths
from annokit.artifacts.predictions import Predictions, save_predictions
from annokit.artifacts.run import Run
from annokit.methods.m3_files import seed_suffix
from annokit.methods.partial_labels import (
    LOSSES,
    ClassifierTraining,
    PartialData,
    evaluate,
    known_proportion,
    mask_labels,
    predict_probabilities,
    train_classifier,
)

REPORTED_CSV = "durand2019_partial_labels.csv"


def model_name(loss: str, proportion: float, seed_suffix: str = "") -> str:
    """``partial_<loss>_p<percent>[@seed<k>]``: the run folder and prediction file of one point of
    the sweep."""
    return f"partial_{loss}_p{round(proportion * 100):03d}{seed_suffix}"


@dataclass(frozen=True)
class SweepGrid:
    """The points of the sweep: every seed × proportion of known labels × loss, in that order.

    No ``seeds``: the run's seed alone."""

    proportions: tuple[float, ...]
    losses: tuple[str, ...]
    seeds: tuple[int, ...] = ()


@dataclass
class SweepResult:
    """One row per (seed, loss, proportion) in ``table``; the test probabilities of each model by
    ``model_name``."""

    table: pd.DataFrame
    probabilities: dict[str, np.ndarray]


# The loss whose fit stands for all three where every label is known (they are then one loss).
FULL_LABELS_LOSS = "partial_bce"


def trained_loss(loss: str, proportion: float) -> str:
    """The loss a point of the sweep is trained with: its own, or ``FULL_LABELS_LOSS`` at 100 %,
    where BCE with unknown = negative, BCE on known labels and partial-BCE are the same loss."""
    return FULL_LABELS_LOSS if proportion >= 1.0 else loss


def sweep_fit_name(run: Run, point: tuple[float, str, int]) -> str:
    """The folder of the fit that stands for point ``(proportion, loss, seed)`` (``trained_loss``:
    at 100 % the three losses share one)."""
    p, loss, s = point
    return model_name(trained_loss(loss, p), p, seed_suffix(run.profile, s))


def sweep_points(grid: SweepGrid, seed: int) -> list[tuple[float, str, int]]:
    """The grid's points ``(proportion, loss, seed)`` in the sweep's order (no ``grid.seeds``: the
    run's ``seed``)."""
    return [
        (p, loss, s)
        for s in (grid.seeds or [seed])
        for p in grid.proportions
        for loss in grid.losses
    ]


def sweep_fit(
    run: Run,
    data: PartialData,
    training: ClassifierTraining,
    point: tuple[float, str, int],
    *,
    retrain: bool = False,
):
    """The model of one point ``(proportion, loss, seed)`` of the sweep, trained once in
    ``<run>/partial/<model_name>`` and reused by every later call with the same settings (the
    curriculum's round 0, the labelling comparison, the ensemble). Returns (model, history,
    targets, folder name)."""
    p, loss, s = point
    loss = trained_loss(loss, p)
    name = sweep_fit_name(run, point)
    folder = run.run_dir / "partial" / name
    if retrain and folder.exists():
        shutil.rmtree(folder)
    targets = mask_labels(data.train_labels, p, s)
    seeded = replace(training, config=replace(training.config, seed=s))
    stage = {"proportion": p, "mask_seed": s}
    model, history = train_classifier(data.train, targets, loss, folder, seeded, stage_config=stage)
    return model, history, targets, name


def sweep(
    run: Run,
    data: PartialData,
    grid: SweepGrid,
    training: ClassifierTraining,
    *,
    retrain: bool = False,
) -> SweepResult:
    """Train one model per point of ``grid`` on ``data.train`` and score it on the test split.

    With seed s, every loss at a given p sees the same mask ``mask_labels(train_labels, p, s)`` and
    the model starts from seed s (``training.new_model``). The run's seed keeps the plain names, the
    others get ``@seed<k>``. Models go to ``<run>/partial/<model_name>``; at 100 % the three losses
    are one loss, trained once (``trained_loss``; column ``fit``). ``retrain`` deletes them first.
    """
    rows, probabilities, done = [], {}, set()
    points = sweep_points(grid, run.profile.seed)
    for p, loss, s in (bar := tqdm(points, desc="partial-label sweep", unit="model")):
        name = model_name(loss, p, seed_suffix(run.profile, s))
        bar.set_postfix_str(name)
        fit_name = sweep_fit_name(run, (p, loss, s))
        model, history, targets, fit_name = sweep_fit(
            run, data, training, (p, loss, s), retrain=retrain and fit_name not in done
        )
        done.add(fit_name)
        scores = predict_probabilities(model, data.test, training.device)
        probabilities[name] = scores
        # No wall time in the table: it must be identical from run to run.
        rows.append(
            {
                "loss": loss,
                "title": LOSSES[loss].title,
                "proportion": p,
                "seed": s,
                "known_share": float(known_proportion(targets).mean()),
                **evaluate(data.test_labels, scores),
                "final_train_loss": history.train_loss[-1] if len(history) else float("nan"),
                "fit": fit_name,
            }
        )
    return SweepResult(pd.DataFrame(rows), probabilities)


def save_sweep(
    run: Run, result: SweepResult, data: PartialData, training: ClassifierTraining, meta: dict
) -> list[Path]:
    """A prediction file per model of the sweep (labels above 0.5), with ``meta`` and the fit."""
    return [
        save_predictions(
            Predictions(
                model=name,
                rows=data.test_rows,
                scores=scores,
                annotation=scores > 0.5,
                rule="threshold 0.5",
                meta={**meta, "fit": asdict(training.config)},
            ),
            run.run_dir,
        )
        for name, scores in result.probabilities.items()
    ]


def reported_results() -> pd.DataFrame:
    """The paper's own numbers (``results/reported/durand2019_partial_labels.csv``): fine-tuned
    ResNet-101, real datasets."""
    return pd.read_csv(paths.reported_dir() / REPORTED_CSV)


def beside_reported(
    table: pd.DataFrame, reported: pd.DataFrame, loss: str = "partial_bce"
) -> pd.DataFrame:
    """The reported rows with our number of the same kit key (percent) beside them.

    Ours is taken at 10 % known labels for a "10%" row, averaged over our proportions below 100 %
    for an "average over proportions" row, and at 100 % where the row does not state a proportion.
    """
    ours = table[table["loss"] == loss]
    values, taken_at = [], []
    for row in reported.itertuples(index=False):
        key = row.kit_key if isinstance(row.kit_key, str) else ""
        if key not in ours.columns:
            values.append(float("nan"))
            taken_at.append("no kit key")
            continue
        if row.known_labels == "10%":
            chosen, at = ours[np.isclose(ours["proportion"], 0.1)], "10 %"
        elif str(row.known_labels).startswith("average"):
            chosen = ours[ours["proportion"] < 1.0]
            percents = ", ".join(f"{100 * p:g}" for p in sorted(chosen["proportion"]))
            at = f"mean of {percents} %"
        else:
            chosen, at = ours[np.isclose(ours["proportion"], 1.0)], "100 %"
        values.append(100 * float(chosen[key].mean()) if len(chosen) else float("nan"))
        taken_at.append(at)
    columns = ["dataset", "metric", "kit_key", "known_labels", "value"]
    out = reported[columns].rename(columns={"value": "reported"})
    return out.assign(ours=np.round(values, 1), ours_at=taken_at)
