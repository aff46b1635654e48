"""Scene layout: horizon and ground bands, the background painted
from them, and where objects stand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from annokit.demo.drawing import RGB, Canvas, jitter
from annokit.demo.seeding import _pick

# Ground bands from the horizon down (far to near); "land" bands are where things stand.
GROUND_ORDER = ("ocean", "water", "snow", "grass", "sand", "road")
LAND = ("snow", "grass", "sand", "road")
STANDING = ("tree", "cars", "person", "animal", "flowers", "beach", "sign", "flags")
_BAND_COLOURS: dict[str | None, RGB] = {
    "ocean": (25, 75, 150),
    "water": (70, 140, 165),
    "snow": (236, 240, 250),
    "grass": (75, 140, 55),
    "sand": (222, 203, 150),
    "road": (72, 72, 78),
    None: (118, 92, 66),
}
# Backdrops when there is no sky: muted hues no concept uses.
_WALLS: tuple[RGB, ...] = ((188, 182, 172), (176, 160, 170), (160, 170, 150), (200, 185, 200))
_SKY = {
    "day": ((70, 130, 215), (170, 205, 240)),
    "sunset": ((70, 50, 120), (250, 145, 65)),
    "night": ((35, 45, 95), (70, 80, 130)),
}


@dataclass(frozen=True)
class Layout:
    """Where the sky ends and which ground band covers which rows."""

    horizon: int
    bands: tuple[tuple[str | None, int, int], ...]  # (concept or None for bare soil, y0, y1)
    sky_mode: str
    wall: RGB  # backdrop above the horizon when there is no sky

    def land(self) -> list[tuple[int, int]]:
        """Row ranges things can stand on: land bands (bare soil included), else any ground band."""
        rows = [(y0, y1) for c, y0, y1 in self.bands if c in LAND or c is None]
        return rows or [(y0, y1) for _, y0, y1 in self.bands]

    def wet(self) -> list[tuple[int, int]]:
        """Row ranges of ocean and water bands."""
        return [(y0, y1) for c, y0, y1 in self.bands if c in ("ocean", "water")]


def plan_layout(labels: Sequence[str], size: int, rng: np.random.Generator) -> Layout:
    """Choose the horizon and split the ground below it among the ground concepts present."""
    present = set(labels)
    grounds: list[str | None] = [c for c in GROUND_ORDER if c in present]
    if present & set(STANDING) and grounds and not present & set(LAND):
        grounds.append(None)  # bare soil in front, so people and cars do not stand on water
    if "sky" in present or "buildings" in present:
        horizon = round(size * rng.uniform(0.38, 0.62))
    elif grounds:
        horizon = 0  # a close-up of the ground fills the frame
    else:
        horizon = round(size * rng.uniform(0.4, 0.6))
    sky_mode = "night" if "nighttime" in present else "sunset" if "sunset" in present else "day"
    return Layout(
        horizon, split_bands(grounds or [None], horizon, size, rng), sky_mode, _pick(_WALLS, rng)
    )


def split_bands(
    grounds: Sequence[str | None], top: int, size: int, rng: np.random.Generator
) -> tuple:
    """Contiguous bands over rows [top, size), one per ground, each at least one row tall."""
    weights = rng.uniform(0.6, 1.4, size=len(grounds))
    edges = top + np.round(
        np.cumsum(np.concatenate(([0.0], weights))) / weights.sum() * (size - top)
    ).astype(int)
    for k in range(1, len(edges)):
        edges[k] = max(edges[k], edges[k - 1] + 1)
    edges[-1] = size
    for k in range(
        len(edges) - 2, 0, -1
    ):  # give rows back from the bottom if the floor pushed past
        edges[k] = min(edges[k], edges[k + 1] - 1)
    return tuple((g, int(edges[k]), int(edges[k + 1])) for k, g in enumerate(grounds))


def paint_background(canvas: Canvas, layout: Layout, labels: Sequence[str]) -> None:
    """Sky gradient (or a plain wall) above the horizon and textured ground bands below it."""
    size, rng = canvas.size, canvas.rng
    pixels = np.empty((size, size, 3), dtype=float)
    h = layout.horizon
    if h > 0:
        if "sky" in labels:
            top, bottom = (np.array(jitter(c, rng, 15), dtype=float) for c in _SKY[layout.sky_mode])
            t = np.linspace(0.0, 1.0, h)[:, None]
            pixels[:h] = (top * (1 - t) + bottom * t)[:, None, :]
        else:
            pixels[:h] = jitter(layout.wall, rng)
    for concept, y0, y1 in layout.bands:
        base = np.array(jitter(_BAND_COLOURS[concept], rng, 14), dtype=float)
        # Row-wise shading gives each band a texture rather than a flat fill.
        shade = rng.normal(0.0, 6.0, size=(y1 - y0, 1, 1))
        pixels[y0:y1] = base + shade
    canvas.set_pixels(pixels)
    if "sky" in labels and h > 0:
        canvas.annotate("sky", 0, 0, size, h)
        if "sunset" in labels:
            canvas.annotate("sunset", 0, 0, size, h)
    for concept, y0, y1 in layout.bands:
        if concept is not None:
            canvas.annotate(concept, 0, y0, size, y1)


def _base_y(canvas: Canvas, ranges: list[tuple[int, int]]) -> int:
    """A row inside one of ``ranges`` for an object's foot."""
    y0, y1 = _pick(ranges, canvas.rng)
    return int(canvas.rng.integers(y0, y1))


def _perspective(canvas: Canvas, layout: Layout, y: int) -> float:
    """Objects nearer the bottom are drawn larger."""
    depth = (y - layout.horizon) / max(1, canvas.size - layout.horizon)
    return 0.7 + 0.6 * float(np.clip(depth, 0.0, 1.0))


def draw_texture_details(canvas: Canvas, layout: Layout) -> None:
    """Wave crests on the ocean, reflections on water, lane markings on roads, grass blades."""
    d, rng, s = canvas.draw, canvas.rng, canvas.size
    for concept, y0, y1 in layout.bands:
        n = max(2, (y1 - y0) * s // 90)
        if concept == "ocean":
            for _ in range(n):
                x, y, w = rng.integers(0, s), rng.integers(y0, y1), canvas.px(canvas.u(0.04, 0.1))
                d.line(
                    [(int(x), int(y)), (int(x) + w, int(y))],
                    fill=jitter((235, 240, 250), rng, 10),
                    width=1,
                )
        elif concept == "water":
            for _ in range(n // 2 + 1):
                x, y, w = rng.integers(0, s), rng.integers(y0, y1), canvas.px(canvas.u(0.1, 0.25))
                d.line(
                    [(int(x), int(y)), (int(x) + w, int(y))],
                    fill=jitter((150, 200, 215), rng, 10),
                    width=1,
                )
        elif concept == "road":
            y = (y0 + y1) // 2
            dash, colour = (
                canvas.px(0.06),
                jitter((235, 225, 120) if rng.random() < 0.5 else (240, 240, 240), rng, 10),
            )
            for x in range(int(rng.integers(0, dash)), s, 2 * dash):
                d.line([(x, y), (x + dash - 1, y)], fill=colour, width=canvas.line)
        elif concept == "grass":
            for _ in range(n):
                x, y = int(rng.integers(0, s)), int(rng.integers(y0, y1))
                d.line(
                    [(x, y), (x, y - canvas.px(0.03))], fill=jitter((45, 105, 35), rng, 12), width=1
                )
