"""The decoded-image cache: same items as the JPEG path, resumable
build, stale and damaged files caught."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from annokit.bench.synthetic import write_synthetic_jpegs
from annokit.data import image_cache
from annokit.data.annotation_table import TRAIN
from annokit.data.cache_record import (
    ImageCacheError,
    cache_file,
    cache_identity,
    read_record,
    sidecar_of,
)
from annokit.data.dataset import AnnotationDataset
from annokit.data.image_cache import CacheBuild, CachedImageDataset, image_dataset
from annokit.profile import ImageCacheSettings

SIZE = 24
ON = ImageCacheSettings(enabled=True)


@pytest.fixture()
def source(tmp_path):
    """Eleven 40×30 JPEGs (three chunks of four rows) and the folders for data and work."""
    data_root = tmp_path / "data"
    return write_synthetic_jpegs(data_root, 11, size=(40, 30)), data_root, tmp_path / "work"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(image_cache, "CHUNK_ROWS", 4)
    monkeypatch.setattr(image_cache, "DECODE_BATCH", 2)


def build(index, data_root, work, workers=0):
    return image_dataset(
        index, data_root, TRAIN, SIZE, ON, work, CacheBuild(workers=workers, progress=False)
    )


def test_cached_items_equal_the_jpeg_path(source):
    index, data_root, work = source
    cached = build(index, data_root, work)
    jpeg = AnnotationDataset(index, data_root, split=TRAIN, image_size=SIZE)
    assert isinstance(cached, CachedImageDataset) and len(cached) == len(jpeg) == 11
    data = cache_file(work / "cache", "bench", TRAIN, SIZE)
    assert data.stat().st_size == 11 * SIZE * SIZE * 3
    for i in (0, 5, 10):
        (a, tags_a, labels_a, row_a), (b, tags_b, labels_b, row_b) = cached[i], jpeg[i]
        assert a.dtype == b.dtype == torch.float32 and a.shape == b.shape == (3, SIZE, SIZE)
        assert torch.equal(a, b)  # same resize, same ToTensor and normalisation: bit for bit
        assert torch.equal(tags_a, tags_b) and torch.equal(labels_a, labels_b) and row_a == row_b


def test_uint8_batches_normalised_on_the_device_equal_the_cpu_path_bit_for_bit(source):
    from torch.utils.data import DataLoader

    from annokit.training.device_images import for_device, normalise_on_device
    from annokit.training.epoch import to_device

    index, data_root, work = source
    cached = build(index, data_root, work)
    assert for_device(cached, "cpu") is cached  # the CPU keeps normalising in the loader
    raw = cached.with_uint8_items()
    assert not cached.uint8_items  # a copy: the original set still yields float32
    image, tags, labels, row = raw[3]
    assert image.dtype == torch.uint8 and image.shape == (3, SIZE, SIZE)
    floats = next(iter(DataLoader(cached, batch_size=11)))
    pixels = next(iter(DataLoader(raw, batch_size=11)))
    assert torch.equal(normalise_on_device(pixels[0]), floats[0])
    moved = to_device(pixels, torch.device("cpu"), channels_last=True)
    assert moved[0].dtype == torch.float32 and torch.equal(moved[0], floats[0])
    assert moved[0].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(moved[2], floats[2])  # labels untouched


def test_cache_off_gives_the_jpeg_dataset(source):
    index, data_root, work = source
    plain = image_dataset(index, data_root, TRAIN, SIZE, ImageCacheSettings(), work)
    assert type(plain) is AnnotationDataset and not (work / "cache").exists()


def test_loader_workers_read_the_memory_map(source):
    index, data_root, work = source
    cached = build(index, data_root, work)
    cached[0]  # the parent's map must not travel to the workers
    batches = list(torch.utils.data.DataLoader(cached, batch_size=4, num_workers=2))
    assert torch.equal(
        torch.cat([b[0] for b in batches]), torch.stack([cached[i][0] for i in range(len(cached))])
    )


def test_augmentation_runs_on_the_cached_pixels(source):
    index, data_root, work = source
    build(index, data_root, work)
    data = cache_file(work / "cache", "bench", TRAIN, SIZE)
    flipped = CachedImageDataset(
        index,
        data_root,
        TRAIN,
        SIZE,
        data,
        read_record(data)["identity"],
        augment=v2.RandomHorizontalFlip(p=1.0),
    )
    plain = CachedImageDataset(index, data_root, TRAIN, SIZE, data, read_record(data)["identity"])
    assert torch.equal(flipped[3][0], plain[3][0].flip(-1))


def test_an_interrupted_build_resumes_where_it_stopped(source, monkeypatch):
    index, data_root, work = source
    decoded = []
    real = image_cache.ResizedImages.__getitem__

    def counting(self, i):
        if i == 9 and not decoded.count(-1):
            decoded.append(-1)
            raise KeyboardInterrupt  # an interruption in the third chunk
        decoded.append(i)
        return real(self, i)

    monkeypatch.setattr(image_cache.ResizedImages, "__getitem__", counting)
    with pytest.raises(KeyboardInterrupt):
        build(index, data_root, work)
    data = cache_file(work / "cache", "bench", TRAIN, SIZE)
    record = read_record(data)
    assert not record["complete"] and [c is not None for c in record["chunks"]] == [
        True,
        True,
        False,
    ]
    decoded.clear()
    decoded.append(-1)  # no second interruption
    resumed = build(index, data_root, work)
    assert decoded[1:] == [8, 9, 10]  # only the unfinished chunk was decoded again
    fresh_work = work.parent / "fresh"
    fresh = build(index, data_root, fresh_work)
    assert np.array_equal(resumed.images, fresh.images)
    assert (
        read_record(data)["sha256"]
        == read_record(cache_file(fresh_work / "cache", "bench", TRAIN, SIZE))["sha256"]
    )


def test_a_cache_of_other_settings_is_rebuilt(source, capsys):
    index, data_root, work = source
    build(index, data_root, work)
    changed = replace(index, meta={**index.meta, "fingerprint": "another index"})
    cached = build(changed, data_root, work)
    assert (
        "was built from other settings (index_fingerprint differ): rebuilding it"
        in capsys.readouterr().out
    )
    assert read_record(cached.data)["identity"]["index_fingerprint"] == "another index"
    with pytest.raises(ImageCacheError, match="index_fingerprint differ.*rebuild"):
        CachedImageDataset(
            index,
            data_root,
            TRAIN,
            SIZE,
            cached.data,
            cache_identity(index, data_root, TRAIN, SIZE),
        )


def test_a_damaged_cache_is_refused_with_the_fix(source):
    index, data_root, work = source
    data = build(index, data_root, work).data
    with open(data, "r+b") as f:
        f.seek(5 * SIZE * SIZE * 3 + 7)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ImageCacheError) as error:
        build(index, data_root, work)
    message = str(error.value)
    assert (
        "\n" not in message
        and str(data) in message
        and "checksum mismatch in images 4-7" in message
    )
    assert f"delete {data} and {sidecar_of(data).name}" in message
    with open(data, "r+b") as f:
        f.truncate(100)
    with pytest.raises(ImageCacheError, match="is damaged \\(100 bytes"):
        build(index, data_root, work)


def test_a_resumed_build_checks_the_chunks_written_before_the_interruption(source, monkeypatch):
    index, data_root, work = source
    real = image_cache.ResizedImages.__getitem__
    interrupted = []

    def stopping(self, i):
        if i == 9 and not interrupted:
            interrupted.append(i)
            raise KeyboardInterrupt
        return real(self, i)

    monkeypatch.setattr(image_cache.ResizedImages, "__getitem__", stopping)
    with pytest.raises(KeyboardInterrupt):
        build(index, data_root, work)
    data = cache_file(work / "cache", "bench", TRAIN, SIZE)
    with open(data, "r+b") as f:  # damage image 1 (chunk 0) while nothing runs
        f.seek(SIZE * SIZE * 3)
        f.write(b"\0" * SIZE * SIZE * 3)
    resumed = build(index, data_root, work)
    jpeg = AnnotationDataset(index, data_root, split=TRAIN, image_size=SIZE)
    assert torch.equal(resumed[1][0], jpeg[1][0])  # decoded again, not served as zeros
