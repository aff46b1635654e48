"""Decoded-image cache: each split's images resized once to the
training resolution, kept as uint8 on disk.

``<folder>/<profile>/<split>_<size>.u8`` holds an (N, size, size, 3) uint8 RGB array, row i the
i-th image of the split in index order, read through a memory map; ``<split>_<size>.json`` beside
it records the shape, what built it (index fingerprint, split rows, data root, image size, resize
rule, Pillow version), a SHA-256 per chunk of rows and the checksum of the whole content. The build
writes chunk by chunk and records each chunk once it is on disk, so an interrupted build continues
where it stopped. A cache made from other settings is rebuilt; a damaged one (size or checksum) is
refused, naming the file and the fix. Pixels are the JPEG path's exactly: the same resize, then the
same ``ToTensor`` and normalisation.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from annokit import paths
from annokit.data.cache_record import (
    byte_count,
    cache_file,
    cache_identity,
    content_checksum,
    damaged_chunks,
    mark_verified,
    open_image_cache,
    read_record,
    size_of,
    verify,
    write_record,
)
from annokit.data.dataset import IMAGENET_MEAN, IMAGENET_STD, AnnotationDataset, default_transform
from annokit.data.index import PreparedIndex
from annokit.profile import ImageCacheSettings, LoaderSettings

CHUNK_ROWS = 256  # images per recorded chunk: what an interruption can cost
# Images per loader batch of the build, so that every worker decodes even when few chunks are left.
DECODE_BATCH = 16


class ResizedImages(Dataset):
    """The images of an ``AnnotationDataset`` as resized uint8 (size, size,
    3) arrays: what the cache stores."""

    def __init__(self, source: AnnotationDataset, image_size: int) -> None:
        self.source, self.resize = source, default_transform(image_size).transforms[0]

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.resize(self.source.load_image(i)), dtype=np.uint8)


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    return np.stack(arrays)


@contextmanager
def _locked(data: Path) -> Iterator[None]:
    """One builder per cache file across processes (DDP ranks, parallel
    notebooks); the others wait, then reuse it."""
    data.parent.mkdir(parents=True, exist_ok=True)
    with open(data.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_image_cache(
    source: AnnotationDataset,
    identity: dict,
    data: Path,
    *,
    workers: int = 0,
    progress: bool = True,
) -> dict:
    """Build (or finish) the cache of ``source`` at ``data`` unless an intact one with
    ``identity`` is there; its record."""
    data = Path(data)
    with _locked(data):
        record = read_record(data)
        if record is not None and record.get("identity") != identity:
            changed = sorted(
                k for k in identity if record.get("identity", {}).get(k) != identity[k]
            )
            print(
                f"image cache {data} was built from other settings ({', '.join(changed)} differ): "
                "rebuilding it"
            )
            record = None
        if (
            record is not None
            and not record["complete"]
            and size_of(data) != byte_count(record["shape"])
        ):
            record = None  # the data file went missing or was cut short mid-build: start again
        if record is None:
            record = _start(data, identity)
        elif not record["complete"]:
            _recheck(data, record)
        if not record["complete"]:
            record = _fill(source, data, record, workers, progress)
        verify(data, record)
        return record


def _recheck(data: Path, record: dict) -> None:
    """Before resuming, check the chunks written before the interruption; a damaged one is
    decoded again (the finished build is then trusted without another read)."""
    damaged = damaged_chunks(data, record)
    for chunk in damaged:
        record["chunks"][chunk] = None
    if damaged:
        rows = record["chunk_rows"]
        print(
            f"image cache {data}: {len(damaged)} chunk(s) written before the interruption are "
            f"damaged (images from {damaged[0] * rows}): decoding them again"
        )
        write_record(data, record)


def _start(data: Path, identity: dict) -> dict:
    """An empty cache file of the full size (space reserved up front: a full
    disk fails here, not mid-build)."""
    size = identity["image_size"]
    shape = [identity["count"], size, size, 3]
    with open(data, "wb") as f:
        if hasattr(os, "posix_fallocate") and byte_count(shape):
            os.posix_fallocate(f.fileno(), 0, byte_count(shape))
        else:
            f.truncate(byte_count(shape))
    record = {
        "identity": identity,
        "shape": shape,
        "dtype": "uint8",
        "layout": "N, H, W, RGB",
        "chunk_rows": CHUNK_ROWS,
        "chunks": [None] * -(-shape[0] // CHUNK_ROWS),
        "complete": False,
        "sha256": None,
    }
    write_record(data, record)
    return record


def _fill(
    source: AnnotationDataset, data: Path, record: dict, workers: int, progress: bool
) -> dict:
    """Decode every chunk not yet recorded, write it in place, record
    its checksum after it is on disk."""
    n, rows = record["shape"][0], record["chunk_rows"]
    spans = [
        (c, c * rows, min(n, (c + 1) * rows))
        for c, digest in enumerate(record["chunks"])
        if digest is None
    ]
    order = [i for _, start, stop in spans for i in range(start, stop)]
    loader = DataLoader(
        Subset(ResizedImages(source, record["identity"]["image_size"]), order),
        batch_size=DECODE_BATCH,
        num_workers=workers,
        collate_fn=_stack,
    )
    decoded = itertools.chain.from_iterable(loader)  # the images of ``order``, one by one
    row_bytes = byte_count(record["shape"][1:])
    bar = tqdm(
        total=n,
        initial=n - len(order),
        desc=f"caching {record['identity']['split']} images",
        unit="img",
        disable=not progress,
    )
    with open(data, "r+b") as f, bar:
        for chunk, start, stop in spans:
            images = np.stack(list(itertools.islice(decoded, stop - start)))
            f.seek(start * row_bytes)
            f.write(images.tobytes())
            f.flush()
            os.fsync(f.fileno())
            record["chunks"][chunk] = hashlib.sha256(images.tobytes()).hexdigest()
            write_record(data, record)
            bar.update(len(images))
    record.update(complete=True, sha256=content_checksum(record["chunks"]))
    write_record(data, record)
    mark_verified(data, record)  # every chunk was hashed as it was written
    return record


def normalisation_table() -> np.ndarray:
    """(3, 256) float32: what ``ToTensor`` then ``Normalize`` make of each uint8 value
    in each channel, by the same ops."""
    values = (
        torch.arange(256, dtype=torch.uint8)
        .to(torch.float32)
        .div(255)
        .expand(3, 1, 256)
        .contiguous()
    )
    from torchvision import transforms  # here: importing torchvision costs every kernel seconds

    return transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(values).reshape(3, 256).numpy()


def normalised(pixels: np.ndarray, table: np.ndarray) -> torch.Tensor:
    """The (3, H, W) float32 input of an (H, W, 3) uint8 image: one table look-up per
    pixel, bit for bit the JPEG path's."""
    out = np.empty((3, *pixels.shape[:2]), dtype=np.float32)
    for channel in range(3):
        # uint8: never out of range; clip skips the check
        np.take(table[channel], pixels[:, :, channel], out=out[channel], mode="clip")
    return torch.from_numpy(out)


