"""``python -m annokit.bench``: a non-positive or malformed value is refused naming the option."""

import pytest

from annokit.bench.__main__ import parse_args


@pytest.mark.parametrize(
    ("argv", "option", "problem"),
    [
        (["--batch-size", "0"], "--batch-size", "'0' is not a whole number of at least 1"),
        (["--images", "0"], "--images", "'0' is not a whole number of at least 1"),
        (["--inference-batch", "-3"], "--inference-batch", "at least 1"),
        (["--image-size", "abc"], "--image-size", "'abc' is not a whole number"),
        (["--workers", "-2"], "--workers", "give 0 or more"),
        (["--seconds", "0"], "--seconds", "'0' is not a number of seconds above 0"),
    ],
)
def test_bad_values_are_refused_naming_the_option(argv, option, problem, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and problem in err


@pytest.mark.parametrize(
    ("argv", "option", "problem"),
    [
        (["--compile-modes", "off,fast"], "--compile-modes", "'off,fast' is not a list of compile"),
        (["--compile-modes", ","], "--compile-modes", "give some of off,default,reduce-overhead"),
        (["--compile", "fast"], "--compile", "invalid choice: 'fast'"),
    ],
)
def test_an_unknown_compile_mode_is_refused_naming_the_modes(argv, option, problem, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    err = capsys.readouterr().err
    assert f"argument {option}" in err and problem in err


@pytest.mark.parametrize(
    ("argv", "compile_", "modes"),
    [
        ([], None, ()),
        (["--compile"], "default", ()),
        (["--compile", "max-autotune"], "max-autotune", ()),
        (["--no-compile"], "off", ()),
        (
            ["--compile-modes", "off, default,off,reduce-overhead"],
            None,
            ("off", "default", "reduce-overhead"),
        ),
    ],
)
def test_compile_options(argv, compile_, modes):
    args = parse_args(argv)
    assert args.compile == compile_ and args.compile_modes == modes
