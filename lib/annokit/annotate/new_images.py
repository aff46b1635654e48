"""The images ``annokit annotate`` reads: files, folders of images, or a CSV naming them, decoded
and resized exactly as a run's test images are (``data.image_decode.decode_rgb``, then
``data.dataset.default_transform`` at the profile's image size).

A CSV has a column ``image`` (a path, relative to the CSV's folder) and optionally ``tags`` (the
image's noisy tags, space-separated), which M3's tags branch reads.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from annokit.data.dataset import default_transform
from annokit.data.image_decode import ImageDecodeError, decode_rgb

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")
IMAGE_COLUMN, TAGS_COLUMN = "image", "tags"


@dataclass(frozen=True)
class NewImage:
    """One image to annotate: its name as the user gave it, where it is, its tags (None: not
    given)."""

    name: str
    path: Path
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LeftOut:
    """An image that could not be annotated and why (missing, not an image, truncated, ...)."""

    name: str
    reason: str


def images_in_folder(folder: Path) -> list[NewImage]:
    """The image files under ``folder`` (sub-folders too, hidden ones skipped), sorted by path."""
    found = [
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    return [NewImage(str(path), path) for path in sorted(found)]


def read_image_csv(path: Path) -> list[NewImage]:
    """The rows of a CSV with columns ``image`` and optionally ``tags``; paths relative to it."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        if IMAGE_COLUMN not in columns:
            raise ValueError(
                f"{path} has no column {IMAGE_COLUMN!r} (its header: {', '.join(columns) or 'none'}"
                f"): name the column of image paths {IMAGE_COLUMN!r}, and the optional noisy tags "
                f"{TAGS_COLUMN!r} (space-separated)"
            )
        rows = [row for row in reader if (row.get(IMAGE_COLUMN) or "").strip()]
    has_tags = TAGS_COLUMN in columns
    return [
        NewImage(
            name=row[IMAGE_COLUMN].strip(),
            path=path.parent / row[IMAGE_COLUMN].strip(),
            tags=tuple((row.get(TAGS_COLUMN) or "").split()) if has_tags else None,
        )
        for row in rows
    ]


def read_file_list(path: Path) -> list[str]:
    """One path per line (blank lines and ``#`` comments skipped), relative to the list's folder."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        str(path.parent / line.strip())
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
    ]


def collect_images(paths: Sequence[str], csv_file: Path | None = None) -> list[NewImage]:
    """Every image named by ``paths`` (files or folders) and by ``csv_file``, each once, in the
    order given; a folder without images, or nothing at all, is an error naming what was read."""
    found: list[NewImage] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = images_in_folder(path)
            if not inside:
                raise FileNotFoundError(
                    f"no images found in {path} (looked for {', '.join(IMAGE_SUFFIXES)} files, "
                    "sub-folders too): give a folder of images, image files, or --csv FILE"
                )
            found.extend(inside)
        else:
            found.append(NewImage(str(given), path))
    if csv_file is not None:
        listed = read_image_csv(Path(csv_file))
        if not listed:
            raise ValueError(f"{csv_file} lists no image: give one image path per row")
        found.extend(listed)
    if not found:
        raise ValueError(
            "no images given: name image files or folders of images (annokit annotate ... "
            "IMAGES...), or a CSV with --csv FILE"
        )
    return list(_once(found))


def _once(images: Iterable[NewImage]) -> Iterator[NewImage]:
    seen: set[Path] = set()
    for image in images:
        key = image.path.resolve()
        if key not in seen:
            seen.add(key)
            yield image


def decode_batch(
    images: Sequence[NewImage], image_size: int
) -> tuple[torch.Tensor, list[NewImage], list[LeftOut]]:
    """The batch (N, 3, S, S) of the images that decode, those images, and the ones left out."""
    transform = default_transform(image_size)
    tensors, kept, left_out = [], [], []
    for image in images:
        try:
            tensors.append(transform(decode_rgb(image.path)))
        except FileNotFoundError:
            left_out.append(LeftOut(image.name, "missing"))
            continue
        except IsADirectoryError:
            left_out.append(LeftOut(image.name, "a folder without images"))
            continue
        except ImageDecodeError as error:
            left_out.append(LeftOut(image.name, error.reason))
            continue
        kept.append(image)
    batch = torch.stack(tensors) if tensors else torch.empty(0, 3, image_size, image_size)
    return batch, kept, left_out


def left_out_line(left_out: Sequence[LeftOut], total: int) -> str:
    """One line naming every image left out and why."""
    names = "; ".join(f"{item.name} ({item.reason})" for item in left_out)
    return f"{len(left_out)} of {total} images could not be read or decoded, left out: {names}"