class CachedImageDataset(AnnotationDataset):
    """An ``AnnotationDataset`` whose images come from the cache: the
    same (image, tags, labels, row) items.

    ``augment``: a transform of the uint8 (3, H, W) tensor that returns one
    (torchvision v2 transforms take such tensors), applied before normalisation, for
    the augmentations a profile asks for.
    """

    def __init__(
        self,
        index: PreparedIndex,
        data_root: Path,
        split: str,
        image_size: int,
        data: Path,
        identity: dict,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__(index, data_root, split=split, image_size=image_size)
        self.data, self.augment = Path(data), augment
        self.shape = tuple(open_image_cache(self.data, identity)["shape"])
        self.table = normalisation_table()
        self.uint8_items = False  # True: items are the (3, H, W) uint8 pixels, normalised later
        self._images: np.memmap | None = None

    def with_uint8_items(self) -> CachedImageDataset:
        """The same set yielding (3, H, W) uint8 images, for a loader that normalises on the GPU
        (``training.device_images``)."""
        other = copy.copy(self)
        other.uint8_items = True
        return other

    @property
    def images(self) -> np.memmap:
        """The (N, H, W, 3) uint8 memory map, opened in each process on first use."""
        if self._images is None:
            self._images = np.memmap(self.data, dtype=np.uint8, mode="r", shape=self.shape)
        return self._images

    def __getstate__(self) -> dict:
        # loader workers map the file themselves, never copy it
        return {**self.__dict__, "_images": None}

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        pixels = self.images[i]
        if self.augment is not None:
            augmented = self.augment(
                torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
            )
            if augmented.dtype != torch.uint8:
                raise TypeError(
                    "the cache's augmentation must return a uint8 image tensor, got "
                    f"{augmented.dtype}"
                )
            pixels = augmented.numpy().transpose(1, 2, 0)
        if self.uint8_items:
            image = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
        else:
            image = normalised(pixels, self.table)
        return image, self.tags[i], self.labels[i], int(self.rows[i])


@dataclass(frozen=True)
class CacheBuild:
    """How a missing cache is built: ``workers`` decoding processes (None: the ``[loader]`` rule,
    one per spare core on a GPU machine, none on the CPU) and whether a progress bar is shown."""

    workers: int | None = None
    progress: bool = True


def image_dataset(
    index: PreparedIndex,
    data_root: Path,
    split: str,
    image_size: int,
    cache: ImageCacheSettings | None = None,
    work_dir: Path | None = None,
    build: CacheBuild = CacheBuild(),
) -> AnnotationDataset:
    """The images of a split for every image stage: from the cache when ``cache.enabled``
    (built on first use), else the JPEGs.

    ``work_dir``: the work folder (default ``paths.work_dir()``); the cache goes to
    ``<work>/cache/<profile>/``, or under ``cache.folder`` (relative: inside the work folder);
    ``build``: how a missing cache is built.
    """
    jpeg = AnnotationDataset(index, data_root, split=split, image_size=image_size)
    if cache is None or not cache.enabled or len(jpeg) == 0:
        return jpeg
    work = Path(work_dir or paths.work_dir())
    # an absolute folder stays as it is
    folder = work / Path(cache.folder).expanduser() if cache.folder else work / "cache"
    data = cache_file(folder, str(index.meta.get("profile", "default")), split, image_size)
    identity = cache_identity(index, data_root, split, image_size)
    workers = build.workers
    if workers is None:
        workers = LoaderSettings().worker_count("cuda" if torch.cuda.is_available() else "cpu")
    ensure_image_cache(jpeg, identity, data, workers=workers, progress=build.progress)
    return CachedImageDataset(index, data_root, split, image_size, data, identity)
