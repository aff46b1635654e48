"""What the baselines read: the CNN's cached features and scores, the noisy tags and the labels, in
three parts.

The training split is cut into the fit images (every baseline trains or searches neighbours on these
alone) and the validation images (every choice is made on these: epochs, K, K1, the distance scale,
the tag weight), with the run's one validation split (``annokit.training.validation.split_of``). The
test split is read once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from annokit.artifacts.features import CachedArrays
from annokit.training.validation import split_of


class Parts(NamedTuple):
    """One kind of per-image array for the fit, validation and test images, in that order."""

    fit: np.ndarray
    validation: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class BaselineData:
    """The inputs of every baseline: f_v, ŝ, tags and labels as ``Parts``, and the test rows of the
    index."""

    features: Parts  # f_v, the fine-tuned CNN's pooled features (notebook 01)
    scores: Parts  # ŝ, its sigmoid scores, the input of the RNN decoders
    tags: Parts  # the noisy tags, multi-hot
    labels: Parts  # the ground truth, multi-hot
    test_rows: np.ndarray
    fit_positions: np.ndarray  # positions within the training split's arrays
    validation_positions: np.ndarray


def parts_of(train: np.ndarray, test: np.ndarray, fit: np.ndarray, validation: np.ndarray) -> Parts:
    """A training-split array cut at the fit and validation positions, beside the test array."""
    return Parts(np.asarray(train)[fit], np.asarray(train)[validation], np.asarray(test))


def baseline_data(
    run, features: CachedArrays | None = None, scores: CachedArrays | None = None
) -> BaselineData:
    """The baselines' inputs of a run (``annokit.artifacts.run.Run``): cached ``cnn_features`` and
    ``cnn_scores`` unless given."""
    features = features if features is not None else run.cached("cnn_features")
    scores = scores if scores is not None else run.cached("cnn_scores")
    if not (
        np.array_equal(features.train_rows, scores.train_rows)
        and np.array_equal(features.test_rows, scores.test_rows)
    ):
        raise ValueError(
            "cnn_features and cnn_scores cover different images: rerun notebook 01_cnn_finetune"
        )
    fit, validation = split_of(run.profile.evaluation, len(features.train_rows))
    if len(validation) == 0:
        raise ValueError(
            f"profile {run.profile.name}: [evaluation] validation_fraction = 0 leaves no "
            "validation images, and the baselines choose their epochs and neighbour counts on "
            "them: set it above 0"
        )
    labels, tags = run.index.label_matrix(), run.index.tag_matrix()
    train_rows, test_rows = features.train_rows, features.test_rows
    return BaselineData(
        features=parts_of(features.train, features.test, fit, validation),
        scores=parts_of(scores.train, scores.test, fit, validation),
        tags=parts_of(tags[train_rows], tags[test_rows], fit, validation),
        labels=parts_of(labels[train_rows], labels[test_rows], fit, validation),
        test_rows=np.asarray(test_rows),
        fit_positions=fit,
        validation_positions=validation,
    )
