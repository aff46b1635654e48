"""Drawing the objects of a scene: mountains, buildings, windows,
trees, cars, boats, people and more."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from annokit.demo.drawing import RGB, Canvas, jitter
from annokit.demo.layout import Layout, _base_y, _perspective
from annokit.demo.seeding import _pick

_BUILDING_COLOURS: tuple[RGB, ...] = (
    (150, 155, 162),
    (150, 85, 65),
    (215, 195, 150),
    (95, 95, 108),
    (120, 140, 160),
)
_PALETTE: tuple[RGB, ...] = (
    (200, 30, 30),
    (30, 60, 180),
    (235, 235, 235),
    (30, 30, 30),
    (230, 200, 30),
    (160, 165, 170),
    (20, 120, 60),
    (240, 120, 20),
)


def draw_mountains(canvas: Canvas, layout: Layout, labels: Sequence[str]) -> None:
    """One to three peaks rising from the horizon, snow-capped when snow is present."""
    rng, h = canvas.rng, layout.horizon
    for _ in range(int(rng.integers(1, 4))):
        cx, half = canvas.px(canvas.u(0.1, 0.9)), canvas.px(canvas.u(0.15, 0.35))
        peak = max(1, h - canvas.px(canvas.u(0.18, 0.34)))
        canvas.draw.polygon(
            [(cx - half, h), (cx, peak), (cx + half, h)], fill=jitter((105, 105, 120), rng, 20)
        )
        if "snow" in labels:
            t = 0.35
            cap_y = peak + (h - peak) * t
            canvas.draw.polygon(
                [(cx - half * t, cap_y), (cx, peak), (cx + half * t, cap_y)],
                fill=jitter((240, 242, 250), rng, 8),
            )
        canvas.annotate("mountain", cx - half, peak, cx + half + 1, h)


def draw_buildings(canvas: Canvas, layout: Layout, labels: Sequence[str]) -> None:
    """One to four blocks on the horizon; window grids when windows are a label (lit at night)."""
    rng, h = canvas.rng, layout.horizon
    night = "nighttime" in labels
    for _ in range(int(rng.integers(1, 5))):
        w, tall = canvas.px(canvas.u(0.12, 0.3)), canvas.px(canvas.u(0.2, 0.5))
        x0 = int(rng.integers(-w // 3, canvas.size - 2 * w // 3))
        base = h + int(rng.integers(0, canvas.px(0.05) + 1))
        y0 = max(0, base - tall)
        colour = jitter(_pick(_BUILDING_COLOURS, rng), rng, 15)
        edge = (colour[0] * 3 // 5, colour[1] * 3 // 5, colour[2] * 3 // 5)
        canvas.rect([x0, y0, x0 + w - 1, base - 1], fill=colour, outline=edge)
        canvas.annotate("buildings", x0, y0, x0 + w, base)
        if "window" in labels:
            draw_window_grid(canvas, x0, y0, w, base - y0, night)


def draw_window_grid(canvas: Canvas, x0: int, y0: int, w: int, tall: int, night: bool) -> None:
    """A grid of windows on a facade: pale glass by day, a share lit yellow at night."""
    rng, cell = canvas.rng, max(2, canvas.px(0.045))
    pane = max(1, cell // 2)
    left, right = max(0, x0), min(canvas.size, x0 + w)  # the facade's visible columns
    spots = [
        (x, y)
        for y in range(y0 + pane, y0 + tall - pane, cell)
        for x in range(x0 + pane, x0 + w - pane, cell)
        if left <= x and x + pane <= right
    ]
    if not spots:  # too small for a grid: one window in the middle of what is visible
        spots = [((left + right - pane) // 2, y0 + (tall - pane) // 2)]
    glass = jitter((175, 205, 230), rng, 12)
    lit = jitter((255, 215, 110), rng, 10)

    def paint(colour_of: Callable[[], RGB]) -> None:
        for x, y in spots:
            canvas.rect([x, y, x + pane - 1, y + pane - 1], fill=colour_of())

    if night:
        canvas.lights.append(lambda: paint(lambda: lit if rng.random() < 0.7 else (25, 25, 35)))
    else:
        paint(lambda: glass)
    xs, ys = [x for x, _ in spots], [y for _, y in spots]
    canvas.annotate("window", min(xs), min(ys), max(xs) + pane, max(ys) + pane)


def draw_tree(canvas: Canvas, layout: Layout, pine: bool) -> None:
    """A trunk with a round or pointed canopy."""
    rng = canvas.rng
    base = _base_y(canvas, layout.land())
    tall = canvas.px(canvas.u(0.16, 0.32) * _perspective(canvas, layout, base))
    cx = canvas.px(canvas.u(0.05, 0.95))
    trunk_w, trunk_h = max(1, tall // 8), max(1, tall // 3)
    canvas.rect(
        [cx - trunk_w // 2, base - trunk_h, cx + trunk_w // 2, base], fill=jitter((95, 65, 40), rng)
    )
    green = jitter((40, 110, 45) if pine else (60, 135, 50), rng, 20)
    half = max(2, tall // 3)
    top = base - tall
    if pine:
        canvas.draw.polygon(
            [(cx - half, base - trunk_h), (cx, top), (cx + half, base - trunk_h)], fill=green
        )
    else:
        canvas.ellipse([cx - half, top, cx + half, base - trunk_h + half // 2], fill=green)
    canvas.annotate("tree", cx - half, top, cx + half + 1, base + 1)


def draw_car(canvas: Canvas, layout: Layout, night: bool) -> None:
    """A box body with a cabin and two wheels, on the road if there is one."""
    rng = canvas.rng
    roads = [(y0, y1) for c, y0, y1 in layout.bands if c == "road"]
    base = _base_y(canvas, roads or layout.land())
    w = canvas.px(canvas.u(0.12, 0.2) * _perspective(canvas, layout, base))
    hgt = max(2, round(w * 0.45))
    x0 = canvas.px(canvas.u(0.0, 0.85))
    body = jitter(_PALETTE[int(rng.integers(len(_PALETTE)))], rng, 15)
    wheel = max(1, hgt // 3)
    top = base - hgt
    canvas.rect([x0, top + hgt // 3, x0 + w - 1, base - wheel // 2], fill=body)
    canvas.rect([x0 + w // 5, top, x0 + 4 * w // 5, top + hgt // 3], fill=body)
    canvas.rect(
        [x0 + w // 4, top + 1, x0 + 3 * w // 4 - 1, top + hgt // 3],
        fill=jitter((150, 190, 215), rng, 10),
    )
    for wx in (x0 + w // 5, x0 + 4 * w // 5):
        canvas.ellipse([wx - wheel, base - wheel * 2 + 1, wx + wheel, base], fill=(20, 20, 20))
    if night:
        lamp = max(1, w // 10)
        canvas.lights.append(
            lambda: canvas.ellipse(
                [x0 + w - lamp, base - wheel - lamp, x0 + w, base - wheel], fill=(255, 240, 170)
            )
        )
    canvas.annotate("cars", x0 - 1, top, x0 + w + 1, base + 1)


def draw_boat(canvas: Canvas, layout: Layout) -> None:
    """A hull with a mast and a white sail, floating on the ocean or water band."""
    rng = canvas.rng
    base = _base_y(canvas, layout.wet() or layout.land())
    w = canvas.px(canvas.u(0.1, 0.2) * _perspective(canvas, layout, base))
    x0 = canvas.px(canvas.u(0.0, 0.85))
    hull_h, mast = max(1, w // 4), max(2, round(w * 0.9))
    hull = jitter((120, 70, 40) if rng.random() < 0.5 else (235, 235, 235), rng, 15)
    canvas.draw.polygon(
        [
            (x0, base - hull_h),
            (x0 + w, base - hull_h),
            (x0 + 4 * w // 5, base),
            (x0 + w // 5, base),
        ],
        fill=hull,
    )
    mx = x0 + w // 2
    canvas.draw.line(
        [(mx, base - hull_h), (mx, base - hull_h - mast)], fill=(60, 50, 40), width=canvas.line
    )
    canvas.draw.polygon(
        [
            (mx + 1, base - hull_h - mast),
            (mx + 1, base - hull_h - 1),
            (mx + w // 2, base - hull_h - 1),
        ],
        fill=jitter((245, 245, 240), rng, 8),
    )
    canvas.annotate("boats", x0, base - hull_h - mast, x0 + w + 1, base + 1)


def draw_person(canvas: Canvas, layout: Layout) -> None:
    """A stick figure with a round head and coloured clothes."""
    rng, d = canvas.rng, canvas.draw
    base = _base_y(canvas, layout.land())
    tall = canvas.px(canvas.u(0.13, 0.26) * _perspective(canvas, layout, base))
    cx = canvas.px(canvas.u(0.05, 0.95))
    head = max(1, tall // 7)
    skin = jitter(((240, 200, 170), (200, 150, 110), (120, 80, 55))[int(rng.integers(3))], rng, 10)
    cloth = jitter(_PALETTE[int(rng.integers(len(_PALETTE)))], rng, 15)
    neck, hip = base - tall + 2 * head, base - tall * 2 // 5
    width = max(canvas.line, tall // 10)
    d.line([(cx, neck), (cx, hip)], fill=cloth, width=width)
    d.line([(cx, hip), (cx - tall // 5, base)], fill=cloth, width=width)
    d.line([(cx, hip), (cx + tall // 5, base)], fill=cloth, width=width)
    d.line(
        [(cx - tall // 4, neck + tall // 6), (cx + tall // 4, neck + tall // 6)],
        fill=cloth,
        width=width,
    )
    canvas.ellipse([cx - head, base - tall, cx + head, base - tall + 2 * head], fill=skin)
    canvas.annotate("person", cx - tall // 4 - 1, base - tall, cx + tall // 4 + 2, base + 1)


def draw_animal(canvas: Canvas, layout: Layout) -> None:
    """A four-legged animal: body, legs, head."""
    rng, d = canvas.rng, canvas.draw
    base = _base_y(canvas, layout.land())
    w = canvas.px(canvas.u(0.12, 0.2) * _perspective(canvas, layout, base))
    body_h, leg = max(2, w // 2), max(1, w // 3)
    x0 = canvas.px(canvas.u(0.02, 0.8))
    coat = jitter(
        ((120, 75, 40), (30, 25, 20), (225, 220, 210), (160, 120, 80))[int(rng.integers(4))],
        rng,
        15,
    )
    top = base - leg - body_h
    for lx in (x0 + w // 6, x0 + w // 3, x0 + 2 * w // 3, x0 + 5 * w // 6):
        d.line([(lx, base - leg - 1), (lx, base)], fill=coat, width=canvas.line)
    canvas.ellipse([x0, top, x0 + w, base - leg], fill=coat)
    head = max(1, w // 5)
    facing = 1 if rng.random() < 0.5 else -1
    hx = x0 + w if facing > 0 else x0
    canvas.ellipse([hx - head, top - head, hx + head, top + head], fill=coat)
    canvas.annotate("animal", min(x0, hx - head), top - head, max(x0 + w, hx + head) + 1, base + 1)


def draw_flowers(canvas: Canvas, layout: Layout) -> None:
    """A cluster of tiny coloured blossoms on green stems."""
    rng, d = canvas.rng, canvas.draw
    base = _base_y(canvas, layout.land())
    cx, spread = canvas.px(canvas.u(0.05, 0.9)), canvas.px(0.08)
    stem, r = canvas.px(0.05), max(1, canvas.px(0.018))
    colours = (
        (220, 30, 50),
        (245, 210, 40),
        (240, 120, 180),
        (150, 60, 190),
        (250, 250, 250),
        (250, 130, 30),
    )
    xs, ys = [], []
    for _ in range(int(rng.integers(3, 9))):
        x, y = (
            cx + int(rng.integers(-spread, spread + 1)),
            base - int(rng.integers(0, max(1, stem // 2) + 1)),
        )
        d.line([(x, y), (x, y - stem)], fill=jitter((50, 120, 40), rng, 10), width=1)
        canvas.ellipse(
            [x - r, y - stem - r, x + r, y - stem + r], fill=jitter(_pick(colours, rng), rng, 15)
        )
        xs.append(x)
        ys.append(y)
    canvas.annotate("flowers", min(xs) - r, min(ys) - stem - r, max(xs) + r + 1, max(ys) + 1)


def draw_parasol(canvas: Canvas, layout: Layout) -> None:
    """A striped beach umbrella on a pole, on the sand if there is some."""
    rng, d = canvas.rng, canvas.draw
    sand = [(y0, y1) for c, y0, y1 in layout.bands if c == "sand"]
    base = _base_y(canvas, sand or layout.land())
    r = canvas.px(canvas.u(0.08, 0.13) * _perspective(canvas, layout, base))
    cx = canvas.px(canvas.u(0.1, 0.9))
    top = base - 2 * r
    d.line([(cx, top), (cx, base)], fill=(90, 80, 70), width=canvas.line)
    colours = (jitter((220, 40, 40), rng, 15), (245, 245, 240), jitter((30, 90, 200), rng, 15))
    stripe = colours[0] if rng.random() < 0.5 else colours[2]
    for k in range(6):
        d.pieslice(
            [cx - r, top - r // 2, cx + r, top + r + r // 2],
            180 + 30 * k,
            210 + 30 * k,
            fill=stripe if k % 2 == 0 else colours[1],
        )
    canvas.annotate("beach", cx - r, top - r // 2, cx + r + 1, base + 1)


def draw_sign(canvas: Canvas, layout: Layout) -> None:
    """A small plate on a post: yellow diamond, blue square or red disc."""
    rng, d = canvas.rng, canvas.draw
    base = _base_y(canvas, layout.land())
    w = max(2, canvas.px(canvas.u(0.05, 0.08)))
    post = max(2, round(w * 1.4))
    cx = canvas.px(canvas.u(0.05, 0.95))
    d.line([(cx, base - post), (cx, base)], fill=(110, 110, 115), width=1)
    top, kind = base - post - w, int(rng.integers(3))
    box = [cx - w // 2, top, cx - w // 2 + w - 1, top + w - 1]
    if kind == 0:
        d.polygon(
            [(cx, top), (box[2], top + w // 2), (cx, box[3]), (box[0], top + w // 2)],
            fill=jitter((245, 205, 30), rng, 10),
            outline=(20, 20, 20),
        )
    elif kind == 1:
        canvas.rect(box, fill=jitter((30, 80, 190), rng, 10), outline=(245, 245, 245))
    else:
        canvas.ellipse(box, fill=jitter((205, 30, 35), rng, 10), outline=(245, 245, 245))
    canvas.annotate("sign", box[0], top, box[2] + 1, base + 1)


def draw_flag(canvas: Canvas, layout: Layout) -> None:
    """A small striped flag on a thin pole."""
    rng, d = canvas.rng, canvas.draw
    base = _base_y(canvas, layout.land() + layout.wet())
    pole = max(3, canvas.px(canvas.u(0.1, 0.18)))
    fw = max(2, canvas.px(canvas.u(0.05, 0.08)))
    fh = max(2, round(fw * 0.65))
    x = canvas.px(canvas.u(0.05, 0.9))
    d.line([(x, base - pole), (x, base)], fill=(150, 150, 150), width=1)
    stripes = [jitter(_PALETTE[int(rng.integers(len(_PALETTE)))], rng, 10) for _ in range(3)]
    for k, colour in enumerate(stripes):
        y0 = base - pole + k * fh // 3
        canvas.rect([x + 1, y0, x + fw, max(y0, base - pole + (k + 1) * fh // 3 - 1)], fill=colour)
    canvas.annotate("flags", x, base - pole, x + fw + 1, base + 1)
