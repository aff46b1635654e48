"""Profiles are data: every shipped profile loads, overrides replace single values."""

from pathlib import Path

import pytest

from annokit.data.manifest import load_manifest
from annokit.profile import available_profiles, load_profile


@pytest.mark.parametrize("name", available_profiles())
def test_every_profile_loads_and_names_an_existing_manifest(name):
    profile = load_profile(name)
    manifest = load_manifest(profile.manifest)
    assert (manifest.dataset, manifest.split_rule) == (profile.dataset, profile.split_rule)


def test_overrides_replace_single_values(tmp_path):
    profile = load_profile("nuswide-m3", data_root=str(tmp_path), seed=5)
    assert profile.resolved_data_root() == Path(tmp_path)
    assert profile.seed == 5 and profile.split_rule == "m3"


def test_real_profile_without_data_root_says_how_to_give_it():
    with pytest.raises(ValueError, match="data_root"):
        load_profile("coco-m3").resolved_data_root()


def test_unknown_profile_lists_the_available_ones():
    with pytest.raises(FileNotFoundError, match="demo"):
        load_profile("no-such-profile")
