"""Every seed of Wang et al.'s CNN-RNN (``annokit.methods.wang_cnn_rnn``), one job each, side by
side on the CPU cores: notebook 07's one call, ``train_seeds(run)``.

``cnn_rnn_inputs`` cuts what the two phases read into fit, validation and test images: notebook
01's cached features for phase 1, and for phase 2 the images (``finetune = "all"``) or the maps
that enter notebook 01's CNN's last residual block, computed once and cached in
``<run>/features/wang_cnn_rnn_maps.npz`` (``"last_block"``, ``"last_conv"``). Every job seeds
itself, so its files do not depend on the process that ran it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from torch import nn
from torch.utils.data import Dataset, Subset

from annokit import __version__
from annokit.artifacts.predictions import Predictions
from annokit.artifacts.run import Run
from annokit.data.annotation_table import TEST, TRAIN
from annokit.data.manifest import sha256_of
from annokit.methods.decoder_jobs import seed_run_dir
from annokit.methods.m3 import load_finetuned_cnn
from annokit.methods.m3_files import image_splits
from annokit.methods.partial_finetune import inputs_of
from annokit.methods.side_by_side import run_side_by_side
from annokit.methods.wang_cnn_rnn import (
    END_TO_END,
    FROZEN,
    NAME,
    LastBlock,
    PhaseData,
    SeedRun,
    Split,
    WholeCNN,
    chosen_max_labels,
    prediction_file,
    train_end_to_end,
    train_frozen,
)
from annokit.profile import stage_settings_dict
from annokit.training.config import fit_config
from annokit.training.parallel import cpu_workers

MAPS = "wang_cnn_rnn_maps.npz"  # in <run>/features/: the maps entering the last block


@dataclass(frozen=True)
class CNNRNNInputs:
    """What every seed reads: phase 1's cached features (``frozen``, ``test_features``), phase 2's
    inputs and the CNN part it fine-tunes (None with ``finetune = "none"``), the test rows."""

    frozen: PhaseData
    test_features: np.ndarray
    test_rows: np.ndarray
    end_to_end: PhaseData | None = None
    test_inputs: np.ndarray | Dataset | None = None
    trunk: nn.Module | None = None


def _cut(inputs: np.ndarray | Dataset, positions: np.ndarray) -> np.ndarray | Dataset:
    if isinstance(inputs, np.ndarray):
        return inputs[positions]
    return Subset(inputs, positions.tolist())


def cnn_rnn_inputs(run: Run) -> CNNRNNInputs:
    """A run's inputs of both phases, cut at its validation positions (the same held-out images as
    every stage); phase 1 reads ``<run>/features/cnn_features.npz`` (notebook 01)."""
    features = run.cached("cnn_features")
    fit_positions, val_positions = run.validation
    y_train = run.index.label_matrix()[features.train_rows]
    y_fit, y_val = y_train[fit_positions], y_train[val_positions]
    frozen = PhaseData(
        Split(features.train[fit_positions], y_fit), Split(features.train[val_positions], y_val)
    )
    base = CNNRNNInputs(frozen, features.test, features.test_rows)
    part = run.profile.cnn_rnn.finetune
    if part == "none":
        return base
    train_rows, test_rows = run.index.rows(TRAIN), run.index.rows(TEST)
    if not (
        np.array_equal(train_rows, features.train_rows)
        and np.array_equal(test_rows, features.test_rows)
    ):
        raise ValueError(
            f"{features.path}: its rows are not the index's train and test rows in order; "
            "rerun notebook 01 on this run"
        )
    cnn = load_finetuned_cnn(run)  # notebook 01's CNN: its features are phase 1's I
    cnn.fc = None
    images = image_splits(run)
    if part in ("last_block", "last_conv"):
        checkpoint = run.run_dir / "cnn" / "final.pt"
        source = f"{sha256_of(checkpoint)}:{run.index.meta['fingerprint']}"
        cache = run.run_dir / "features" / MAPS
        inputs = inputs_of("last_block", cnn, images, run.device, cache=cache, source=source)
        block = copy.deepcopy(cnn.layer4[-1])
        trunk: nn.Module = LastBlock(block, last_conv_only=part == "last_conv")
    else:
        inputs, trunk = images, WholeCNN(cnn)
    train = inputs[TRAIN]
    end_to_end = PhaseData(
        Split(_cut(train, fit_positions), y_fit), Split(_cut(train, val_positions), y_val)
    )
    return replace(base, end_to_end=end_to_end, test_inputs=inputs[TEST], trunk=trunk)


@dataclass(frozen=True)
class CNNRNNJob:
    """One seed, as a worker process receives it (plain data): how it trains, the profile's seed
    (whose files keep the plain name) and what its prediction file records."""

    how: SeedRun
    profile_seed: int
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SeedResult:
    """One seed's test predictions: the final model's and phase 1's; the chosen epoch and the
    validation score of every epoch, per phase. The final model is phase 2's chosen epoch, or phase
    1's model where phase 2 is ``"none"`` or none of its epochs scores higher on the validation
    split (its chosen epoch is then 0)."""

    predictions: Predictions
    frozen: Predictions
    chosen: dict[str, int]
    scores: dict[str, list[float]]


def train_seed(job: CNNRNNJob, inputs: CNNRNNInputs) -> SeedResult:
    """Both phases of one seed, then its test predictions. Module-level, so
    ``parallel.run_jobs`` can run it in another process."""
    how = job.how
    max_labels = chosen_max_labels(how.settings, inputs.frozen.fit.y)
    phase1 = train_frozen(how, inputs.frozen)
    chosen, scores = {FROZEN: phase1.epoch}, {FROZEN: phase1.scores}
    meta = {**job.meta, "seed": how.seed, "settings": stage_settings_dict(how.settings)}
    frozen = prediction_file(
        phase1.model,
        inputs.test_features,
        inputs.test_rows,
        how,
        max_labels,
        {**meta, "phase": FROZEN, "chosen_epochs": dict(chosen)},
    )
    final = frozen
    if inputs.end_to_end is not None:
        phase2 = train_end_to_end(how, inputs.trunk, phase1.model, inputs.end_to_end)
        scores[END_TO_END] = phase2.scores
        # epoch 0 of phase 2 is phase 1's model: kept when no fine-tuned epoch beats it
        better = max(phase2.scores) > max(phase1.scores)
        chosen[END_TO_END] = phase2.epoch if better else 0
    if inputs.end_to_end is not None and chosen[END_TO_END] > 0:
        final = prediction_file(
            phase2.model,
            inputs.test_inputs,
            inputs.test_rows,
            how,
            max_labels,
            {**meta, "phase": END_TO_END, "chosen_epochs": dict(chosen)},
        )
    suffix = "" if how.seed == job.profile_seed else f"@seed{how.seed}"
    final = replace(final, model=f"{NAME}{suffix}")
    frozen = replace(frozen, model=f"{NAME}_{FROZEN}{suffix}")
    return SeedResult(final, frozen, chosen, scores)


def train_seeds(
    run: Run,
    inputs: CNNRNNInputs,
    *,
    seeds: list[int] | None = None,
    epochs: int | None = None,
    finetune_epochs: int | None = None,
) -> dict[int, SeedResult]:
    """Train every seed (None: ``[cnn_rnn] seeds``, else the profile's seed) on ``inputs``;
    ``epochs`` and ``finetune_epochs`` (None: the profile's) are phase 1's and phase 2's.

    Cached inputs train side by side, one process per core; images (``finetune = "all"``) one
    seed after another with the profile's ``[loader]`` and ``[precision]``.
    """
    profile = run.profile
    settings = profile.cnn_rnn.with_epochs(epochs)
    if finetune_epochs is not None:
        settings = replace(settings, finetune_epochs=int(finetune_epochs))
    seeds = list(seeds or profile.seeds("cnn_rnn"))
    on_images = settings.finetune == "all"
    image_config = None
    if on_images:
        image_config = fit_config(
            settings, profile.seed, loader=profile.loader, precision=profile.precision
        )
    common = {
        "device": str(run.device),
        "stage": {"profile": profile.name, "index": run.index.meta["fingerprint"]},
        "image_config": image_config,
    }
    meta = {"profile": profile.name, "annokit_version": __version__}
    jobs = []
    for seed in seeds:
        folder = seed_run_dir(Path(run.run_dir), seed, profile.seed)
        how = SeedRun(settings, seed, folder, **common)
        if image_config is not None:
            how = replace(how, image_config=replace(image_config, seed=int(seed)))
        jobs.append((CNNRNNJob(how, profile.seed, meta), inputs))
    workers = 1 if on_images else cpu_workers(run.device, limit=len(jobs))
    results = run_side_by_side(train_seed, jobs, workers, desc="CNN-RNN seeds", device=run.device)
    return dict(zip(seeds, results))
