"""Noisy tags from captions: COCO has no user tags, so M3 takes
the 1,000 most frequent caption words.

The rule, applied identically everywhere:

1. A caption is lowercased.
2. Its tokens are the maximal runs of the letters a-z (regex ``[a-z]+``); every other
   character (digits, punctuation, apostrophes, hyphens, accented letters) separates tokens,
   so "bird's" gives "bird" and "s", and "t-shirt" gives "t" and "shirt".
3. Tokens of length 1 and tokens in scikit-learn's ``ENGLISH_STOP_WORDS`` are dropped.
4. A word's frequency is its number of occurrences over all captions of the TRAINING split
   (repeats inside one caption count), so the vocabulary never sees test captions.
5. The vocabulary is the ``size`` (default 1000) most frequent words, ties broken
   alphabetically; it is shorter when fewer distinct words exist.
6. An image has tag w if any of its captions contains the token w.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

DEFAULT_VOCABULARY_SIZE = 1000

_TOKEN = re.compile(r"[a-z]+")


def tokenize(caption: str) -> list[str]:
    """The caption's tag tokens in order (rule steps 1-3), repeats kept for frequency counting."""
    return [
        t for t in _TOKEN.findall(caption.lower()) if len(t) > 1 and t not in ENGLISH_STOP_WORDS
    ]


def build_vocabulary(
    captions_per_image: Sequence[Sequence[str]], size: int = DEFAULT_VOCABULARY_SIZE
) -> tuple[str, ...]:
    """The ``size`` most frequent tokens of the given (training) captions, ties alphabetical."""
    if size < 0:
        raise ValueError(f"vocabulary size must be non-negative, got {size}")
    counts = Counter(t for captions in captions_per_image for c in captions for t in tokenize(c))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(word for word, _ in ranked[:size])


def tags_matrix(
    captions_per_image: Sequence[Sequence[str]], vocabulary: Sequence[str]
) -> np.ndarray:
    """N×T bool matrix: image i has tag j when any of its captions contains ``vocabulary[j]``."""
    column = {word: j for j, word in enumerate(vocabulary)}
    tags = np.zeros((len(captions_per_image), len(vocabulary)), dtype=bool)
    for i, captions in enumerate(captions_per_image):
        hits = {column[t] for c in captions for t in tokenize(c) if t in column}
        tags[i, list(hits)] = True
    return tags
