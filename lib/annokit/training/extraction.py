"""Feature extraction: a model's pooled features and sigmoid scores, batch by batch, in order.

Used to cache f_v and the CNN scores for the later stages (``m3_files.cache_and_annotate``), to
score a training curve on the validation images (``validation.score_monitor``) and by the benchmark.

A stage that diverged is stopped here, where its features are made, not two notebooks later: a
non-finite feature or score is a ``FloatingPointError`` naming the stage, and a largest absolute
feature over ``FEATURE_BOUND`` (1e4; healthy pooled features stay within tens) is a one-line
``FeatureScaleWarning``, since the stages trained on them (classifier, LQP, RNN) then drift.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from annokit.profile import LoaderSettings
from annokit.training.config import loader_options
from annokit.training.device_images import for_device
from annokit.training.epoch import to_device

EVAL_BATCH = 128
# The largest absolute feature a healthy stage makes is far below this; above it, a warning.
FEATURE_BOUND = 1e4


class FeatureScaleWarning(UserWarning):
    """A stage's features are finite but far larger than a healthy stage's (``FEATURE_BOUND``)."""


def extraction_loader(
    dataset: Dataset, device: torch.device | str, loader: LoaderSettings | None = None
) -> DataLoader:
    """Batches of ``dataset`` in order, with the profile's ``[loader]`` workers (or none); the
    workers stay alive between passes, so a loader built once (``validation.score_monitor``) does
    not restart them every epoch."""
    options = loader_options(loader or LoaderSettings(workers=0), device)
    workers = options["num_workers"]
    return DataLoader(
        for_device(dataset, device),
        batch_size=EVAL_BATCH,
        num_workers=workers,
        persistent_workers=workers > 0,
        prefetch_factor=options["prefetch_factor"] if workers else None,
        pin_memory=options["pin_memory"] and torch.device(device).type == "cuda",
    )


@torch.no_grad()
def features_and_scores(
    model: nn.Module,
    dataset: Dataset | DataLoader,
    device: torch.device,
    input_index: int = 0,
    desc: str = "extracting",
    loader: LoaderSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The features (``model.features``) and sigmoid scores (``model.fc``) of every item;
    ``dataset`` may be an ``extraction_loader`` already built (kept across calls)."""
    model.eval().to(device)
    features, scores = [], []
    if isinstance(dataset, DataLoader):
        batches = dataset
    else:
        batches = extraction_loader(dataset, device, loader)
    for batch in tqdm(batches, desc=desc, leave=False):
        f = model.features(to_device(batch[input_index], device))
        features.append(f.float().cpu())
        scores.append(torch.sigmoid(model.fc(f)).float().cpu())
    features_array, scores_array = torch.cat(features).numpy(), torch.cat(scores).numpy()
    check_extracted(features_array, scores_array, desc)
    return features_array, scores_array


def check_extracted(features: np.ndarray, scores: np.ndarray, desc: str) -> None:
    """Refuse non-finite features or scores and warn on exploding features, naming the stage
    (``desc``), so a diverged stage stops before later stages train on its output."""
    for kind, values in (("features", features), ("scores", scores)):
        bad = int(values.size - np.isfinite(values).sum())
        if bad:
            raise FloatingPointError(
                f"{desc}: {bad} of {values.size} extracted {kind} are nan or inf (the stage "
                "diverged); lower this stage's lr in the profile or check its inputs, then rerun "
                "its notebook (nothing was cached)"
            )
    largest = float(np.abs(features).max()) if features.size else 0.0
    if largest > FEATURE_BOUND:
        warnings.warn(
            f"{desc}: the largest absolute feature is {largest:.3g}, over {FEATURE_BOUND:.0e} (the "
            "stage is likely diverging); lower this stage's lr in the profile or check its inputs",
            FeatureScaleWarning,
            stacklevel=3,
        )
