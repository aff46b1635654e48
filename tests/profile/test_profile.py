"""Profiles are strict, typed data: every shipped profile loads, a typo or a wrong type is an error
that names it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from annokit.data.manifest_file import load_manifest
from annokit.profile import (
    PROFILES_DIR,
    ProfileError,
    RNNSettings,
    available_profiles,
    load_profile,
)
from annokit.profile.__main__ import main as profile_cli
from annokit.profile.strict import closest


@pytest.mark.parametrize("name", available_profiles())
def test_every_profile_loads_and_names_an_existing_manifest(name):
    profile = load_profile(name)
    manifest = load_manifest(profile.manifest)
    assert (manifest.dataset, manifest.split_rule) == (profile.dataset, profile.split_rule)


@pytest.mark.parametrize("name", available_profiles())
def test_show_json_prints_every_resolved_setting(name, capsys):
    assert profile_cli(["show", name, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["dataset"] == load_profile(name).dataset
    for section in (
        "cnn",
        "mscnn",
        "tags_mlp",
        "classifier",
        "lqp",
        "annotation",
        "rnn",
        "partial",
    ):
        assert {"epochs", "lr"} <= set(shown[section]) or section == "annotation"
    assert shown["annotation"] == {
        "top_k": 3
    }  # a default is shown although no file needs to state it
    assert shown["rnn"]["optimizer"] == "rmsprop_tf" and shown["cnn"]["optimizer"] == "sgd"


def test_overrides_replace_single_values(tmp_path):
    profile = load_profile("nuswide-m3", data_root=str(tmp_path), seed=5)
    assert profile.resolved_data_root() == Path(tmp_path)
    assert profile.seed == 5 and profile.split_rule == "m3"


def test_real_profile_without_data_root_says_how_to_give_it():
    with pytest.raises(ValueError, match="data_root"):
        load_profile("coco-m3").resolved_data_root()


def test_unknown_profile_lists_the_available_ones():
    with pytest.raises(ProfileError, match="demo"):
        load_profile("no-such-profile")


def test_extends_takes_the_base_and_replaces_single_values():
    coco, nuswide = load_profile("coco-m3"), load_profile("nuswide-m3")
    assert coco.tags_mlp.lr == 0.0001 and nuswide.tags_mlp.lr == 0.1  # M3 Sec. IV-A3, per dataset
    assert coco.tags_mlp.batch_size == nuswide.tags_mlp.batch_size  # not restated, inherited
    assert load_profile("demo-coco-multi-order").dataset == "coco2014"  # two levels of extends


def write_variant(tmp_path: Path, old: str, new: str, base: str = "demo") -> Path:
    text = (PROFILES_DIR / f"{base}.toml").read_text()
    assert old in text
    path = tmp_path / "variant.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            "lr = 0.05",
            "lerning_rate = 0.05",
            r"\[cnn\]: unknown key 'lerning_rate'; the closest valid key is 'lr'",
        ),
        (
            "batch_size = 64",
            "batchsize = 64",
            r"unknown key 'batchsize'; the closest valid key is 'batch_size'",
        ),
        ("epochs = 6", 'epochs = "six"', r"\[cnn\] epochs must be an integer, got 'six'"),
        ("pretrained = true", "pretrained = 1", r"\[cnn\] pretrained must be true or false"),
        (
            'backbone = "resnet18"',
            'backbone = "resnet19"',
            r"backbone = 'resnet19' is not allowed: use one of resnet18",
        ),
        (
            "seed = 0",
            "sed = 0",
            r"unknown top-level key 'sed'; the closest valid top-level key is 'seed'",
        ),
        ("[mscnn]", "[mscn]", r"unknown section 'mscn'; the closest valid section is 'mscnn'"),
        ("lr = 0.05", "lr = 0", r"\[cnn\] lr = 0.0 must be greater than 0"),
        (
            "proportions = [0.1,",
            "proportions = [1.5,",
            r"\[partial\] proportions\[0\] = 1.5 must be at most 1.0",
        ),
        ('description = "Synthetic', 'descr = "Synthetic', r"unknown top-level key 'descr'"),
    ],
)
def test_a_typo_or_a_wrong_type_is_an_error_naming_file_section_and_key(
    tmp_path, old, new, expected
):
    path = write_variant(tmp_path, old, new)
    with pytest.raises(ProfileError, match=expected) as error:
        load_profile(path)
    assert str(path) in str(error.value)


def test_a_missing_required_key_or_section_is_an_error(tmp_path):
    text = (PROFILES_DIR / "demo.toml").read_text()
    path = tmp_path / "no_description.toml"
    path.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("description"))
    )
    with pytest.raises(
        ProfileError, match=rf"{path}: the key 'description' is required and missing"
    ):
        load_profile(path)
    path.write_text(text.replace("[lqp]\n", "[lqp_old]\n"))
    with pytest.raises(
        ProfileError, match="unknown section 'lqp_old'; the closest valid section is 'lqp'"
    ):
        load_profile(path)


def test_not_toml_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("description = \n[cnn\n")
    with pytest.raises(ProfileError, match=rf"{path}: not valid TOML"):
        load_profile(path)


def test_check_command_exit_codes(tmp_path):
    good = [sys.executable, "-m", "annokit.profile", "check", "demo"]
    assert subprocess.run(good, capture_output=True, text=True).returncode == 0
    bad = write_variant(tmp_path, "lr = 0.05", "lerning_rate = 0.05")
    result = subprocess.run(
        [sys.executable, "-m", "annokit.profile", "check", str(bad)], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert (
        "lerning_rate" in result.stderr
        and "'lr'" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_closest_valid_key_prefers_abbreviations_then_spelling():
    assert closest("lerning_rate", ["lr", "epochs", "momentum"]) == "lr"
    assert closest("weigth_decay", ["lr", "weight_decay", "momentum"]) == "weight_decay"
    assert closest("momentun", ["lr", "weight_decay", "momentum"]) == "momentum"


def test_settings_objects_have_their_defaults_in_one_place():
    settings = RNNSettings(epochs=1, batch_size=2, lr=0.1)
    assert (settings.hidden, settings.embedding, settings.steps, settings.optimizer) == (
        512,
        256,
        5,
        "rmsprop",
    )
