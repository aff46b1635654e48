"""Drawing what appears in the sky: sun, moon, clouds, birds and stars."""

from __future__ import annotations

from annokit.demo.drawing import Canvas, jitter
from annokit.demo.layout import Layout


def _sky_point(
    canvas: Canvas, layout: Layout, low: float = 0.1, high: float = 0.8
) -> tuple[int, int]:
    x = canvas.px(canvas.u(0.08, 0.92))
    y = int(layout.horizon * canvas.u(low, high))
    return x, y


def draw_sun(canvas: Canvas, layout: Layout, sunset: bool) -> None:
    """A bright disc, low and orange at sunset."""
    x, y = (
        _sky_point(canvas, layout, 0.55, 0.85) if sunset else _sky_point(canvas, layout, 0.1, 0.6)
    )
    r = max(1, canvas.px(canvas.u(0.045, 0.08)))
    colour = jitter((255, 150, 50) if sunset else (255, 238, 130), canvas.rng, 8)
    canvas.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    canvas.annotate("sun", x - r, y - r, x + r + 1, y + r + 1)


def draw_moon(canvas: Canvas, layout: Layout) -> None:
    """A pale disc, sometimes a crescent, drawn as a light so night does not dim it."""
    x, y = _sky_point(canvas, layout, 0.15, 0.6)
    r = max(1, canvas.px(canvas.u(0.04, 0.07)))
    crescent = canvas.rng.random() < 0.5
    glow = jitter((240, 238, 215), canvas.rng, 8)

    def paint() -> None:
        canvas.ellipse([x - r, y - r, x + r, y + r], fill=glow)
        if crescent:
            sky = canvas.image.getpixel((min(canvas.size - 1, x + r + 1), y))
            canvas.ellipse([x - r + r // 2 + 1, y - r, x + r + r // 2 + 1, y + r], fill=sky)

    canvas.lights.append(paint)
    canvas.annotate("moon", x - r, y - r, x + r + 1, y + r + 1)


def draw_clouds(canvas: Canvas, layout: Layout) -> None:
    """One to three clusters of white ellipses in the sky."""
    rng = canvas.rng
    for _ in range(int(rng.integers(1, 4))):
        x, y = _sky_point(canvas, layout, 0.1, 0.7)
        w = canvas.px(canvas.u(0.14, 0.28))
        hgt = max(1, round(w * canvas.u(0.3, 0.45)))
        white = jitter((242, 242, 246), rng, 8)
        parts = [
            (x, y, w, hgt),
            (x + w // 3, y - hgt // 2, w // 2, hgt),
            (x - w // 3, y + hgt // 4, w // 2, hgt // 2 + 1),
        ]
        for px, py, pw, ph in parts:
            canvas.ellipse([px - pw // 2, py - ph // 2, px + pw // 2, py + ph // 2], fill=white)
        canvas.annotate(
            "clouds",
            x - w // 3 - w // 4,
            y - hgt,
            x + w // 3 + w // 4 + 1,
            y + hgt // 2 + hgt // 4 + 2,
        )


def draw_birds(canvas: Canvas, layout: Layout) -> None:
    """One to five tiny dark "v" shapes, a few pixels wide: the finest-scale concept."""
    rng = canvas.rng
    upper = layout.horizon if layout.horizon > canvas.size // 4 else canvas.size // 2
    for _ in range(int(rng.integers(1, 6))):
        w = max(2, canvas.px(canvas.u(0.03, 0.06)))
        x = canvas.px(canvas.u(0.05, 0.9))
        y = max(w // 2 + 1, int(upper * canvas.u(0.1, 0.8)))
        dark = jitter((35, 35, 40), rng, 10)
        canvas.draw.line(
            [(x, y - w // 2), (x + w // 2, y), (x + w, y - w // 2)], fill=dark, width=1
        )
        canvas.annotate("birds", x, y - w // 2, x + w + 1, y + 1)


def draw_stars(canvas: Canvas, layout: Layout) -> None:
    """A few faint stars in a night sky (no label: part of the sky)."""
    rng = canvas.rng
    for _ in range(int(rng.integers(2, 8))):
        x, y = (
            int(rng.integers(0, canvas.size)),
            int(rng.integers(0, max(1, layout.horizon * 2 // 3))),
        )
        canvas.draw.point((x, y), fill=(220, 220, 235))
