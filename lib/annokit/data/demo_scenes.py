"""Synthetic scenes for the demo dataset: concepts, scene types, labels, noisy tags, captions, pixels.

Every function takes a ``numpy.random.Generator`` and is otherwise pure, so one seed gives the
same dataset everywhere. Scene types make labels co-occur like real photographs (the RNN
paper's label dependencies); tags follow a Flickr-like noise model (M3's textual branch);
small objects (birds, flags, signs, flowers) are a few pixels wide so fine scales matter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from PIL import Image, ImageDraw

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]  # COCO bbox: x, y, width, height
T = TypeVar("T")


@dataclass(frozen=True)
class Concept:
    """A label: its COCO supercategory, tag-word synonyms and caption noun phrases."""

    name: str
    supercategory: str
    synonyms: tuple[str, ...]
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Scene:
    """A scene type: its share of images, concept selection weights, tag words, caption phrases."""

    name: str  # also the NUS-WIDE Flickr folder (the query word)
    share: float
    weights: tuple[tuple[str, float], ...]
    words: tuple[str, ...]
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Instance:
    """One annotated region of a rendered image."""

    concept: str
    bbox: Box


_CONCEPT_LIST = (
    Concept("animal", "animal", ("animals", "cow", "horse", "dog", "wildlife", "pet"),
            ("an animal", "a cow", "a horse", "a dog", "some animals", "a brown horse")),
    Concept("beach", "outdoor", ("seaside", "shore", "umbrella", "parasol"),
            ("a beach", "a beach umbrella", "an umbrella", "the beach")),
    Concept("birds", "animal", ("bird", "seagull", "gull", "pigeon", "flying"),
            ("a bird", "some birds", "two birds", "birds flying", "a flock of birds")),
    Concept("boats", "vehicle", ("boat", "sailboat", "sailing", "ship", "yacht"),
            ("a boat", "some boats", "a sailboat", "a small boat", "two boats")),
    Concept("buildings", "outdoor", ("building", "architecture", "skyscraper", "tower"),
            ("a building", "tall buildings", "some buildings", "an old building")),
    Concept("cars", "vehicle", ("car", "auto", "automobile", "traffic", "vehicle"),
            ("a car", "some cars", "a red car", "parked cars", "a vehicle")),
    Concept("clouds", "sky", ("cloud", "cloudy", "overcast"),
            ("clouds", "white clouds", "a cloud", "some clouds")),
    Concept("flags", "outdoor", ("flag", "banner"),
            ("a flag", "some flags", "a small flag", "a flag on a pole")),
    Concept("flowers", "plant", ("flower", "bloom", "blossom", "petals"),
            ("flowers", "some flowers", "colorful flowers", "a flower bed")),
    Concept("grass", "plant", ("field", "meadow", "lawn", "green"),
            ("grass", "a grassy field", "green grass", "a lawn")),
    Concept("moon", "sky", ("lunar", "fullmoon", "crescent"),
            ("the moon", "a full moon", "a bright moon")),
    Concept("mountain", "landscape", ("mountains", "peak", "hills", "alps"),
            ("a mountain", "mountains", "snowy peaks", "hills")),
    Concept("nighttime", "sky", ("night", "dark", "longexposure"),
            ("the night", "night time", "a dark night")),
    Concept("ocean", "water", ("sea", "waves", "seascape"),
            ("the ocean", "the sea", "ocean waves", "the blue sea")),
    Concept("person", "person", ("people", "portrait", "man", "woman", "girl", "boy"),
            ("a person", "a man", "a woman", "two people", "a young girl", "people")),
    Concept("road", "ground", ("street", "highway", "asphalt"),
            ("a road", "the street", "an empty road", "a highway")),
    Concept("sand", "ground", ("dunes", "sandy"),
            ("sand", "the sandy shore", "white sand")),
    Concept("sign", "outdoor", ("signs", "signage", "text", "streetsign"),
            ("a sign", "a street sign", "a yellow sign", "a road sign")),
    Concept("sky", "sky", ("blue", "skies", "skyscape"),
            ("the sky", "a blue sky", "a clear sky")),
    Concept("snow", "ground", ("winter", "snowy", "ice", "cold"),
            ("snow", "the snowy ground", "fresh snow")),
    Concept("sun", "sky", ("sunny", "sunshine", "sunlight"),
            ("the sun", "a bright sun", "sunshine")),
    Concept("sunset", "sky", ("dusk", "sunrise", "golden", "evening", "orange"),
            ("a sunset", "the sunset", "an orange sky at dusk")),
    Concept("tree", "plant", ("trees", "forest", "woods", "branches"),
            ("a tree", "some trees", "a tall tree", "trees")),
    Concept("water", "water", ("lake", "river", "pond", "reflection"),
            ("a lake", "a pond", "calm water", "a river")),
    Concept("window", "outdoor", ("windows", "glass", "facade"),
            ("windows", "a window", "many windows", "lit windows")),
)
CONCEPTS: dict[str, Concept] = {c.name: c for c in _CONCEPT_LIST}
LABEL_NAMES: tuple[str, ...] = tuple(sorted(CONCEPTS))

SCENES: tuple[Scene, ...] = (
    Scene("beach", 0.15,
          (("sky", 5), ("sand", 5), ("ocean", 5), ("beach", 4), ("person", 2.5), ("sun", 2), ("clouds", 2),
           ("birds", 1.5), ("boats", 1.2), ("sunset", 1.2), ("flags", 0.6), ("sign", 0.4)),
          ("beach", "summer", "vacation", "holiday", "tropical", "travel", "coast"),
          ("beach scene", "day at the beach", "seaside view")),
    Scene("street", 0.16,
          (("buildings", 5), ("road", 4.5), ("cars", 4), ("window", 3), ("person", 3), ("sky", 3), ("sign", 2.5),
           ("tree", 1.2), ("flags", 1), ("clouds", 0.8), ("birds", 0.5), ("animal", 0.4)),
          ("city", "urban", "downtown", "streetphotography", "citylife", "street"),
          ("city street", "busy street", "downtown area")),
    Scene("countryside", 0.15,
          (("grass", 5), ("sky", 4.5), ("tree", 4), ("animal", 3), ("clouds", 2.5), ("sun", 1.5), ("road", 1.2),
           ("flowers", 1.2), ("water", 1.2), ("birds", 1.2), ("mountain", 1), ("person", 0.8), ("buildings", 0.6),
           ("sunset", 0.6)),
          ("countryside", "rural", "landscape", "nature", "farm", "village"),
          ("country field", "rural landscape", "farm")),
    Scene("mountains", 0.13,
          (("mountain", 5), ("sky", 4.5), ("snow", 4), ("tree", 2.5), ("clouds", 2), ("water", 1.5), ("person", 1.2),
           ("sun", 1.2), ("grass", 1.2), ("sunset", 0.8), ("animal", 0.6), ("birds", 0.6)),
          ("mountains", "landscape", "nature", "hiking", "outdoors", "scenic"),
          ("mountain landscape", "snowy valley", "mountain view")),
    Scene("night", 0.12,
          (("nighttime", 6), ("buildings", 4), ("window", 3.5), ("sky", 2.5), ("moon", 2), ("cars", 2), ("road", 2),
           ("sign", 1.2), ("person", 1), ("water", 1), ("flags", 0.3)),
          ("night", "city", "lights", "nightlife", "longexposure", "cityscape"),
          ("city at night", "night scene", "dark city")),
    Scene("garden", 0.12,
          (("flowers", 5), ("grass", 4), ("tree", 3.5), ("sky", 2), ("person", 1.5), ("birds", 1.5), ("water", 1),
           ("animal", 1), ("sun", 0.8), ("sign", 0.6), ("buildings", 0.6), ("window", 0.3)),
          ("garden", "park", "spring", "macro", "nature", "botanical"),
          ("garden", "public park", "flower garden")),
    Scene("harbor", 0.145,
          (("boats", 5), ("sky", 4), ("ocean", 3), ("water", 2.5), ("buildings", 2), ("flags", 2), ("birds", 2),
           ("clouds", 1.8), ("person", 1), ("sunset", 0.8), ("nighttime", 0.6), ("window", 0.6), ("sign", 0.5),
           ("moon", 0.4)),
          ("harbor", "harbour", "port", "marina", "coast", "pier"),
          ("harbor", "marina", "small port")),
    # Label-free images, so "drop images without a label" has something to remove.
    Scene("abstract", 0.025, (), ("abstract", "art", "texture", "pattern", "minimal"), ()),
)
SCENE_BY_NAME: dict[str, Scene] = {s.name: s for s in SCENES}

# A concept drags in all of REQUIRES_ALL and one of REQUIRES_ANY (first alternative), so
# e.g. sun always comes with sky: real, learnable label dependencies.
REQUIRES_ALL: dict[str, tuple[str, ...]] = {
    "sun": ("sky",), "clouds": ("sky",), "sunset": ("sky",), "mountain": ("sky",),
    "moon": ("sky", "nighttime"), "window": ("buildings",),
}
REQUIRES_ANY: dict[str, tuple[str, ...]] = {"boats": ("ocean", "water")}
EXCLUSIVE: tuple[tuple[str, str], ...] = (
    ("sun", "moon"), ("sun", "nighttime"), ("sunset", "nighttime"), ("sunset", "moon"), ("sand", "snow"),
)
# P(label count = 1..6) before conflicts; mean about 2.8 like COCO / NUS-WIDE.
LABEL_COUNT_P = (0.20, 0.27, 0.23, 0.15, 0.09, 0.06)


# --------------------------------------------------------------------------- sampling labels


def sample_scene(rng: np.random.Generator) -> Scene:
    """Draw a scene type by its share of images."""
    shares = np.array([s.share for s in SCENES])
    return SCENES[int(rng.choice(len(SCENES), p=shares / shares.sum()))]


def sample_label_count(rng: np.random.Generator) -> int:
    """How many concepts an image is meant to show (1..6)."""
    return 1 + int(rng.choice(len(LABEL_COUNT_P), p=np.array(LABEL_COUNT_P) / sum(LABEL_COUNT_P)))


def with_requirements(concept: str, chosen: Sequence[str], scene: Scene) -> list[str]:
    """``concept`` plus the concepts it needs that are not yet chosen."""
    needed = [concept] + [c for c in REQUIRES_ALL.get(concept, ()) if c not in chosen]
    alternatives = REQUIRES_ANY.get(concept, ())
    if alternatives and not any(a in chosen for a in alternatives):
        in_scene = [a for a in alternatives if a in dict(scene.weights)]
        needed.append((in_scene or list(alternatives))[0])
    return needed


def conflicts(candidates: Sequence[str], chosen: Sequence[str]) -> bool:
    """Whether adding ``candidates`` to ``chosen`` would pair two mutually exclusive concepts."""
    together = set(candidates) | set(chosen)
    return any(a in together and b in together for a, b in EXCLUSIVE)


def sample_labels(scene: Scene, rng: np.random.Generator) -> tuple[str, ...]:
    """The concepts an image of ``scene`` shows, sorted; empty for the abstract scene."""
    if not scene.weights:
        return ()
    target = sample_label_count(rng)
    pool = dict(scene.weights)
    chosen: list[str] = []
    while len(chosen) < target and pool:
        names = list(pool)
        weights = np.array([pool[n] for n in names], dtype=float)
        concept = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        del pool[concept]
        needed = with_requirements(concept, chosen, scene)
        if len(chosen) + len(needed) > target or conflicts(needed, chosen):
            continue
        chosen.extend(needed)
        for name in needed:
            pool.pop(name, None)
    return tuple(sorted(chosen))


# --------------------------------------------------------------------------- noisy tags

_UNRELATED_WORDS = (
    # cameras and photo jargon
    "nikon", "canon", "sony", "olympus", "pentax", "fuji", "leica", "kodak", "d80", "d200", "400d", "40d", "5d",
    "xti", "rebel", "eos", "dslr", "50mm", "zoom", "hdr", "bw", "blackandwhite", "monochrome", "sepia", "film",
    "lomo", "holga", "polaroid", "digital", "photo", "photography", "photos", "picture", "camera", "geotagged",
    "closeup", "bokeh",
    # Flickr group awards and fads
    "explore", "interestingness", "flickr", "abigfave", "aplusphoto", "anawesomeshot", "diamondclassphotographer",
    "flickrdiamond", "impressedbeauty", "superbmasterpiece", "naturesfinest", "platinumphoto", "colorphotoaward",
    "supershot", "bravo", "wow", "awesome", "cool", "favorite",
    # years, colours, numbers
    "2005", "2006", "2007", "2008", "2009", "red", "yellow", "purple", "pink", "white", "black", "color",
    "colour", "colors", "colorful", "one", "two", "three", "1", "2", "3", "100",
    # people and events
    "friends", "family", "me", "kids", "baby", "wedding", "party", "birthday", "christmas", "trip", "tourist",
    "autumn", "fall", "weekend", "july", "august", "music", "food", "cat", "school", "museum", "church",
    "history", "statue", "graffiti", "funny", "smile", "random", "morning", "weather", "outdoor",
    # places
    "usa", "california", "newyork", "london", "paris", "france", "italy", "japan", "china", "germany", "spain",
    "england", "canada", "australia", "europe", "mexico", "florida", "tokyo", "rome", "berlin", "sanfrancisco",
    "chicago", "seattle", "hawaii",
    # moods and generic words
    "light", "shadow", "old", "new", "vintage", "cute", "beautiful", "love", "fun", "happy", "life", "day",
    "world", "home", "square", "pretty", "walk", "view", "scenery",
)


def _scene_words() -> list[str]:
    return [w for s in SCENES for w in s.words]


def _concept_words() -> list[str]:
    return [w for c in _CONCEPT_LIST for w in (c.name, *c.synonyms)]


# Sorted, so the list never depends on set iteration order.
TAG_NAMES: tuple[str, ...] = tuple(sorted(set(_concept_words()) | set(_scene_words()) | set(_UNRELATED_WORDS)))
_UNRELATED_SORTED: tuple[str, ...] = tuple(sorted(set(_UNRELATED_WORDS) - set(_concept_words()) - set(_scene_words())))

P_NO_TAG = 0.06  # Flickr images with no tag at all (M3 drops them)
P_OWN_WORD = 0.6  # a true concept's own word is tagged
P_SYNONYM = 0.2  # each synonym of a true concept
P_SCENE_WORD = 0.25  # each word of the image's scene
P_WRONG_CONCEPT = 0.2  # one concept word the image does not show
MEAN_UNRELATED = 2.0  # Poisson mean of camera / place / award words


def _pick(options: Sequence[T], rng: np.random.Generator) -> T:
    return options[int(rng.integers(len(options)))]


def sample_tags(scene: Scene, labels: Sequence[str], rng: np.random.Generator) -> tuple[str, ...]:
    """Noisy Flickr-style tags of an image, sorted: informative about its labels but incomplete and polluted."""
    if rng.random() < P_NO_TAG:
        return ()
    tags: list[str] = []
    for name in labels:
        concept = CONCEPTS[name]
        if rng.random() < P_OWN_WORD:
            tags.append(name)
        tags.extend(s for s in concept.synonyms if rng.random() < P_SYNONYM)
    tags.extend(w for w in scene.words if rng.random() < P_SCENE_WORD)
    if rng.random() < P_WRONG_CONCEPT:
        wrong = [n for n in LABEL_NAMES if n not in labels]
        tags.append(_pick(wrong, rng))
    n_unrelated = int(rng.poisson(MEAN_UNRELATED))
    picks = rng.choice(len(_UNRELATED_SORTED), size=min(n_unrelated, len(_UNRELATED_SORTED)), replace=False)
    tags.extend(_UNRELATED_SORTED[int(k)] for k in picks)
    if not tags:  # the no-tag share is exactly P_NO_TAG
        tags.append(_pick(_UNRELATED_SORTED, rng))
    return tuple(sorted(set(tags)))


# --------------------------------------------------------------------------- captions

_ADJECTIVES = ("sunny", "bright", "quiet", "busy", "beautiful", "cloudy", "nice", "cold", "warm", "calm")
_ONE = ("a photo of {a}.", "{a} in the picture.", "a close up view of {a}.", "there is {a} in this image.",
        "an image showing {a}.", "a view of {a}.", "a {adj} {scene} with {a}.", "{a} in a {scene}.")
_TWO = ("{a} with {b} in the background.", "{a} next to {b}.", "{a} and {b} on a {adj} day.",
        "there is {a} near {b}.", "a picture of {a} and {b}.", "{a} under {b}.", "a {scene} with {a} and {b}.")
_THREE = ("{a}, {b} and {c} in one scene.", "a {adj} view of {a} with {b} and {c}.",
          "{a} near {b} with {c} behind it.", "a {scene} with {a}, {b} and {c}.")
_ABSTRACT = ("an abstract pattern of colors.", "a blurry picture with no clear subject.",
             "a close up of a textured surface.", "a colorful abstract image.",
             "a picture of a plain wall with some texture.", "an out of focus photo of shapes.")
CAPTIONS_PER_IMAGE = 5


def make_caption(scene: Scene, labels: Sequence[str], rng: np.random.Generator) -> str:
    """One COCO-style sentence naming one to three of the image's concepts."""
    if not labels:
        text = _pick(_ABSTRACT, rng)
    else:
        n = min(len(labels), 1 + int(rng.choice(3, p=[0.3, 0.45, 0.25])))
        order = rng.permutation(len(labels))[:n]
        slots = [_pick(CONCEPTS[labels[int(k)]].phrases, rng) for k in order]
        template = _pick((_ONE, _TWO, _THREE)[n - 1], rng)
        slots += [""] * (3 - n)
        text = template.format(a=slots[0], b=slots[1], c=slots[2],
                               adj=_pick(_ADJECTIVES, rng), scene=_pick(scene.phrases, rng))
    return text[0].upper() + text[1:]


