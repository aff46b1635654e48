"""Feature extraction: a model's pooled features and sigmoid scores, batch by batch, in order.

Used to cache f_v and the CNN scores for the later stages (``m3.cache_and_annotate``), to score a
training curve on the validation images (``validation.score_monitor``) and by the benchmark.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from annokit.profile import LoaderSettings
from annokit.training.config import loader_options

EVAL_BATCH = 128


def extraction_loader(
    dataset: Dataset, device: torch.device | str, loader: LoaderSettings | None = None
) -> DataLoader:
    """Batches of ``dataset`` in order, with the profile's ``[loader]`` workers (or none)."""
    options = loader_options(loader or LoaderSettings(workers=0), device)
    workers = options["num_workers"]
    return DataLoader(
        dataset,
        batch_size=EVAL_BATCH,
        num_workers=workers,
        prefetch_factor=options["prefetch_factor"] if workers else None,
        pin_memory=options["pin_memory"] and torch.device(device).type == "cuda",
    )


@torch.no_grad()
def features_and_scores(
    model: nn.Module,
    dataset: Dataset,
    device: torch.device,
    input_index: int = 0,
    desc: str = "extracting",
    loader: LoaderSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The features (``model.features``) and sigmoid scores (``model.fc``) of every item."""
    model.eval().to(device)
    features, scores = [], []
    for batch in tqdm(extraction_loader(dataset, device, loader), desc=desc, leave=False):
        f = model.features(batch[input_index].to(device))
        features.append(f.float().cpu())
        scores.append(torch.sigmoid(model.fc(f)).float().cpu())
    return torch.cat(features).numpy(), torch.cat(scores).numpy()
