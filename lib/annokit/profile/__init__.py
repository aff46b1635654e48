"""Profiles: TOML files in ``lib/annokit/profiles/`` read into one typed settings object per
section.

``python -m annokit.profile check NAME_OR_PATH`` validates a profile; ``show NAME_OR_PATH --json``
prints every resolved setting, defaults included; ``schema`` writes the JSON schema of a profile.
"""

from annokit.profile.load import (
    PROFILES_DIR,
    Profile,
    available_profiles,
    load_profile,
    profile_path,
    trained_sections,
)
from annokit.profile.sections import (
    DATASETS,
    SPLIT_RULES,
    AnnotationSettings,
    BaselinesSettings,
    ClassifierSettings,
    CNNRNNSettings,
    CNNSettings,
    DemoSettings,
    EvaluationSettings,
    ImageCacheSettings,
    LoaderSettings,
    LQPSettings,
    MSCNNSettings,
    PartialSettings,
    PrecisionSettings,
    RNNSettings,
    StandinSettings,
    TagsMLPSettings,
    Training,
)
from annokit.profile.strict import ProfileError, stage_settings_dict

__all__ = [
    "DATASETS",
    "PROFILES_DIR",
    "SPLIT_RULES",
    "AnnotationSettings",
    "BaselinesSettings",
    "CNNRNNSettings",
    "CNNSettings",
    "ClassifierSettings",
    "DemoSettings",
    "EvaluationSettings",
    "ImageCacheSettings",
    "LoaderSettings",
    "LQPSettings",
    "MSCNNSettings",
    "PartialSettings",
    "PrecisionSettings",
    "Profile",
    "ProfileError",
    "RNNSettings",
    "StandinSettings",
    "TagsMLPSettings",
    "Training",
    "available_profiles",
    "load_profile",
    "profile_path",
    "stage_settings_dict",
    "trained_sections",
]
