"""Every error of a profile in one message, each in the file where it is; `extends` chains; the
JSON schema of a profile file."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from annokit.profile import PROFILES_DIR, ProfileError, available_profiles, load_profile
from annokit.profile.__main__ import main as profile_cli
from annokit.profile.load import FILE_KEYS

DEMO = (PROFILES_DIR / "demo.toml").read_text()
SECTIONS = (
    "cnn mscnn tags_mlp classifier lqp annotation rnn partial loader evaluation baselines cache "
    "precision demo standin"
).split()


def edited(path: Path, text: str, *changes: tuple[str, str]) -> Path:
    """``text`` with each (old, new) replaced once, written to ``path``."""
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text)
    return path


THREE_MISTAKES = (
    ("lr = 0.05", "lerning_rate = 0.05"),  # the first is [cnn]'s
    ('optimizer = "rmsprop_tf"', 'optimizer = "adamw"'),
    ("workers = 0", "workers = -2"),
)


def test_three_mistakes_in_three_sections_are_one_error_listing_all_three(tmp_path):
    path = edited(tmp_path / "three.toml", DEMO, *THREE_MISTAKES)
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    header, *lines = str(error.value).splitlines()
    assert header == f"{path}: 3 errors"
    assert [line.strip().split(" ", 2)[:2] for line in lines] == [
        [str(path), "[cnn]:"],
        [str(path), "[rnn]"],
        [str(path), "[loader]"],
    ]
    assert "unknown key 'lerning_rate'; the closest valid key is 'lr'" in lines[0]
    assert (
        "optimizer = 'adamw' is not allowed: use one of sgd, rmsprop, rmsprop_tf, adam" in lines[1]
    )
    assert "workers = -2 must be at least -1" in lines[2]
    assert "'lr' is required and missing" not in str(error.value)  # the misspelt key, once


def test_check_prints_every_error_and_exits_1(tmp_path, capsys):
    path = edited(tmp_path / "three.toml", DEMO, *THREE_MISTAKES)
    assert profile_cli(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count(str(path)) == 4 and "lerning_rate" in err and "adamw" in err and "-2" in err


def test_every_kind_of_error_is_listed_across_sections(tmp_path):
    path = edited(
        tmp_path / "many.toml",
        DEMO,
        ("seed = 0\n", "sed = 0\n"),
        ("epochs = 6", 'epochs = "six"'),
        ("pretrained = true", "pretrained = 1"),
        ("[mscnn]", "[mscn]"),
        ("top_k = 3", "top_k = 0"),
        ('finetune = "last_block"', 'finetune = "some"'),
    )
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    text = str(error.value)
    assert text.startswith(f"{path}: 6 errors\n")
    for expected in (
        "unknown top-level key 'sed'; the closest valid top-level key is 'seed'",
        "[cnn] epochs must be an integer, got 'six' (str)",
        "[cnn] pretrained must be true or false, got 1 (int)",
        "unknown section 'mscn'; the closest valid section is 'mscnn'",
        "[annotation] top_k = 0 must be at least 1",
        "[partial] finetune = 'some' is not allowed: use one of all, last_block",
    ):
        assert expected in text


def test_a_value_for_a_section_and_the_file_name_as_a_key_are_errors(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('extends = "demo"\nname = "other"\nannotation = 5\n')
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    name, annotation = str(error.value).splitlines()[1:]
    assert name.startswith(f"  {path}: unknown top-level key 'name'; the closest valid")
    assert f"(valid: {', '.join(sorted(FILE_KEYS))})" in name
    assert annotation == (
        f"  {path} [annotation] must be a table ([annotation] with key = value lines), got 5 (int)"
    )
    path.write_text("extends = 5\n")
    with pytest.raises(ProfileError, match=re.escape(f"{path}: extends must name one profile")):
        load_profile(path)


@pytest.mark.parametrize(
    "line, key, expected",
    [
        ("lr = inf", "[cnn] lr", "lr = inf must be a finite number"),
        ("lr = nan", "[cnn] lr", "lr = nan must be a finite number"),
        ("lr = -inf", "[cnn] lr", "lr = -inf must be a finite number"),
        (
            "batch_size = 12345678901234567890",
            "[cnn] batch_size",
            "batch_size = 12345678901234567890 must be less than 2147483648",
        ),
        ("epochs = 2147483648", "[cnn] epochs", "epochs = 2147483648 must be less than 2147483648"),
        ("seeds = [0, 99999999999]", "[cnn] seeds[1]", "seeds[1] = 99999999999 must be less than"),
    ],
)
def test_infinite_floats_and_huge_integers_are_refused_by_check(
    tmp_path, capsys, line, key, expected
):
    path = tmp_path / "mine.toml"
    path.write_text(f'extends = "{PROFILES_DIR / "demo.toml"}"\n[cnn]\n{line}\n')
    assert profile_cli(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path} {key}" in err and expected in err


def test_the_largest_sane_integer_and_an_int_for_a_float_are_accepted(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('extends = "demo"\n[cnn]\nepochs = 2147483647\nlr = 1\n')
    profile = load_profile(path)
    assert (
        profile.cnn.epochs == 2**31 - 1
        and profile.cnn.lr == 1.0
        and isinstance(profile.cnn.lr, float)
    )


@pytest.mark.parametrize(
    "line, expected",
    [
        ("epochs = 6.0", "[cnn] epochs must be an integer, got 6.0 (float)"),
        ("epochs = true", "[cnn] epochs must be an integer, got True (bool)"),
        ('lr = "0.1"', "[cnn] lr must be a number, got '0.1' (str)"),
        ("lr = false", "[cnn] lr must be a number, got False (bool)"),
        ("weights_path = 3", "[cnn] weights_path must be a string, got 3 (int)"),
        ("seeds = 3", "[cnn] seeds must be a list, got 3 (int)"),
        ('seeds = [0, "1"]', "[cnn] seeds[1] must be an integer, got '1' (str)"),
    ],
)
def test_values_of_another_type_are_refused_as_before(tmp_path, line, expected):
    path = tmp_path / "mine.toml"
    path.write_text(f'extends = "demo"\n[cnn]\n{line}\n')
    with pytest.raises(ProfileError, match=re.escape(f"{path} {expected}")):
        load_profile(path)


def test_an_extends_loop_is_reported_as_a_loop_naming_the_files(tmp_path, capsys):
    (tmp_path / "a.toml").write_text('extends = "b"\n')
    (tmp_path / "b.toml").write_text('extends = "a"\n')
    assert profile_cli(["check", str(tmp_path / "a.toml")]) == 1
    err = capsys.readouterr().err
    assert "loop" in err and "chains of at most" not in err
    assert f"{tmp_path / 'a.toml'} -> {tmp_path / 'b.toml'} -> {tmp_path / 'a.toml'}" in err


def test_a_long_chain_of_extends_is_refused(tmp_path):
    (tmp_path / "p0.toml").write_text('extends = "demo"\n')
    for i in range(1, 10):
        (tmp_path / f"p{i}.toml").write_text(f'extends = "p{i - 1}"\n')
    assert load_profile(tmp_path / "p6.toml").dataset == "nuswide"
    with pytest.raises(ProfileError, match="chains of at most 8"):
        load_profile(tmp_path / "p9.toml")


def test_a_user_profile_outside_profiles_extends_a_shipped_profile_by_name(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('extends = "demo"\n[cnn]\nlr = 0.01\n')
    result = subprocess.run(
        [sys.executable, "-m", "annokit.profile", "check", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    profile = load_profile(path)
    assert profile.cnn.lr == 0.01 and profile.cnn.epochs == load_profile("demo").cnn.epochs


def test_extends_prefers_a_file_beside_the_profile_over_a_shipped_one(tmp_path):
    edited(
        tmp_path / "demo.toml",
        DEMO,
        ("image_size = 64\ntag_vocab_size", "image_size = 32\ntag_vocab_size"),
    )
    (tmp_path / "mine.toml").write_text('extends = "demo"\n')
    assert load_profile(tmp_path / "mine.toml").image_size == 32
    (tmp_path / "mine.toml").write_text('extends = "nowhere"\n')
    with pytest.raises(ProfileError, match=r"extends 'nowhere', but neither .*nowhere.toml nor"):
        load_profile(tmp_path / "mine.toml")


def test_a_file_named_like_a_shipped_profile_extends_the_shipped_one(tmp_path):
    path = tmp_path / "demo.toml"
    path.write_text('extends = "demo"\nseed = 3\n')
    assert load_profile(path).seed == 3


def test_an_error_in_a_base_profile_names_the_base_file(tmp_path):
    base = edited(
        tmp_path / "base.toml", DEMO, ("top_k = 3", "top_kk = 3"), ("n_test = 1000", "n_test = 0")
    )
    child = tmp_path / "child.toml"
    child.write_text('extends = "base"\n[cnn]\nlr = 0.1\nmomentm = 0.5\n')
    with pytest.raises(ProfileError) as error:
        load_profile(child)
    lines = str(error.value).splitlines()
    assert lines[0] == f"{child}: 3 errors"
    assert any(f"{base} [annotation]: unknown key 'top_kk'" in line for line in lines)
    assert any(f"{base} [demo] n_test = 0 must be at least 1" in line for line in lines)
    assert any(f"{child} [cnn]: unknown key 'momentm'" in line for line in lines)


def test_schema_lists_every_section_type_default_choice_and_range(tmp_path, capsys):
    out = tmp_path / "profile.schema.json"
    assert profile_cli(["schema", "--out", str(out)]) == 0
    schema = json.loads(out.read_text())
    assert capsys.readouterr().out == f"{out}: the JSON schema of a profile file\n"
    assert profile_cli(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema
    assert set(SECTIONS) <= set(schema["properties"])
    assert {"description", "dataset", "seed", "data_root", "extends"} <= set(schema["properties"])
    assert "name" not in schema["properties"]
    definitions = schema["$defs"]

    def section(name):
        return definitions[schema["properties"][name]["$ref"].rsplit("/", 1)[-1]]

    cnn = section("cnn")["properties"]
    assert cnn["lr"]["exclusiveMinimum"] == 0 and cnn["lr"]["type"] == "number"
    assert (
        cnn["optimizer"]["enum"] == ["sgd", "rmsprop", "rmsprop_tf", "adam"]
        and cnn["optimizer"]["default"] == "sgd"
    )
    assert cnn["epochs"]["minimum"] == 1 and cnn["epochs"]["type"] == "integer"
    assert section("rnn")["properties"]["optimizer"]["default"] == "rmsprop"
    assert section("evaluation")["properties"]["validation_fraction"]["exclusiveMaximum"] == 1
    assert section("partial")["properties"]["proportions"]["minItems"] == 1
    assert schema["properties"]["dataset"]["enum"] == [
        "coco2014",
        "nuswide",
        "voc2007",
        "csv",
        "cocojson",
    ]
    assert "backbone" in schema["then"]["properties"]["cnn"]["required"]


def test_every_shipped_profile_file_matches_the_schema_and_a_bad_one_does_not(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    out = tmp_path / "profile.schema.json"
    profile_cli(["schema", "--out", str(out)])
    validator = jsonschema.Draft202012Validator(json.loads(out.read_text()))
    for name in available_profiles():
        table = tomllib.loads((PROFILES_DIR / f"{name}.toml").read_text())
        assert not list(validator.iter_errors(table)), name
    bad = tomllib.loads(edited(tmp_path / "bad.toml", DEMO, *THREE_MISTAKES).read_text())
    assert len(list(validator.iter_errors(bad))) >= 3
