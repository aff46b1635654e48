"""Rendering: one image from its scene and labels, and every demo image as JPEG bytes."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from annokit.demo.drawing import Canvas, Instance
from annokit.demo.layout import Layout, draw_texture_details, paint_background, plan_layout
from annokit.demo.objects import (
    draw_animal,
    draw_boat,
    draw_buildings,
    draw_car,
    draw_flag,
    draw_flowers,
    draw_mountains,
    draw_parasol,
    draw_person,
    draw_sign,
    draw_tree,
)
from annokit.demo.seeding import _RENDER_STREAM, image_rng
from annokit.demo.sky import draw_birds, draw_clouds, draw_moon, draw_stars, draw_sun
from annokit.demo.truth import DemoConfig, DemoTruth
from annokit.demo.vocabulary import SCENE_BY_NAME, Scene

SMALL = ("flowers", "sign", "flags")  # a few pixels at 64 px, like birds: they need the fine scale
_NIGHT_GAIN = np.array([0.30, 0.33, 0.48])
JPEG_QUALITY = 90


def darken_for_night(canvas: Canvas) -> None:
    """Dim and blue-shift everything drawn so far, then switch on the lights."""
    canvas.set_pixels(np.asarray(canvas.image, dtype=float) * _NIGHT_GAIN)
    for light in canvas.lights:
        light()


def finish(canvas: Canvas) -> Image.Image:
    """Camera-like colour cast, exposure jitter and sensor noise."""
    rng = canvas.rng
    pixels = np.asarray(canvas.image, dtype=float)
    pixels = pixels * rng.uniform(0.9, 1.1, size=3) + rng.uniform(-12, 12)
    pixels += rng.normal(0.0, rng.uniform(3.0, 7.0), size=pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def render_abstract(canvas: Canvas) -> None:
    """A smooth random texture in muted colours: an image with no concept in it."""
    rng, s = canvas.rng, canvas.size
    cells = int(rng.integers(2, 6))
    coarse = rng.uniform(60, 200, size=(cells, cells, 3)) * rng.uniform(0.6, 1.0, size=3)
    small = Image.fromarray(coarse.astype(np.uint8), "RGB")
    canvas.set_pixels(np.asarray(small.resize((s, s), Image.BICUBIC), dtype=float))


def render_image(
    scene: Scene, labels: Sequence[str], size: int, rng: np.random.Generator
) -> tuple[Image.Image, list[Instance]]:
    """Draw an image showing exactly ``labels``, with one instance per drawn object or region."""
    canvas = Canvas(size, rng)
    if not labels:
        render_abstract(canvas)
        return finish(canvas), []
    present = set(labels)
    layout = plan_layout(labels, size, rng)
    paint_background(canvas, layout, labels)
    draw_texture_details(canvas, layout)
    if "mountain" in present:
        draw_mountains(canvas, layout, labels)
    if "buildings" in present:
        draw_buildings(canvas, layout, labels)
    if "nighttime" in present and "sky" in present:
        canvas.lights.insert(0, lambda: draw_stars(canvas, layout))
    draw_objects(canvas, layout, scene, present)
    if "nighttime" in present:
        canvas.annotate("nighttime", 0, 0, size, size)
        darken_for_night(canvas)
    else:
        for light in canvas.lights:
            light()
    missing = present - {i.concept for i in canvas.instances}
    if missing:
        raise RuntimeError(f"demo renderer drew no instance of {sorted(missing)} at size {size}")
    return finish(canvas), canvas.instances


def draw_objects(canvas: Canvas, layout: Layout, scene: Scene, present: set[str]) -> None:
    """Sky objects, then standing objects back to front, each concept one to a few times."""
    rng = canvas.rng
    if "sun" in present:
        draw_sun(canvas, layout, "sunset" in present)
    if "moon" in present:
        draw_moon(canvas, layout)
    if "clouds" in present:
        draw_clouds(canvas, layout)
    large: list[Callable[[], None]] = []
    small: list[Callable[[], None]] = []
    counts = {
        "tree": (1, 4),
        "cars": (1, 4),
        "boats": (1, 4),
        "person": (1, 4),
        "animal": (1, 3),
        "flowers": (1, 4),
        "beach": (1, 3),
        "sign": (1, 3),
        "flags": (1, 3),
    }
    makers: dict[str, Callable[[], None]] = {
        "tree": lambda: draw_tree(
            canvas, layout, pine=scene.name == "mountains" or "snow" in present
        ),
        "cars": lambda: draw_car(canvas, layout, "nighttime" in present),
        "boats": lambda: draw_boat(canvas, layout),
        "person": lambda: draw_person(canvas, layout),
        "animal": lambda: draw_animal(canvas, layout),
        "flowers": lambda: draw_flowers(canvas, layout),
        "beach": lambda: draw_parasol(canvas, layout),
        "sign": lambda: draw_sign(canvas, layout),
        "flags": lambda: draw_flag(canvas, layout),
    }
    for name in sorted(present & set(makers)):
        low, high = counts[name]
        (small if name in SMALL else large).extend([makers[name]] * int(rng.integers(low, high)))
    # Small objects go last so a tree or a person never hides them completely.
    for group in (large, small):
        for k in rng.permutation(len(group)):
            group[int(k)]()
    if "birds" in present:
        draw_birds(canvas, layout)


# --------------------------------------------------------------------------- the whole demo


def encode_jpeg(image: Image.Image) -> bytes:
    """JPEG bytes at the fixed quality (encoded once, written to both layouts)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def render_demo(truth: DemoTruth, config: DemoConfig) -> tuple[list[bytes], list[list[Instance]]]:
    """JPEG bytes and instances of every image, in generation order."""
    images, instances = [], []
    for i in range(len(truth)):
        image, drawn = render_image(
            SCENE_BY_NAME[str(truth.scene[i])],
            truth.label_tuple(i),
            config.image_size,
            image_rng(config.seed, i, _RENDER_STREAM),
        )
        images.append(encode_jpeg(image))
        instances.append(drawn)
    return images, instances
