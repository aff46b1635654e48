"""Every decoder of Table 1 with every seed: one job per decoder, side by side on the CPU cores.

``train_decoders(run, scores, models=..., seeds=..., epochs=...)`` is notebook 05's one call. It
cuts the cached CNN scores into the fit, validation and test images (``DecoderData``), gives every
decoder a ``DecoderJob`` holding all its seeds and runs ``train_decoder`` on each with
``annokit.methods.side_by_side``: one process per core on a CPU, one after another (with a
progress bar) on a GPU. A job trains its seeds as one stack (``annokit.methods.decoder_seeds``):
each seed draws its own weights and batches and stops early on its own validation loss, so its
files depend neither on the process nor on the other seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from annokit import __version__
from annokit.artifacts.digest import array_digest
from annokit.artifacts.features import CachedArrays
from annokit.artifacts.predictions import Predictions
from annokit.artifacts.run import Run
from annokit.data.label_orders import label_sequences
from annokit.methods.decoder_seeds import SeedProblem, fit_seeds
from annokit.methods.multi_order import (
    EVAL_LIMIT,
    FIXED_ORDER,
    MULTI_ORDER_FILES,
    PAPER_TEXT,
    RELEASED_CODE,
    LabelledScores,
    cnn_predictions,
    decoder_stage,
    fixed_order_predictions,
    multi_order_predictions,
    variant_settings,
)
from annokit.methods.side_by_side import run_side_by_side
from annokit.models.multi_order_rnn import MultiOrderRNN, multi_order_loss
from annokit.models.rnn_decoder import LabelDecoder, sequence_loss, teacher_forcing
from annokit.profile import RNNSettings, stage_settings_dict
from annokit.training.config import FLOAT32, fit_config
from annokit.training.fit import History
from annokit.training.parallel import cpu_workers
from annokit.training.validation import curve_subset


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


def _floats(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def multi_order_problem(
    settings: RNNSettings, train: LabelledScores, curve: LabelledScores
) -> SeedProblem:
    """What the seeds of a Multi-order RNN variant (``settings.variant``) learn: Eq. 7 on the
    training scores; the same loss on at most ``EVAL_LIMIT`` validation images stops them early."""
    num_labels, variant, steps = train.y.shape[1], settings.variant, settings.steps
    keep = curve_subset(len(curve.s), EVAL_LIMIT)

    def losses(stack, batch):
        s_hat, y = batch
        logits, picks = stack.multi_order(s_hat, steps)
        return torch.stack([multi_order_loss(*seed, variant) for seed in zip(logits, y, picks)])

    return SeedProblem(
        build=lambda: MultiOrderRNN(
            num_labels, settings.hidden, settings.embedding, steps, variant=variant
        ),
        data=(_floats(train.s), _floats(train.y)),
        losses=losses,
        validation=(_floats(curve.s[keep]), _floats(curve.y[keep])),
        stage=decoder_stage(
            MULTI_ORDER_FILES[variant], settings, num_labels, array_digest(train.s, train.y)
        ),
    )


def fixed_order_problem(
    settings: RNNSettings,
    order: str,
    train: LabelledScores,
    label_names: Sequence[str],
    curve: LabelledScores,
) -> SeedProblem:
    """What the seeds of a CNN-RNN baseline learn: its labels in ``order`` (frequencies from
    ``train.y``) by teacher forcing; the sequence loss on the validation images stops them early."""
    num_labels = train.y.shape[1]

    def tensors(s_hat: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, ...]:
        sequences = label_sequences(order, train.y, labels, label_names)
        inputs, targets = teacher_forcing(sequences, num_labels)
        return _floats(s_hat), torch.as_tensor(inputs), torch.as_tensor(targets)

    def losses(stack, batch):
        s_hat, inputs, targets = batch
        logits = stack.teacher_forced(s_hat, inputs)
        return torch.stack([sequence_loss(*seed) for seed in zip(logits, targets)])

    keep = curve_subset(len(curve.s), EVAL_LIMIT)
    inputs = array_digest(train.s, train.y)
    return SeedProblem(
        build=lambda: LabelDecoder(num_labels, settings.hidden, settings.embedding, end_token=True),
        data=tensors(train.s, np.asarray(train.y)),
        losses=losses,
        validation=tensors(curve.s[keep], np.asarray(curve.y)[keep]),
        stage=decoder_stage(
            FIXED_ORDER[order],
            settings,
            num_labels,
            inputs,
            order=order,
            label_names=list(label_names),
        ),
    )


@dataclass(frozen=True)
class DecoderJob:
    """One decoder of Table 1 with all its seeds, as a worker process receives it (plain data).

    ``model``: a Multi-order RNN variant (``RELEASED_CODE``, ``PAPER_TEXT``) or a fixed order
    (``ORDERS``). ``settings``: the profile's ``[rnn]``, epochs and patience included. The
    profile's seed keeps the plain file names; another seed's files are ``<name>@seed<k>``.
    ``compile``: the profile's ``[precision] compile`` mode, which the seeds' stack trains with.
    """

    model: str
    seeds: tuple[int, ...]
    settings: RNNSettings
    profile_seed: int
    run_dir: Path
    device: str = "cpu"
    meta: dict = field(default_factory=dict)
    compile: str = "off"


def train_decoder(job: DecoderJob, data: DecoderData) -> list[tuple[Predictions, History]]:
    """Train one decoder of Table 1 with each of its seeds; their test predictions and curves.

    Every decoder trains on the same fit images for at most the same epochs, each seed kept at its
    lowest validation loss. Module-level, so ``parallel.run_jobs`` can run it in another process.
    """
    multi_order = job.model in MULTI_ORDER_FILES
    if multi_order:
        settings = variant_settings(job.settings, job.model)
        problem = multi_order_problem(settings, data.fit, data.validation)
        name, drop_last = MULTI_ORDER_FILES[job.model], job.model == RELEASED_CODE
    else:
        settings = variant_settings(job.settings, PAPER_TEXT)
        problem = fixed_order_problem(
            settings, job.model, data.fit, data.label_names, data.validation
        )
        name, drop_last = FIXED_ORDER[job.model], False
    # the release never trains on a short last batch, whose few images would set BN's statistics
    floats = replace(FLOAT32, compile=job.compile)  # float32, compiled as the profile says
    configs = [
        fit_config(settings, seed, drop_last=drop_last, precision=floats) for seed in job.seeds
    ]
    folders = [seed_run_dir(job.run_dir, s, job.profile_seed) / "rnn" / name for s in job.seeds]
    fits = fit_seeds(problem, configs, folders, job.settings.patience, job.device)
    results = []
    for seed, trained in zip(job.seeds, fits):
        meta = {"settings": stage_settings_dict(settings), **job.meta, "seed": seed}
        meta["chosen epoch"] = trained.epoch
        test = (data.s_test, data.test_rows)
        if multi_order:
            predictions = multi_order_predictions(
                trained.model, *test, device=job.device, meta=meta
            )
        else:
            predictions = fixed_order_predictions(
                job.model, trained.model, *test, settings, device=job.device, meta=meta
            )
        if seed != job.profile_seed:
            predictions = replace(predictions, model=f"{predictions.model}@seed{seed}")
        results.append((predictions, trained.history))
    return results


def train_decoders(
    run: Run,
    scores: CachedArrays,
    *,
    models: Sequence[str],
    seeds: Sequence[int],
    epochs: int | None = None,
) -> dict[tuple[str, int], tuple[Predictions, History]]:
    """Train every model of ``models`` with every seed of ``seeds`` on a run's cached CNN scores.

    ``epochs`` (None: the profile's ``[rnn]`` epochs) is the most each seed trains; early stopping
    (``[rnn]`` patience) may end it sooner. Returns (test predictions, training curve) by
    (model, seed). Checkpoints: ``<run>/rnn/<name>`` for the profile's seed,
    ``<run>/seeds/seed<k>/rnn/<name>`` for the others.
    """
    data = decoder_data(run, scores)
    settings = run.profile.rnn.with_epochs(epochs)
    common = {
        "seeds": tuple(seeds),
        "settings": settings,
        "profile_seed": run.profile.seed,
        "run_dir": run.run_dir,
        "device": str(run.device),
        "meta": run_meta(run),
        "compile": run.profile.precision.compile,
    }
    # the sequence models run more steps per image: the longest jobs first, so that the cores
    # finish together
    ordered = sorted(models, key=lambda m: m in MULTI_ORDER_FILES)
    jobs = [(DecoderJob(model=model, **common), data) for model in ordered]
    results = run_side_by_side(
        train_decoder, jobs, cpu_workers(run.device), desc="decoders", device=run.device
    )
    trained = dict(zip(ordered, results))
    return {(m, seed): trained[m][i] for m in models for i, seed in enumerate(seeds)}


def cnn_row(run: Run, scores: CachedArrays, settings: RNNSettings) -> Predictions:
    """Table 1's "CNN (BCE)" file of a run: the test scores ŝ thresholded at 0.5."""
    meta = {**run_meta(run), "seed": run.profile.seed, "settings": stage_settings_dict(settings)}
    return cnn_predictions(scores.test, scores.test_rows, meta=meta)
