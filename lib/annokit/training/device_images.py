"""Cached images travel to the GPU as uint8 and are normalised there.

The decoded-image cache (``data.image_cache``) holds uint8 pixels; normalising them to float32 in
the loader processes ships four times the bytes through the workers, pinned memory and PCIe. On
CUDA the loaders ask the cache for uint8 items (``for_device``), and ``normalise_on_device`` turns
each batch into the network's input on the card by looking every value up in the cache's own
``normalisation_table``: a look-up, not arithmetic, so the input is bit for bit the CPU path's.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor
from torch.utils.data import Dataset

from annokit.data.image_cache import CachedImageDataset, normalisation_table


@functools.cache
def _table(device: str) -> Tensor:
    """The (3, 256) float32 table of ``ToTensor`` + ``Normalize``, kept on ``device``."""
    return torch.from_numpy(normalisation_table()).to(device)


def is_uint8_images(value: object) -> bool:
    """A batch of cached images as the cache ships them to a GPU: uint8 (N, 3, H, W)."""
    return (
        isinstance(value, Tensor)
        and value.dtype == torch.uint8
        and value.dim() == 4
        and value.shape[1] == 3
    )


def normalise_on_device(images: Tensor) -> Tensor:
    """(N, 3, H, W) uint8 → float32 network input, on the tensor's own device."""
    table = _table(str(images.device))
    channels = torch.arange(3, device=images.device).view(1, 3, 1, 1)
    return table[channels, images.long()]


def for_device(dataset: Dataset, device: torch.device | str) -> Dataset:
    """``dataset`` as a loader for ``device`` should read it: a cached image set yields uint8 items
    on CUDA (normalised by ``normalise_on_device`` after the copy); anything else is unchanged."""
    if isinstance(dataset, CachedImageDataset) and torch.device(device).type == "cuda":
        return dataset.with_uint8_items()
    return dataset
