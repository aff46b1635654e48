"""Every decoder of Table 1 with every seed: one job each, side by side on the CPU cores.

``train_decoders(run, scores, models=..., seeds=..., epochs=...)`` is notebook 05's one call. It
cuts the cached CNN scores into the fit, validation and test images (``DecoderData``), gives every
(decoder, seed) a ``DecoderJob`` and runs ``train_decoder`` on each with
``annokit.methods.side_by_side``: one process per core on a CPU, one after another (with a
progress bar) on a GPU. Every job seeds itself, so its files do not depend on the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from annokit import __version__
from annokit.artifacts.features import CachedArrays
from annokit.artifacts.predictions import Predictions
from annokit.artifacts.run import Run
from annokit.methods.multi_order import (
    MULTI_ORDER_FILES,
    PAPER_TEXT,
    DecoderTraining,
    LabelledScores,
    cnn_predictions,
    fixed_order_predictions,
    multi_order_predictions,
    train_fixed_order,
    train_multi_order,
    variant_settings,
)
from annokit.methods.side_by_side import run_side_by_side
from annokit.profile import RNNSettings, stage_settings_dict
from annokit.training.fit import History
from annokit.training.parallel import cpu_workers


@dataclass(frozen=True)
class DecoderData:
    """What every decoder trains and is scored on: cached CNN scores of the fit, validation and
    test images."""

    fit: LabelledScores
    validation: LabelledScores
    s_test: np.ndarray
    test_rows: np.ndarray
    label_names: tuple[str, ...]


def decoder_data(run: Run, scores: CachedArrays) -> DecoderData:
    """A run's cached CNN scores ŝ with their labels, cut at the run's validation positions."""
    labels = run.index.label_matrix()
    y_train = labels[scores.train_rows]
    fit_positions, val_positions = run.validation  # the same held-out images as every stage
    return DecoderData(
        fit=LabelledScores(scores.train[fit_positions], y_train[fit_positions]),
        validation=LabelledScores(scores.train[val_positions], y_train[val_positions]),
        s_test=scores.test,
        test_rows=scores.test_rows,
        label_names=tuple(run.index.label_names),
    )


def run_meta(run: Run) -> dict:
    """What every prediction file of notebook 05 records about its run."""
    return {"profile": run.profile.name, "annokit_version": __version__}


def seed_run_dir(run_dir: Path, seed: int, profile_seed: int) -> Path:
    """Where a seed's decoders live: the run folder for the profile's seed,
    ``<run>/seeds/seed<k>`` for the others."""
    return Path(run_dir) if seed == profile_seed else Path(run_dir) / "seeds" / f"seed{seed}"


@dataclass(frozen=True)
class DecoderJob:
    """One decoder of Table 1 with one seed, as a worker process receives it (plain data).

    ``model``: a Multi-order RNN variant (``RELEASED_CODE``, ``PAPER_TEXT``) or a fixed order
    (``ORDERS``). ``settings``: the profile's ``[rnn]``, epochs included. The profile's seed
    keeps the plain file names; another seed's files are ``<name>@seed<k>``.
    """

    model: str
    seed: int
    settings: RNNSettings
    profile_seed: int
    run_dir: Path
    device: str = "cpu"
    meta: dict = field(default_factory=dict)


def train_decoder(job: DecoderJob, data: DecoderData) -> tuple[Predictions, History]:
    """Train one decoder of Table 1 with one seed; return its test predictions and its curve.

    Every decoder trains on the same fit images for the same epochs, its curve scored on the
    validation images. Module-level, so ``parallel.run_jobs`` can run it in another process.
    """
    seed, device, curve = job.seed, job.device, data.validation
    folder = seed_run_dir(job.run_dir, seed, job.profile_seed)
    meta = {**job.meta, "seed": seed}
    if job.model in MULTI_ORDER_FILES:
        variant = variant_settings(job.settings, job.model)
        how = DecoderTraining(variant, seed, folder, device=device, progress=False)
        trained, history = train_multi_order(how, data.fit, curve)
        meta = {"settings": stage_settings_dict(variant), **meta}
        predictions = multi_order_predictions(
            trained, data.s_test, data.test_rows, device=device, meta=meta
        )
    else:
        how = DecoderTraining(job.settings, seed, folder, device=device, progress=False)
        decoder, history = train_fixed_order(how, job.model, data.fit, data.label_names, curve)
        text = variant_settings(job.settings, PAPER_TEXT)
        meta = {"settings": stage_settings_dict(text), **meta}
        predictions = fixed_order_predictions(
            job.model, decoder, data.s_test, data.test_rows, text, device=device, meta=meta
        )
    if seed != job.profile_seed:
        predictions = replace(predictions, model=f"{predictions.model}@seed{seed}")
    return predictions, history


def train_decoders(
    run: Run,
    scores: CachedArrays,
    *,
    models: Sequence[str],
    seeds: Sequence[int],
    epochs: int | None = None,
) -> dict[tuple[str, int], tuple[Predictions, History]]:
    """Train every model of ``models`` with every seed of ``seeds`` on a run's cached CNN scores.

    ``epochs`` (None: the profile's ``[rnn]`` epochs). Returns (test predictions, training curve)
    by (model, seed). Checkpoints: ``<run>/rnn/<name>`` for the profile's seed,
    ``<run>/seeds/seed<k>/rnn/<name>`` for the others.
    """
    data = decoder_data(run, scores)
    settings = run.profile.rnn.with_epochs(epochs)
    keys = [(model, seed) for model in models for seed in seeds]
    common = {
        "settings": settings,
        "profile_seed": run.profile.seed,
        "run_dir": run.run_dir,
        "device": str(run.device),
        "meta": run_meta(run),
    }
    jobs = [(DecoderJob(model=model, seed=seed, **common), data) for model, seed in keys]
    results = run_side_by_side(train_decoder, jobs, cpu_workers(run.device), desc="decoders")
    return dict(zip(keys, results))


def cnn_row(run: Run, scores: CachedArrays, settings: RNNSettings) -> Predictions:
    """Table 1's "CNN (BCE)" file of a run: the test scores ŝ thresholded at 0.5."""
    meta = {**run_meta(run), "seed": run.profile.seed, "settings": stage_settings_dict(settings)}
    return cnn_predictions(scores.test, scores.test_rows, meta=meta)
