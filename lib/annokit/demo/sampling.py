"""Sampling an image's scene type, labels, noisy tags and captions from a seeded generator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from annokit.demo.seeding import _pick
from annokit.demo.vocabulary import _UNRELATED_SORTED, CONCEPTS, LABEL_NAMES, SCENES, Scene

# Every function takes a ``numpy.random.Generator`` and is otherwise pure, so one seed gives the
# same dataset everywhere. Scene types make labels co-occur like real photographs (the RNN
# paper's label dependencies); tags follow a Flickr-like noise model (M3's textual branch).

# A concept drags in all of REQUIRES_ALL and one of REQUIRES_ANY (first alternative), so
# e.g. sun always comes with sky: real, learnable label dependencies.
REQUIRES_ALL: dict[str, tuple[str, ...]] = {
    "sun": ("sky",),
    "clouds": ("sky",),
    "sunset": ("sky",),
    "mountain": ("sky",),
    "moon": ("sky", "nighttime"),
    "window": ("buildings",),
}
REQUIRES_ANY: dict[str, tuple[str, ...]] = {"boats": ("ocean", "water")}
EXCLUSIVE: tuple[tuple[str, str], ...] = (
    ("sun", "moon"),
    ("sun", "nighttime"),
    ("sunset", "nighttime"),
    ("sunset", "moon"),
    ("sand", "snow"),
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

P_NO_TAG = 0.06  # Flickr images with no tag at all (M3 drops them)
P_OWN_WORD = 0.6  # a true concept's own word is tagged
P_SYNONYM = 0.2  # each synonym of a true concept
P_SCENE_WORD = 0.25  # each word of the image's scene
P_WRONG_CONCEPT = 0.2  # one concept word the image does not show
MEAN_UNRELATED = 2.0  # Poisson mean of camera / place / award words


def sample_tags(scene: Scene, labels: Sequence[str], rng: np.random.Generator) -> tuple[str, ...]:
    """Noisy Flickr-style tags of an image, sorted: informative about its
    labels but incomplete and polluted."""
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
    picks = rng.choice(
        len(_UNRELATED_SORTED), size=min(n_unrelated, len(_UNRELATED_SORTED)), replace=False
    )
    tags.extend(_UNRELATED_SORTED[int(k)] for k in picks)
    if not tags:  # the no-tag share is exactly P_NO_TAG
        tags.append(_pick(_UNRELATED_SORTED, rng))
    return tuple(sorted(set(tags)))


# --------------------------------------------------------------------------- captions

_ADJECTIVES = (
    "sunny",
    "bright",
    "quiet",
    "busy",
    "beautiful",
    "cloudy",
    "nice",
    "cold",
    "warm",
    "calm",
)
_ONE = (
    "a photo of {a}.",
    "{a} in the picture.",
    "a close up view of {a}.",
    "there is {a} in this image.",
    "an image showing {a}.",
    "a view of {a}.",
    "a {adj} {scene} with {a}.",
    "{a} in a {scene}.",
)
_TWO = (
    "{a} with {b} in the background.",
    "{a} next to {b}.",
    "{a} and {b} on a {adj} day.",
    "there is {a} near {b}.",
    "a picture of {a} and {b}.",
    "{a} under {b}.",
    "a {scene} with {a} and {b}.",
)
_THREE = (
    "{a}, {b} and {c} in one scene.",
    "a {adj} view of {a} with {b} and {c}.",
    "{a} near {b} with {c} behind it.",
    "a {scene} with {a}, {b} and {c}.",
)
_ABSTRACT = (
    "an abstract pattern of colors.",
    "a blurry picture with no clear subject.",
    "a close up of a textured surface.",
    "a colorful abstract image.",
    "a picture of a plain wall with some texture.",
    "an out of focus photo of shapes.",
)
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
        text = template.format(
            a=slots[0],
            b=slots[1],
            c=slots[2],
            adj=_pick(_ADJECTIVES, rng),
            scene=_pick(scene.phrases, rng),
        )
    return text[0].upper() + text[1:]


def make_captions(scene: Scene, labels: Sequence[str], rng: np.random.Generator) -> list[str]:
    """The five captions of an image."""
    return [make_caption(scene, labels, rng) for _ in range(CAPTIONS_PER_IMAGE)]