def make_captions(scene: Scene, labels: Sequence[str], rng: np.random.Generator) -> list[str]:
    """The five captions of an image."""
    return [make_caption(scene, labels, rng) for _ in range(CAPTIONS_PER_IMAGE)]


# --------------------------------------------------------------------------- rendering

# Ground bands from the horizon down (far to near); "land" bands are where things stand.
GROUND_ORDER = ("ocean", "water", "snow", "grass", "sand", "road")
LAND = ("snow", "grass", "sand", "road")
STANDING = ("tree", "cars", "person", "animal", "flowers", "beach", "sign", "flags")
SMALL = ("flowers", "sign", "flags")  # a few pixels at 64 px, like birds: they need the fine scale
_BAND_COLOURS: dict[str | None, RGB] = {
    "ocean": (25, 75, 150), "water": (70, 140, 165), "snow": (236, 240, 250), "grass": (75, 140, 55),
    "sand": (222, 203, 150), "road": (72, 72, 78), None: (118, 92, 66),
}
# Backdrops when there is no sky: muted hues no concept uses.
_WALLS: tuple[RGB, ...] = ((188, 182, 172), (176, 160, 170), (160, 170, 150), (200, 185, 200))
_BUILDING_COLOURS: tuple[RGB, ...] = ((150, 155, 162), (150, 85, 65), (215, 195, 150), (95, 95, 108), (120, 140, 160))
_SKY = {"day": ((70, 130, 215), (170, 205, 240)), "sunset": ((70, 50, 120), (250, 145, 65)),
        "night": ((35, 45, 95), (70, 80, 130))}
