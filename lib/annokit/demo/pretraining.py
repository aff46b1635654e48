"""The demo's stand-in for ImageNet: scene-like images labelled with a
task that is not the annotation task.

Both papers fine-tune a network pretrained on ImageNet's single-label classification. The demo
cannot download it, so it generates its own pretraining set: the same kind of pictures as the demo
scenes (sky gradients, textured ground bands, the same camera noise and JPEG coding) with one
foreground shape each, and a single label per image naming that shape and its fill, twelve classes
none of which is a word of the annotation vocabulary. A network trained on it learns edges, colours,
shapes and textures at every scale, as an ImageNet network does, without ever seeing an annotation
label. The set is written in ImageNet's folder layout, ``<root>/train/<class>/<class>_<n>.JPEG``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from annokit.demo.drawing import RGB, Canvas, jitter
from annokit.demo.layout import GROUND_ORDER, draw_texture_details, paint_background, plan_layout
from annokit.demo.render import encode_jpeg, finish
from annokit.demo.seeding import image_rng

SHAPES = ("disc", "ring", "square", "frame", "triangle", "cross")
FILLS = ("solid", "striped")
# 12 classes, none an annotation label
CLASSES = tuple(f"{shape}_{fill}" for shape in SHAPES for fill in FILLS)
_PRETRAIN_STREAM = 23  # a seed-sequence stream of its own: no draw is shared with the scenes
_PALETTE: tuple[RGB, ...] = (
    (200, 40, 40),
    (40, 160, 60),
    (40, 70, 200),
    (230, 200, 40),
    (160, 60, 180),
    (240, 140, 30),
    (30, 180, 190),
    (240, 240, 240),
    (30, 30, 30),
)


def class_of(index: int, seed: int) -> int:
    """The class of pretraining image ``index``: classes take turns, so
    every class has the same count (±1)."""
    return int((index + seed) % len(CLASSES))


def _shape_mask(shape: str, size: int, box: tuple[int, int, int, int], width: int) -> Image.Image:
    """A binary mask of ``shape`` inside ``box`` (x0, y0, x1, y1)."""
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    x0, y0, x1, y1 = box
    if shape == "disc":
        draw.ellipse(box, fill=255)
    elif shape == "ring":
        draw.ellipse(box, outline=255, width=width)
    elif shape == "square":
        draw.rectangle(box, fill=255)
    elif shape == "frame":
        draw.rectangle(box, outline=255, width=width)
    elif shape == "triangle":
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=255)
    elif shape == "cross":
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        draw.rectangle((cx - width, y0, cx + width, y1), fill=255)
        draw.rectangle((x0, cy - width, x1, cy + width), fill=255)
    else:
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    return mask


def _fill_pattern(fill: str, size: int, colour: RGB, rng: np.random.Generator) -> np.ndarray:
    """The shape's pixels: one colour, or stripes of two colours at a random angle and period."""
    pixels = np.empty((size, size, 3), dtype=float)
    pixels[:] = colour
    if fill == "striped":
        other = np.array(jitter(_PALETTE[int(rng.integers(len(_PALETTE)))], rng, 20), dtype=float)
        angle, period = rng.uniform(0, np.pi), rng.uniform(3.0, max(4.0, size / 8))
        y, x = np.mgrid[0:size, 0:size]
        stripes = (np.floor((x * np.cos(angle) + y * np.sin(angle)) / period) % 2).astype(bool)
        pixels[stripes] = other
    return pixels


def render_pretraining_image(label: int, size: int, rng: np.random.Generator) -> Image.Image:
    """A scene background (sky or wall, ground bands) with one shape of class
    ``label`` at a random place and scale."""
    canvas = Canvas(size, rng)
    grounds = [g for g in GROUND_ORDER if rng.random() < 0.3]
    background = grounds + (["sky"] if rng.random() < 0.7 else [])
    layout = plan_layout(background, size, rng)
    paint_background(canvas, layout, background)
    draw_texture_details(canvas, layout)
    shape, fill = CLASSES[label].split("_")
    extent = int(round(size * rng.uniform(0.2, 0.75)))  # small to large: every scale sees objects
    x0, y0 = (int(rng.integers(0, size - extent + 1)) for _ in range(2))
    width = max(1, int(round(extent * rng.uniform(0.1, 0.2))))
    mask = np.asarray(
        _shape_mask(shape, size, (x0, y0, x0 + extent - 1, y0 + extent - 1), width), dtype=bool
    )
    colour = jitter(_PALETTE[int(rng.integers(len(_PALETTE)))], rng, 25)
    pixels = np.asarray(canvas.image, dtype=float).copy()
    pixels[mask] = _fill_pattern(fill, size, colour, rng)[mask]
    canvas.set_pixels(pixels)
    canvas.instances.clear()  # the background's regions are not this set's labels
    return finish(canvas)


def write_pretraining_set(
    root: Path, n_images: int, size: int, seed: int, progress: Callable[[int], None] | None = None
) -> Path:
    """Write ``n_images`` JPEGs in ImageNet's layout under
    ``<root>/train``; images already there are kept.

    Every image depends on (seed, its index) only, so an
    interrupted write resumes with the same files.
    """
    train = Path(root) / "train"
    for name in CLASSES:
        (train / name).mkdir(parents=True, exist_ok=True)
    for index in range(n_images):
        path = image_path(root, index, seed)
        if not path.exists():
            image = render_pretraining_image(
                class_of(index, seed), size, image_rng(seed, index, _PRETRAIN_STREAM)
            )
            partial = path.with_suffix(".part")
            partial.write_bytes(encode_jpeg(image))
            partial.replace(path)
        if progress is not None:
            progress(index)
    return train


def image_path(root: Path, index: int, seed: int) -> Path:
    """``<root>/train/<class>/<class>_<index>.JPEG``, ImageNet's file naming."""
    name = CLASSES[class_of(index, seed)]
    return Path(root) / "train" / name / f"{name}_{index:06d}.JPEG"


def read_pretraining_set(root: Path, n_images: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All images (N, H, W, 3) uint8 and their class indices, decoded once:
    the set is small enough to hold."""
    images, labels = [], []
    for index in range(n_images):
        path = image_path(root, index, seed)
        if not path.exists():
            raise FileNotFoundError(
                f"pretraining image {path} is missing: rerun notebook 00 to write the set again"
            )
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            images.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
        labels.append(class_of(index, seed))
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def example_images(size: int, seed: int) -> list[Image.Image]:
    """One pretraining image of every class, in ``CLASSES`` order (for a figure)."""
    return [
        render_pretraining_image(label, size, image_rng(seed, label, _PRETRAIN_STREAM))
        for label in range(len(CLASSES))
    ]
