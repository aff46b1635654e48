"""The one way the kit decodes an image file into the 8-bit RGB picture that training, the cache
and ``verify --deep`` see, and the errors that name the file when it cannot.

8-bit modes (RGB, L, P, RGBA, CMYK, …) go through ``Image.convert("RGB")`` unchanged. Modes with
more than 8 bits per pixel are scaled to 8 bits, never clipped:

- ``I;16`` (16-bit grey, e.g. a 16-bit PNG): value × 255 / 65535, rounded;
- ``I`` (32-bit integer): taken as 16-bit, the same scaling, when every value is in 0…65535;
  other values are refused (their range has no agreed meaning);
- ``F`` (32-bit float): taken as 0…1, value × 255 rounded, when every value is finite and in
  0…1; other values are refused.

An image over ``ANNOKIT_MAX_IMAGE_PIXELS`` pixels (default: Pillow's ``Image.MAX_IMAGE_PIXELS``,
89,478,485) is refused, naming the file, its size and how to raise the limit.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from annokit.cli import worker_message

MAX_PIXELS_VARIABLE = "ANNOKIT_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own default (1024 × 1024 × 1024 // 4 // 3)
TOO_LARGE = "too large"  # how verify's reason for an image over the limit starts
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
# The kit raises its own named error for images over the limit; Pillow's bare warning adds nothing.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageDecodeError(RuntimeError):
    """An image file that cannot become an 8-bit RGB picture; the message names it and the fix.

    ``reason`` is the short cause for ``verify``'s list. Re-raised from a loader worker (which
    passes the whole worker traceback as the message), it keeps only the kit's own message.
    """

    kind = "undecodable"

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(worker_message(message))
        self.reason = reason or self.args[0][:60]


class ImageTooLargeError(ImageDecodeError):
    """An image over the pixel limit (Pillow's decompression-bomb guard)."""

    kind = "too large"


def max_image_pixels() -> int:
    """The kit's pixel limit: ``$ANNOKIT_MAX_IMAGE_PIXELS``, else Pillow's default; also set as
    ``Image.MAX_IMAGE_PIXELS`` so Pillow's own guard agrees."""
    text = os.environ.get(MAX_PIXELS_VARIABLE, "").strip()
    if not text:
        limit = DEFAULT_MAX_PIXELS
    elif text.isdigit() and int(text) > 0:
        limit = int(text)
    else:
        raise ValueError(
            f"${MAX_PIXELS_VARIABLE}={text!r} is not a whole number of pixels: give one, e.g. "
            f"{MAX_PIXELS_VARIABLE}=200000000"
        )
    Image.MAX_IMAGE_PIXELS = limit
    return limit


def too_large(path: Path, pixels: int | None, limit: int) -> ImageTooLargeError:
    """The error for an image over the pixel limit: the file, its size, the limit and the fix."""
    size = f"{pixels:,} pixels" if pixels else "more than twice the limit"
    return ImageTooLargeError(
        f"image {path} is too large ({size}; the limit is {limit:,}): if the file is genuine, "
        f"raise the limit with the environment variable {MAX_PIXELS_VARIABLE}=<pixels>",
        reason=f"{TOO_LARGE}: {size}, limit {limit:,}",
    )


def to_rgb(image: Image.Image, path: Path | str = "") -> Image.Image:
    """The 8-bit RGB picture of a decoded image, high-bit-depth modes scaled (module docstring)."""
    if image.mode in SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
        values = np.asarray(image)
        if image.mode == "F":
            finite = np.isfinite(values).all()
            if not finite or values.size and (values.min() < 0 or values.max() > 1):
                raise _unsupported(path, "32-bit float", "values outside 0…1", values, finite)
            grey = np.rint(values.astype(np.float64) * 255)
        else:
            if image.mode == "I" and values.size and (values.min() < 0 or values.max() > 65535):
                raise _unsupported(path, "32-bit integer", "values outside 0…65535", values)
            grey = (values.astype(np.int64) * 255 + 32767) // 65535
        return Image.fromarray(grey.astype(np.uint8), "L").convert("RGB")
    return image.convert("RGB")


def _unsupported(
    path: Path | str, what: str, problem: str, values: np.ndarray, finite: bool = True
) -> ImageDecodeError:
    """The error for a high-bit-depth image whose values have no agreed 8-bit meaning."""
    found = f"{values.min()}…{values.max()}" if finite else "non-finite values"
    return ImageDecodeError(
        f"image {path} is a {what} image with {problem} ({found}): the kit cannot map it to "
        "8 bits without guessing; convert it to an 8-bit RGB image (e.g. JPEG or PNG)",
        reason=f"{what} image, {problem}",
    )


def decode_rgb(path: Path) -> Image.Image:
    """Open, decode in full and convert one image file; every failure is an ``ImageDecodeError``
    naming the file (a missing file stays a ``FileNotFoundError``)."""
    limit = max_image_pixels()
    try:
        with Image.open(path) as image:
            pixels = image.size[0] * image.size[1]
            if pixels > limit:
                raise too_large(path, pixels, limit)
            image.load()
            return to_rgb(image, path)
    except (FileNotFoundError, ImageDecodeError):
        raise
    except Image.DecompressionBombError as error:
        found = re.search(r"\((\d+) pixels\)", str(error))
        raise too_large(path, int(found.group(1)) if found else None, limit) from None
    except UnidentifiedImageError as error:
        raise ImageDecodeError(_decode_message(path, error), reason="not an image") from None
    except (OSError, SyntaxError, ValueError, TypeError, MemoryError) as error:
        text = " ".join(str(error).split()) or type(error).__name__
        raise ImageDecodeError(
            _decode_message(path, error), reason=text.split(" (")[0][:60]
        ) from None


def _decode_message(path: Path, error: BaseException) -> str:
    return (
        f"image {path} cannot be decoded ({error}): replace the file with a valid copy; "
        "`python -m annokit.data.manifest verify --deep` lists every such file"
    )
