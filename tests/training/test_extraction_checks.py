"""Exploding features are caught where they are made: ``features_and_scores`` refuses non-finite
features or scores and warns on features over ``FEATURE_BOUND``."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from annokit.training.extraction import FEATURE_BOUND, FeatureScaleWarning, features_and_scores


class Scaled(nn.Module):
    """A tiny model whose features are its inputs times ``scale`` (inf, nan or huge on demand)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.fc = nn.Linear(3, 2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def extract(scale: float) -> tuple:
    data = TensorDataset(torch.ones(5, 3), torch.zeros(5, 2))
    return features_and_scores(Scaled(scale), data, torch.device("cpu"), desc="mscnn on train")


@pytest.mark.parametrize("scale", [float("inf"), float("nan")])
def test_non_finite_features_stop_extraction_naming_the_stage_and_the_fix(scale):
    with pytest.raises(FloatingPointError) as error:
        extract(scale)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("mscnn on train: ")
    assert "nan or inf" in message and "lower this stage's lr" in message


def test_huge_features_warn_once_in_one_line_but_are_returned():
    with pytest.warns(FeatureScaleWarning) as caught:
        features, scores = extract(3.8e5)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "\n" not in message and "mscnn on train" in message and "3.8e+05" in message
    assert features.max() == pytest.approx(3.8e5) and scores.shape == (5, 2)


def test_healthy_features_pass_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        features, _ = extract(FEATURE_BOUND / 10)
    assert features.shape == (5, 3)
