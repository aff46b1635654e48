"""The drawing canvas: colour jitter, the Canvas primitives and
the Instance records they annotate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]  # COCO bbox: x, y, width, height


@dataclass(frozen=True)
class Instance:
    """One annotated region of a rendered image."""

    concept: str
    bbox: Box


def jitter(colour: RGB, rng: np.random.Generator, amount: int = 18) -> RGB:
    """A colour randomly shifted per channel, so no concept has one exact colour."""
    shifted = np.clip(np.array(colour) + rng.integers(-amount, amount + 1, size=3), 0, 255)
    return (int(shifted[0]), int(shifted[1]), int(shifted[2]))


def _ordered(box: Sequence[float]) -> list[float]:
    x0, y0, x1, y1 = box
    return [x0, y0, max(x0, x1), max(y0, y1)]


class Canvas:
    """An image being drawn, with the instances drawn so far and the emissive lights for night."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = size
        self.rng = rng
        self.image = Image.new("RGB", (size, size))
        self.draw = ImageDraw.Draw(self.image)
        self.instances: list[Instance] = []
        self.lights: list[Callable[[], None]] = []  # drawn after night darkening
        self.line = max(1, round(size / 64))

    def px(self, fraction: float) -> int:
        """A length given as a fraction of the image side, in pixels (at least 1)."""
        return max(1, round(fraction * self.size))

    def u(self, low: float, high: float) -> float:
        """A uniform draw."""
        return float(self.rng.uniform(low, high))

    def annotate(self, concept: str, x0: float, y0: float, x1: float, y1: float) -> None:
        """Record an instance whose pixels span [x0, x1) × [y0, y1), clipped to the image."""
        x0, y0 = max(0.0, float(x0)), max(0.0, float(y0))
        x1, y1 = min(float(self.size), float(x1)), min(float(self.size), float(y1))
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            self.instances.append(Instance(concept, (x0, y0, x1 - x0, y1 - y0)))

    def rect(self, box: Sequence[float], fill: RGB, outline: RGB | None = None) -> None:
        """Draw a rectangle, tolerating boxes that collapsed to less than a pixel at small sizes."""
        self.draw.rectangle(_ordered(box), fill=fill, outline=outline)

    def ellipse(self, box: Sequence[float], fill: RGB, outline: RGB | None = None) -> None:
        """Draw an ellipse, tolerating collapsed boxes like ``rect``."""
        self.draw.ellipse(_ordered(box), fill=fill, outline=outline)

    def set_pixels(self, array: np.ndarray) -> None:
        """Replace the image by ``array`` (H×W×3 float), keeping the drawing handle valid."""
        self.image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")
        self.draw = ImageDraw.Draw(self.image)
