"""What M3's stages read and write: the inputs of a run, and the files a trained model leaves.

Inputs: ``image_splits`` (images with their tag and label vectors, from the decoded-image cache when
the profile enables it) and ``tag_splits`` (tag and label vectors only). Files: the features and
scores a stage caches for the later ones and its test annotation (``cache_and_annotate``), an extra
seed's test annotation (``annotate_test``), and where a stage trained with another seed lives
(``seed_folder``, ``seed_suffix``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from annokit.artifacts.features import CachedArrays, save_cached
from annokit.artifacts.predictions import Predictions, save_predictions
from annokit.artifacts.run import Run
from annokit.artifacts.stamps import RunFileError
from annokit.data.annotation_table import TEST, TRAIN
from annokit.data.dataset import AnnotationDataset
from annokit.data.image_cache import image_dataset
from annokit.data.index import PreparedIndex
from annokit.data.manifest import sha256_of
from annokit.evaluation import decision
from annokit.profile import ImageCacheSettings, Profile, stage_settings_dict
from annokit.training.extraction import features_and_scores

ARRAY_KINDS = {"features": 0, "scores": 1}  # what features_and_scores returns, by position


def seed_suffix(profile: Profile, seed: int) -> str:
    """File-name suffix of an extra seed's run and predictions (empty for the profile's seed)."""
    return "" if seed == profile.seed else f"@seed{seed}"


def seed_folder(run: Run, seed: int | None = None) -> Path:
    """Where a stage trained with ``seed`` lives: the run folder for the profile's seed (None),
    else ``<run>/seeds/seed<k>``."""
    if seed is None or seed == run.profile.seed:
        return Path(run.run_dir)
    return Path(run.run_dir) / "seeds" / f"seed{seed}"


def stage_record(run: Run, stage: str, **extra) -> dict:
    """What a stage's checkpoints must agree with: profile, split and the stage's settings."""
    settings = stage_settings_dict(run.profile.stage(stage))
    del settings["seeds"]  # the seed in use is in FitConfig
    index = run.index.meta["fingerprint"]
    return {"stage": stage, "profile": run.profile.name, "index": index, **settings, **extra}


def image_split(
    index: PreparedIndex,
    data_root: Path,
    split: str,
    image_size: int,
    cache: ImageCacheSettings | None = None,
    work_dir: Path | None = None,
) -> AnnotationDataset:
    """Images of one split with their tag and label vectors: from the decoded-image cache when
    ``cache.enabled``."""
    return image_dataset(index, data_root, split, image_size, cache, work_dir)


def run_images(run: Run, split: str) -> AnnotationDataset:
    """The images of one split of a run, at the profile's input size."""
    profile = run.profile
    return image_split(
        run.index, run.data_root, split, profile.image_size, profile.cache, run.work_dir
    )


def image_splits(run: Run) -> dict[str, AnnotationDataset]:
    """The train and test images of a run at the profile's input size (cached when enabled)."""
    return {split: run_images(run, split) for split in (TRAIN, TEST)}


def tag_split(index: PreparedIndex, split: str) -> TensorDataset:
    """(tag vector, label vector) pairs of one split: the tags MLP never looks at pixels."""
    tags = torch.from_numpy(index.tag_matrix(split).astype(np.float32))
    labels = torch.from_numpy(index.label_matrix(split).astype(np.float32))
    return TensorDataset(tags, labels)


def tag_splits(run: Run) -> dict[str, TensorDataset]:
    """The train and test (tag vector, label vector) pairs of a run."""
    return {split: tag_split(run.index, split) for split in (TRAIN, TEST)}


def current_outputs(run: Run, cached: list[str], name: str, digest: str) -> Predictions | None:
    """The prediction file ``name`` when it and the ``cached`` arrays were made by the checkpoint of
    ``digest`` on this run's index; None when one is missing, damaged, stale or made by another."""
    try:
        if any(run.cached(array).meta.get("checkpoint_sha256") != digest for array in cached):
            return None
        predictions = run.predictions(name)
    except (FileNotFoundError, RunFileError):
        return None
    return predictions if predictions.meta.get("checkpoint_sha256") == digest else None


def array_kind(name: str) -> int:
    """Which output of ``features_and_scores`` the cached array ``name`` holds, from its ending."""
    kind = name.rpartition("_")[2]
    if kind not in ARRAY_KINDS:
        raise ValueError(f"cached array {name!r} must end in _features or _scores")
    return ARRAY_KINDS[kind]


def top_k_predictions(run: Run, name: str, scores: np.ndarray, meta: dict) -> Predictions:
    """The profile's top-k annotation of the test split from ``scores``, as prediction ``name``."""
    k = run.profile.annotation.top_k
    annotation = decision.top_k(scores, k)
    return Predictions(name, run.index.rows(TEST), scores, annotation, rule=f"top-{k}", meta=meta)


def cache_and_annotate(
    run: Run,
    model: nn.Module,
    name: str,
    inputs: dict[str, Dataset],
    *,
    cache: tuple[str, ...],
    meta: dict | None = None,
    checkpoint: Path | None = None,
) -> Predictions:
    """Cache a trained model's arrays for both splits, then save its top-k annotation of the test
    split as the prediction file ``name``.

    ``cache`` names the arrays to keep: ``<prefix>_features`` (the pooled features) and
    ``<prefix>_scores`` (the sigmoid scores). The later stages train on them and never decode an
    image again. With ``checkpoint`` (the ``final.pt`` the model was loaded from or saved to) the
    files record its SHA-256, and a rerun whose files came from the same checkpoint on the same
    index reuses them instead of extracting again.
    """
    kinds = {array: array_kind(array) for array in cache}
    digest = sha256_of(checkpoint) if checkpoint is not None else None
    if digest is not None:
        reused = current_outputs(run, list(kinds), name, digest)
        if reused is not None:
            print(
                f"{name}: features, scores and predictions of {checkpoint} are cached and current: "
                "reused"
            )
            return reused
    outputs = {
        split: features_and_scores(
            model, data, run.device, desc=f"{name} on {split}", loader=run.profile.loader
        )
        for split, data in inputs.items()
    }
    rows = {split: run.index.rows(split) for split in (TRAIN, TEST)}
    meta = {"profile": run.profile.name, "model": name, **(meta or {})}
    if digest:
        meta["checkpoint_sha256"] = digest
    for array, position in kinds.items():
        train, test = outputs[TRAIN][position], outputs[TEST][position]
        cached = CachedArrays(array, train, test, rows[TRAIN], rows[TEST], meta)
        save_cached(cached, run.run_dir)
    predictions = top_k_predictions(run, name, outputs[TEST][1], meta)
    save_predictions(predictions, run.run_dir)
    return predictions


def annotate_test(run: Run, model: nn.Module, name: str, seed: int) -> Predictions:
    """An extra seed's top-k annotation of the test split, saved as ``<name>@seed<k>``."""
    desc = f"{name} seed {seed} on test"
    test = run_images(run, TEST)
    _, scores = features_and_scores(model, test, run.device, desc=desc, loader=run.profile.loader)
    meta = {"profile": run.profile.name, "base_model": name, "seed": seed}
    predictions = top_k_predictions(run, f"{name}{seed_suffix(run.profile, seed)}", scores, meta)
    save_predictions(predictions, run.run_dir)
    return predictions
