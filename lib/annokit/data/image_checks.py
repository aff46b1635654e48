"""Checks of the image files a split lists: which are missing, which fail
to decode, and the report lines."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from annokit.data.annotation_table import AnnotationTable
from annokit.data.image_decode import (
    MAX_PIXELS_VARIABLE,
    TOO_LARGE,
    ImageDecodeError,
    decode_rgb,
)

SKIP_ADVICE = "--on-missing skip (papermill parameter on_missing='skip')"
LISTED = 10  # problem files named in a message; the count gives the rest
# Images handed to the decoding threads at a time (bounds the queued work, paces the progress bar).
DECODE_CHUNK = 512


def find_missing_images(root: Path, table: AnnotationTable) -> list[str]:
    """Paths of the table whose image file is absent under root."""
    return [p for p in table.paths if not (root / p).is_file()]


def describe_missing(missing: list[str], policy: str) -> str:
    """The report line for absent image files: count, the first paths, what happens and the fix."""
    first = ", ".join(missing[:LISTED])
    if policy == "stop":
        action = f"stopping: restore them, or leave them out with {SKIP_ADVICE}"
    else:
        action = "left out of the index as asked (--on-missing skip)"
    return f"{len(missing)} image file(s) missing, first: {first}; {action}"


def decode_error(path: Path) -> str | None:
    """Why an image file cannot become the 8-bit RGB picture training sees (None when it can)."""
    try:
        decode_rgb(path)
    except ImageDecodeError as error:
        return error.reason
    except Exception as error:  # noqa: BLE001 (any failure of the decoder is a bad file)
        text = " ".join(str(error).split()) or type(error).__name__
        return text.split(" (")[0][:60]
    return None


def find_undecodable_images(
    root: Path, image_paths: list[str], progress: bool = True
) -> dict[str, str]:
    """Decode every image (in threads); returns path -> reason for
    those that fail, in the given order."""
    root = Path(root)
    bad: dict[str, str] = {}
    with (
        ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool,
        tqdm(
            total=len(image_paths),
            desc="decoding images",
            unit="image",
            disable=not progress,
            leave=False,
        ) as bar,
    ):
        for start in range(0, len(image_paths), DECODE_CHUNK):
            chunk = list(image_paths[start : start + DECODE_CHUNK])
            bad.update(
                (p, reason)
                for p, reason in zip(chunk, pool.map(decode_error, [root / p for p in chunk]))
                if reason
            )
            bar.update(len(chunk))
    return bad


def describe_undecodable(bad: dict[str, str], policy: str) -> str:
    """The report line for images that fail to decode: count, the first paths with why, and the
    fix; images over the pixel limit are their own kind, with the limit's fix."""
    large = {p: r for p, r in bad.items() if r.startswith(TOO_LARGE)}
    broken = {p: r for p, r in bad.items() if p not in large}
    if policy == "stop":
        action = (
            "stopping: re-copy those files from the original image archive (demo: delete the demo "
            f"folder so it is generated again), or leave them out with {SKIP_ADVICE}"
        )
    else:
        action = "left out of the index as asked (--on-missing skip)"
    parts = []
    if broken:
        parts.append(
            f"{len(broken)} image file(s) cannot be decoded (truncated, not images or of an "
            f"unsupported kind), first: {_listed(broken)}"
        )
    if large:
        parts.append(
            f"{len(large)} image file(s) are over the pixel limit, first: {_listed(large)} "
            f"(if they are genuine, raise the limit with {MAX_PIXELS_VARIABLE}=<pixels>)"
        )
    return f"{'; '.join(parts)}; {action}"


def _listed(bad: dict[str, str]) -> str:
    """The first paths of ``bad`` with why."""
    return ", ".join(f"{path} ({reason})" for path, reason in list(bad.items())[:LISTED])
