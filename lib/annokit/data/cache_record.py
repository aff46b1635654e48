"""The decoded-image cache's files and record: where a cache lives, what it is made from, and the
checks that refuse a stale, half-built or damaged one, naming the file and the fix.

``<split>_<size>.json`` beside a cache file records its shape, its identity (what built it) and a
SHA-256 per chunk of rows; ``verify`` compares the file with it, once per process and file state.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import PIL

from annokit.atomic import atomic_write_text
from annokit.data.index import PreparedIndex

# 2: images with more than 8 bits per pixel scaled to 8 bits (data.image_decode), not clipped
CACHE_FORMAT = 2
RESIZE_RULE = (
    "torchvision Resize((size, size)) of the RGB PIL image: bilinear, antialiased "
    "(data.dataset.default_transform)"
)
# (file, size, mtime, checksum) whose content this process has checked
_verified: set[tuple] = set()


class ImageCacheError(RuntimeError):
    """An image cache that cannot be used as it is; the message names the file and the fix."""


def cache_file(folder: Path, profile: str, split: str, image_size: int) -> Path:
    """``<folder>/<profile>/<split>_<size>.u8``."""
    return Path(folder) / profile / f"{split}_{image_size}.u8"


def sidecar_of(data: Path) -> Path:
    """The JSON record beside a cache file."""
    return Path(data).with_suffix(".json")


def cache_identity(index: PreparedIndex, data_root: Path, split: str, image_size: int) -> dict:
    """What a cache is made from: a cache whose record differs in any of these is rebuilt."""
    rows = np.ascontiguousarray(index.rows(split), dtype=np.int64)
    return {
        "format": CACHE_FORMAT,
        "index_fingerprint": index.meta.get("fingerprint"),
        "split": split,
        "rows": hashlib.sha256(rows.tobytes()).hexdigest(),
        "count": len(rows),
        "data_root": str(Path(data_root).resolve()),
        "image_size": int(image_size),
        "resize": RESIZE_RULE,
        "pillow": PIL.__version__,
    }


def read_record(data: Path) -> dict | None:
    """The sidecar of ``data``, or None when it is missing or
    unreadable (then the cache is built anew)."""
    try:
        return json.loads(sidecar_of(data).read_text())
    except (OSError, ValueError):
        return None


def write_record(data: Path, record: dict) -> None:
    """Replace the sidecar of ``data`` in one step."""
    atomic_write_text(json.dumps(record, indent=1), sidecar_of(data))


def content_checksum(chunks: list[str]) -> str:
    """The checksum of the whole content, from the checksums of its chunks."""
    return hashlib.sha256("".join(chunks).encode()).hexdigest()


def byte_count(shape: list[int]) -> int:
    """Bytes of a uint8 array of ``shape``."""
    return int(np.prod(shape))


def size_of(data: Path) -> int:
    """The file's size in bytes, -1 when it is missing."""
    try:
        return data.stat().st_size
    except FileNotFoundError:
        return -1


def file_state(data: Path, record: dict) -> tuple:
    """What ``verify`` remembers a checked file by: path, size, mtime, recorded checksum."""
    info = data.stat()
    return str(data), info.st_size, info.st_mtime_ns, record["sha256"]


def verify(data: Path, record: dict) -> None:
    """Refuse a cache file whose size or content differs from its record
    (once per process and file state)."""
    fix = (
        f"delete {data} and {sidecar_of(data).name} beside it, then run the stage again to "
        "rebuild the cache"
    )
    size = size_of(data)
    if size != byte_count(record["shape"]):
        raise ImageCacheError(
            f"image cache {data} is damaged ({size} bytes, its record says "
            f"{byte_count(record['shape'])}): {fix}"
        )
    key = file_state(data, record)
    if key in _verified:
        return
    if content_checksum(record["chunks"]) != record["sha256"]:
        raise ImageCacheError(
            f"image cache record {sidecar_of(data)} is damaged (its checksums disagree): {fix}"
        )
    chunk_bytes = record["chunk_rows"] * byte_count(record["shape"][1:])
    with open(data, "rb") as f:
        for chunk, expected in enumerate(record["chunks"]):
            if hashlib.sha256(f.read(chunk_bytes)).hexdigest() != expected:
                first = chunk * record["chunk_rows"]
                raise ImageCacheError(
                    f"image cache {data} is damaged (checksum mismatch in images {first}-"
                    f"{min(record['shape'][0], first + record['chunk_rows']) - 1}): {fix}"
                )
    _verified.add(key)


def damaged_chunks(data: Path, record: dict) -> list[int]:
    """The chunks recorded as written whose bytes on disk no longer match their checksum."""
    chunk_bytes = record["chunk_rows"] * byte_count(record["shape"][1:])
    damaged = []
    with open(data, "rb") as f:
        for chunk, expected in enumerate(record["chunks"]):
            if expected is None:
                continue
            f.seek(chunk * chunk_bytes)
            if hashlib.sha256(f.read(chunk_bytes)).hexdigest() != expected:
                damaged.append(chunk)
    return damaged


def open_image_cache(data: Path, identity: dict) -> dict:
    """The record of a finished, intact cache built with ``identity``;
    anything else is an ``ImageCacheError``."""
    record = read_record(Path(data))
    if record is None:
        raise ImageCacheError(
            f"image cache {data} has no readable record {sidecar_of(data).name}: set [cache] "
            "enabled = true and run the stage to build it (delete a half-written "
            f"{Path(data).name} first)"
        )
    if record.get("identity") != identity:
        changed = sorted(k for k in identity if record.get("identity", {}).get(k) != identity[k])
        raise ImageCacheError(
            f"image cache {data} was built from other settings ({', '.join(changed)} differ): "
            f"run the stage with [cache] enabled to rebuild it, or delete the file"
        )
    if not record["complete"]:
        built = sum(digest is not None for digest in record["chunks"])
        raise ImageCacheError(
            f"image cache {data} is half built ({built} of {len(record['chunks'])} chunks): "
            f"run the stage again with [cache] enabled to finish it"
        )
    verify(Path(data), record)
    return record


def mark_verified(data: Path, record: dict) -> None:
    """Record that this process has checked the content of ``data`` in its current state."""
    _verified.add(file_state(data, record))
