"""Images/s of the two image paths: JPEG decode + resize per item, and the decoded-image cache.

Both go through a ``DataLoader`` as training uses it (shuffled, the given workers, pinned memory on
a GPU) and are timed from the first batch on, so worker start-up is left out. The files are in the
page cache: the JPEG rate is the decoding rate, not the disk's.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from annokit.bench.timing import Budget, Rate, measure
from annokit.data.annotation_table import TRAIN
from annokit.data.dataset import AnnotationDataset
from annokit.data.image_cache import CacheBuild, image_dataset
from annokit.data.index import PreparedIndex
from annokit.profile import ImageCacheSettings


def batches_forever(
    dataset: Dataset, batch_size: int, workers: int, prefetch: int, device: torch.device
) -> Iterator:
    """Shuffled batches of ``dataset``, epoch after epoch, from persistent workers."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=prefetch if workers else None,
        generator=torch.Generator().manual_seed(0),
    )
    return itertools.chain.from_iterable(loader for _ in itertools.count())


def loader_rate(
    dataset: Dataset,
    batch_size: int,
    workers: int,
    prefetch: int,
    budget: Budget,
    device: torch.device,
) -> Rate:
    """Images/s a ``DataLoader`` of ``dataset`` delivers (the first batch,
    which starts the workers, untimed)."""
    batches = batches_forever(dataset, batch_size, workers, prefetch, device)
    return measure(
        lambda: len(next(batches)[0]),
        Budget(warmup=max(1, budget.warmup), steps=budget.steps, seconds=budget.seconds),
        torch.device("cpu"),
    )


def jpeg_dataset(index: PreparedIndex, data_root: Path, image_size: int) -> AnnotationDataset:
    """The JPEG path every image stage used before the cache: decode, resize,
    ``ToTensor``, normalise per item."""
    return AnnotationDataset(index, data_root, split=TRAIN, image_size=image_size)


def cached_dataset(
    index: PreparedIndex, data_root: Path, image_size: int, folder: Path, workers: int
) -> tuple[Dataset, Rate]:
    """The cached path (built here, into ``folder``) and the build's rate: each image
    decoded, resized and written once."""
    start = time.perf_counter()
    dataset = image_dataset(
        index,
        data_root,
        TRAIN,
        image_size,
        ImageCacheSettings(enabled=True, folder=str(folder)),
        build=CacheBuild(workers=workers, progress=False),
    )
    return dataset, Rate(images=len(dataset), seconds=time.perf_counter() - start, steps=1)