_NIGHT_GAIN = np.array([0.30, 0.33, 0.48])
_PALETTE: tuple[RGB, ...] = ((200, 30, 30), (30, 60, 180), (235, 235, 235), (30, 30, 30), (230, 200, 30),
                             (160, 165, 170), (20, 120, 60), (240, 120, 20))


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
    return Layout(horizon, split_bands(grounds or [None], horizon, size, rng), sky_mode, _pick(_WALLS, rng))


def split_bands(grounds: Sequence[str | None], top: int, size: int, rng: np.random.Generator) -> tuple:
    """Contiguous bands over rows [top, size), one per ground, each at least one row tall."""
    weights = rng.uniform(0.6, 1.4, size=len(grounds))
    edges = top + np.round(np.cumsum(np.concatenate(([0.0], weights))) / weights.sum() * (size - top)).astype(int)
    for k in range(1, len(edges)):
        edges[k] = max(edges[k], edges[k - 1] + 1)
    edges[-1] = size
    for k in range(len(edges) - 2, 0, -1):  # give rows back from the bottom if the floor pushed past
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
                d.line([(int(x), int(y)), (int(x) + w, int(y))], fill=jitter((235, 240, 250), rng, 10), width=1)
        elif concept == "water":
            for _ in range(n // 2 + 1):
                x, y, w = rng.integers(0, s), rng.integers(y0, y1), canvas.px(canvas.u(0.1, 0.25))
                d.line([(int(x), int(y)), (int(x) + w, int(y))], fill=jitter((150, 200, 215), rng, 10), width=1)
        elif concept == "road":
            y = (y0 + y1) // 2
            dash, colour = canvas.px(0.06), jitter((235, 225, 120) if rng.random() < 0.5 else (240, 240, 240), rng, 10)
            for x in range(int(rng.integers(0, dash)), s, 2 * dash):
                d.line([(x, y), (x + dash - 1, y)], fill=colour, width=canvas.line)
        elif concept == "grass":
            for _ in range(n):
                x, y = int(rng.integers(0, s)), int(rng.integers(y0, y1))
                d.line([(x, y), (x, y - canvas.px(0.03))], fill=jitter((45, 105, 35), rng, 12), width=1)


def draw_mountains(canvas: Canvas, layout: Layout, labels: Sequence[str]) -> None:
    """One to three peaks rising from the horizon, snow-capped when snow is present."""
    rng, h = canvas.rng, layout.horizon
    for _ in range(int(rng.integers(1, 4))):
        cx, half = canvas.px(canvas.u(0.1, 0.9)), canvas.px(canvas.u(0.15, 0.35))
        peak = max(1, h - canvas.px(canvas.u(0.18, 0.34)))
        canvas.draw.polygon([(cx - half, h), (cx, peak), (cx + half, h)], fill=jitter((105, 105, 120), rng, 20))
        if "snow" in labels:
            t = 0.35
            cap_y = peak + (h - peak) * t
            canvas.draw.polygon([(cx - half * t, cap_y), (cx, peak), (cx + half * t, cap_y)],
                                fill=jitter((240, 242, 250), rng, 8))
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
    spots = [(x, y) for y in range(y0 + pane, y0 + tall - pane, cell) for x in range(x0 + pane, x0 + w - pane, cell)
             if left <= x and x + pane <= right]
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
    canvas.rect([cx - trunk_w // 2, base - trunk_h, cx + trunk_w // 2, base], fill=jitter((95, 65, 40), rng))
    green = jitter((40, 110, 45) if pine else (60, 135, 50), rng, 20)
    half = max(2, tall // 3)
    top = base - tall
    if pine:
        canvas.draw.polygon([(cx - half, base - trunk_h), (cx, top), (cx + half, base - trunk_h)], fill=green)
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
    canvas.rect([x0 + w // 4, top + 1, x0 + 3 * w // 4 - 1, top + hgt // 3], fill=jitter((150, 190, 215), rng, 10))
    for wx in (x0 + w // 5, x0 + 4 * w // 5):
        canvas.ellipse([wx - wheel, base - wheel * 2 + 1, wx + wheel, base], fill=(20, 20, 20))
    if night:
        lamp = max(1, w // 10)
        canvas.lights.append(lambda: canvas.ellipse([x0 + w - lamp, base - wheel - lamp, x0 + w, base - wheel],
                                                         fill=(255, 240, 170)))
    canvas.annotate("cars", x0 - 1, top, x0 + w + 1, base + 1)


def draw_boat(canvas: Canvas, layout: Layout) -> None:
    """A hull with a mast and a white sail, floating on the ocean or water band."""
    rng = canvas.rng
    base = _base_y(canvas, layout.wet() or layout.land())
    w = canvas.px(canvas.u(0.1, 0.2) * _perspective(canvas, layout, base))
    x0 = canvas.px(canvas.u(0.0, 0.85))
    hull_h, mast = max(1, w // 4), max(2, round(w * 0.9))
    hull = jitter((120, 70, 40) if rng.random() < 0.5 else (235, 235, 235), rng, 15)
    canvas.draw.polygon([(x0, base - hull_h), (x0 + w, base - hull_h), (x0 + 4 * w // 5, base), (x0 + w // 5, base)],
                        fill=hull)
    mx = x0 + w // 2
    canvas.draw.line([(mx, base - hull_h), (mx, base - hull_h - mast)], fill=(60, 50, 40), width=canvas.line)
    canvas.draw.polygon([(mx + 1, base - hull_h - mast), (mx + 1, base - hull_h - 1), (mx + w // 2, base - hull_h - 1)],
                        fill=jitter((245, 245, 240), rng, 8))
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
    d.line([(cx - tall // 4, neck + tall // 6), (cx + tall // 4, neck + tall // 6)], fill=cloth, width=width)
    canvas.ellipse([cx - head, base - tall, cx + head, base - tall + 2 * head], fill=skin)
    canvas.annotate("person", cx - tall // 4 - 1, base - tall, cx + tall // 4 + 2, base + 1)


def draw_animal(canvas: Canvas, layout: Layout) -> None:
    """A four-legged animal: body, legs, head."""
    rng, d = canvas.rng, canvas.draw
    base = _base_y(canvas, layout.land())
    w = canvas.px(canvas.u(0.12, 0.2) * _perspective(canvas, layout, base))
    body_h, leg = max(2, w // 2), max(1, w // 3)
    x0 = canvas.px(canvas.u(0.02, 0.8))
    coat = jitter(((120, 75, 40), (30, 25, 20), (225, 220, 210), (160, 120, 80))[int(rng.integers(4))], rng, 15)
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
    colours = ((220, 30, 50), (245, 210, 40), (240, 120, 180), (150, 60, 190), (250, 250, 250), (250, 130, 30))
    xs, ys = [], []
    for _ in range(int(rng.integers(3, 9))):
        x, y = cx + int(rng.integers(-spread, spread + 1)), base - int(rng.integers(0, max(1, stem // 2) + 1))
        d.line([(x, y), (x, y - stem)], fill=jitter((50, 120, 40), rng, 10), width=1)
        canvas.ellipse([x - r, y - stem - r, x + r, y - stem + r], fill=jitter(_pick(colours, rng), rng, 15))
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
        d.pieslice([cx - r, top - r // 2, cx + r, top + r + r // 2], 180 + 30 * k, 210 + 30 * k,
                   fill=stripe if k % 2 == 0 else colours[1])
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
        d.polygon([(cx, top), (box[2], top + w // 2), (cx, box[3]), (box[0], top + w // 2)],
                  fill=jitter((245, 205, 30), rng, 10), outline=(20, 20, 20))
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


def _sky_point(canvas: Canvas, layout: Layout, low: float = 0.1, high: float = 0.8) -> tuple[int, int]:
    x = canvas.px(canvas.u(0.08, 0.92))
    y = int(layout.horizon * canvas.u(low, high))
    return x, y


def draw_sun(canvas: Canvas, layout: Layout, sunset: bool) -> None:
    """A bright disc, low and orange at sunset."""
    x, y = _sky_point(canvas, layout, 0.55, 0.85) if sunset else _sky_point(canvas, layout, 0.1, 0.6)
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
        parts = [(x, y, w, hgt), (x + w // 3, y - hgt // 2, w // 2, hgt),
                 (x - w // 3, y + hgt // 4, w // 2, hgt // 2 + 1)]
        for px, py, pw, ph in parts:
            canvas.ellipse([px - pw // 2, py - ph // 2, px + pw // 2, py + ph // 2], fill=white)
        canvas.annotate("clouds", x - w // 3 - w // 4, y - hgt, x + w // 3 + w // 4 + 1, y + hgt // 2 + hgt // 4 + 2)


def draw_birds(canvas: Canvas, layout: Layout) -> None:
    """One to five tiny dark "v" shapes, a few pixels wide: the finest-scale concept."""
    rng = canvas.rng
    upper = layout.horizon if layout.horizon > canvas.size // 4 else canvas.size // 2
    for _ in range(int(rng.integers(1, 6))):
        w = max(2, canvas.px(canvas.u(0.03, 0.06)))
        x = canvas.px(canvas.u(0.05, 0.9))
        y = max(w // 2 + 1, int(upper * canvas.u(0.1, 0.8)))
        dark = jitter((35, 35, 40), rng, 10)
        canvas.draw.line([(x, y - w // 2), (x + w // 2, y), (x + w, y - w // 2)], fill=dark, width=1)
        canvas.annotate("birds", x, y - w // 2, x + w + 1, y + 1)


def draw_stars(canvas: Canvas, layout: Layout) -> None:
    """A few faint stars in a night sky (no label: part of the sky)."""
    rng = canvas.rng
    for _ in range(int(rng.integers(2, 8))):
        x, y = int(rng.integers(0, canvas.size)), int(rng.integers(0, max(1, layout.horizon * 2 // 3)))
        canvas.draw.point((x, y), fill=(220, 220, 235))


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
    counts = {"tree": (1, 4), "cars": (1, 4), "boats": (1, 4), "person": (1, 4), "animal": (1, 3),
              "flowers": (1, 4), "beach": (1, 3), "sign": (1, 3), "flags": (1, 3)}
    makers: dict[str, Callable[[], None]] = {
        "tree": lambda: draw_tree(canvas, layout, pine=scene.name == "mountains" or "snow" in present),
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
