"""Which model a prediction file holds, by the name the result tables give it, and its seeds.

A model's files are ``<model>`` (the profile's seed) and ``<model>@seed<k>`` (extra seeds, which
the tables average); the viewer lists one entry per model and lets a seed be chosen. The names
are the tables' own: M3 Tables I/II (``annokit.report.tables.M3_COMPONENTS``), the Multi-order
RNN's Table 1 as notebook 05 prints it (``annokit.methods.multi_order.TABLE1_ROWS``), the
reproduced baselines (``annokit.methods.baselines.registry.METHODS``) and the partial-label losses
(``annokit.methods.partial_labels.LOSSES``); M3's tags MLP, in no table, is "Tags MLP".
"""

from __future__ import annotations

import re

from annokit.methods.baselines.registry import METHODS
from annokit.methods.multi_order import TABLE1_ROWS
from annokit.methods.partial_labels import LOSSES
from annokit.report.tables import M3_COMPONENTS

_M3_ORDER = ("cnn", "mscnn", "tags_mlp", "mscnn_lqp", "mscnn_tags", "mscnn_tags_lqp", "upper_bound")
_TABLE_NAMES = {file: row for row, file in M3_COMPONENTS.items()} | {"tags_mlp": "Tags MLP"}
# Display names, in the order the papers' tables list the models: M3 Tables I/II (bottom up, the
# order M3 builds them), the Multi-order RNN's Table 1, then the reproduced baselines.
DISPLAY_NAMES = {
    **{file: _TABLE_NAMES[file] for file in _M3_ORDER},
    **TABLE1_ROWS,
    **{method.file: method.name for method in METHODS.values()},
    "wang_cnn_rnn": "CNN-RNN (Wang et al. 2016)",  # notebook 07
}
# Shown by default: the papers' own models at the profile's seed (the others on request).
MAIN_MODELS = (
    *_M3_ORDER,
    "multi_order_rnn",
    "cnn_rnn_frequent_first",
    "cnn_rnn_rare_first",
    "cnn_rnn_lexicographic",
)
_SEED = re.compile(r"^(?P<base>.+)@seed(?P<seed>\d+)$")
_PARTIAL = re.compile(r"^partial_(?P<loss>.+)_p(?P<percent>\d+)$")


def model_of(file: str) -> str:
    """The model a prediction file belongs to: ``mscnn_tags_lqp@seed1`` → ``mscnn_tags_lqp``."""
    match = _SEED.match(file)
    return match["base"] if match else file


def seed_of(file: str) -> int | None:
    """The extra seed in a file's name (``@seed<k>``), None for the profile's seed."""
    match = _SEED.match(file)
    return int(match["seed"]) if match else None


def display_name(model: str) -> str:
    """A reader's name for a prediction file: ``mscnn_tags_lqp`` → "MS-CNN+Tags+LQP"."""
    if (seed := seed_of(model)) is not None:
        return f"{display_name(model_of(model))}, seed {seed}"
    if match := _PARTIAL.match(model):
        loss = LOSSES[match["loss"]].title if match["loss"] in LOSSES else match["loss"]
        return f"Partial labels: {loss}, {int(match['percent'])}% known"
    if model in DISPLAY_NAMES:
        return DISPLAY_NAMES[model]
    return model.replace("_", " ")


def model_order(models: list[str]) -> list[str]:
    """The papers' order first (extra seeds right after their model), then
    partial-label runs, then the rest by name."""
    known = list(DISPLAY_NAMES)

    def key(model: str) -> tuple:
        base, seed = model_of(model), seed_of(model)
        seed_number = -1 if seed is None else seed
        if base in DISPLAY_NAMES:
            return (0, known.index(base), base, seed_number)
        return (1 if _PARTIAL.match(base) else 2, 0, base, seed_number)

    return sorted(models, key=key)


def model_groups(files: list[str]) -> dict[str, tuple[str, ...]]:
    """Each model's files, the profile's seed first, in ``model_order``: one menu entry each."""
    groups: dict[str, list[str]] = {}
    for file in model_order(files):
        groups.setdefault(model_of(file), []).append(file)
    return {model: tuple(group) for model, group in groups.items()}


def one_file_each(
    groups: dict[str, tuple[str, ...]], models: tuple[str, ...], selected: str
) -> tuple[str, ...]:
    """The files of the rows shown for ``models`` (models or files): one per model, in menu order,
    the ``selected`` file for its own model, which is always shown."""
    wanted = {model_of(m) for m in models} | {model_of(selected)}
    return tuple(
        selected if group == model_of(selected) else files[0]
        for group, files in groups.items()
        if group in wanted
    )


def seed_label(file: str, recorded: int | None) -> str:
    """The seed menu's entry of a file: "seed 1", or "seed 0 (the profile's)" for the main file."""
    seed = seed_of(file)
    if seed is not None:
        return f"seed {seed}"
    return "seed (the profile's)" if recorded is None else f"seed {recorded} (the profile's)"


def is_main_model(model: str) -> bool:
    """One of the papers' models at the profile's own seed (shown by default; the others, reproduced
    baselines included, on request)."""
    return model in MAIN_MODELS
