"""Models of M3 (Niu et al. 2019): CNN baseline, MS-CNN, tags MLP, joint
classifier, label quantity regressor."""

from .backbone import ResNetBackbone, build_backbone
from .heads import JointClassifier
from .lqp import LabelQuantityRegressor
from .mscnn import MultiScaleCNN, build_mscnn
from .tags_mlp import TagsMLP

__all__ = [
    "JointClassifier",
    "LabelQuantityRegressor",
    "MultiScaleCNN",
    "ResNetBackbone",
    "TagsMLP",
    "build_backbone",
    "build_mscnn",
]
