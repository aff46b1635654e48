"""The viewer's logic without a screen: which images are listed, in
what order, and what each one shows.

A ``Browser`` holds the state the controls change (selected model, its decision rule, the filter,
the sort, the place in the list) and answers with plain data: the list of test images and, for
one image, an ``ImagePanel`` with every shown model's labels marked correct, extra (a false
positive) or missed (a false negative). ``html`` turns a panel into HTML and ``widget`` binds
ipywidgets to a browser; tests drive the browser, or the widgets, without a browser window.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annokit.viewer.criteria import (
    OUTCOMES,
    SORTS,
    Filter,
    ImageStats,
    Rule,
    image_f1,
    image_stats,
)
from annokit.viewer.model_names import (
    is_main_model,
    model_groups,
    model_of,
    one_file_each,
    seed_label,
)
from annokit.viewer.store import ModelOutput, ViewerData

CORRECT, EXTRA, MISSED = "correct", "extra", "missed"
# selected at start when present: M3, then the Multi-order RNN
PREFERRED_MODELS = ("mscnn_tags_lqp", "multi_order_rnn")
TOP_PER_STEP = 5  # labels listed per time step, as in Dutta et al. Fig. 3


@dataclass(frozen=True)
class LabelMark:
    """One label of a model's row: its score and whether it is correct, extra or missed."""

    label: str
    score: float
    outcome: str


@dataclass(frozen=True)
class StepLabel:
    """One of the top labels at a decoder step (Dutta et al. Fig. 3)."""

    label: str
    probability: float
    true: bool
    picked: bool  # the label the decoder took at this step (fed back to the next)
    # this step holds the label's max over steps, the value max-pooling keeps ("*" in Fig. 3)
    pooled: bool


@dataclass(frozen=True)
class ModelRow:
    """What one model says about one image."""

    model: str
    name: str
    rule: str
    selected: bool
    covered: bool
    marks: tuple[LabelMark, ...] = ()
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    quantity: tuple[int, float] | None = None  # LQP models: (m̂, raw regressor output)
    true_count: int = 0
    steps: tuple[tuple[StepLabel, ...], ...] | None = None

    def labels(self, outcome: str) -> list[str]:
        return [m.label for m in self.marks if m.outcome == outcome]


@dataclass(frozen=True)
class ImagePanel:
    """Everything shown for one test image."""

    position: int
    place: int | None  # where it is in the current list (None: not in it)
    listed: int  # how many images the current list holds
    image_id: str
    image_path: Path
    truth: tuple[str, ...]
    tags: tuple[str, ...]
    rows: tuple[ModelRow, ...]


class Browser:
    """The state behind the controls and the answers it gives; no widget, no browser."""

    def __init__(
        self, data: ViewerData, model: str | None = None, shown: tuple[str, ...] | None = None
    ):
        self.data = data
        if not data.models:
            raise ValueError(
                f"no prediction files for profile {data.profile!r}: run notebooks 01-08 first"
            )
        self.groups = model_groups(list(data.models))  # menu entry -> its seeds' files
        preferred = next((m for m in PREFERRED_MODELS if m in self.groups), next(iter(self.groups)))
        self.model = self._file(model if model is not None else preferred)
        main = [m for m in data.models if is_main_model(m)] or list(data.models)
        self.shown = self._files(shown if shown is not None else tuple(main))
        self.rule, self.filter, self.sort = Rule(), Filter(), "test_order"
        self._stats: dict[tuple[str, Rule], ImageStats] = {}
        self._order = np.arange(len(data))
        # open on the first image with a true label: an unlabelled one shows nothing to compare
        labelled = np.flatnonzero(data.truth.any(axis=1))
        self.cursor = int(labelled[0]) if len(labelled) else 0

    @classmethod
    def from_run(cls, run, **kwargs) -> Browser:
        return cls(ViewerData.from_run(run), **kwargs)

    # State changes: each recomputes the list; a new filter or sort starts at its top,
    # a new model or rule stays on the image shown (so moving the threshold slider
    # changes what it shows, not which).

    def select_model(self, model: str) -> None:
        """Select a model (its profile's seed) or one prediction file (a seed of it)."""
        self.model = self._file(model)
        self.shown = self._files(self.shown + (self.model,))
        self._relist(keep_image=True)

    @property
    def selected_group(self) -> str:
        """The model (menu entry) of the selected file."""
        return model_of(self.model)

    def seeds(self, group: str | None = None) -> list[tuple[str, str]]:
        """(label, file) of each seed of a model (default: the selected one)."""
        files = self.groups[group or self.selected_group]
        return [(seed_label(f, self.data.models[f].seed), f) for f in files]

    def _file(self, model: str) -> str:
        """The prediction file of a model or file name: a model's is its profile's seed."""
        if model in self.data.models:
            return model
        if model in self.groups:
            return self.groups[model][0]
        raise KeyError(f"no prediction file for {model!r}; the run has {list(self.groups)}")

    def _files(self, models: tuple[str, ...]) -> tuple[str, ...]:
        """The files of the rows shown: one per model, the selected file for the selected model."""
        unknown = sorted(m for m in models if m not in self.data.models and m not in self.groups)
        if unknown:
            raise KeyError(f"no prediction files for {unknown}")
        return one_file_each(self.groups, models, self.model)

    def set_rule(self, rule: Rule) -> None:
        self.rule = rule
        self._relist(keep_image=True)

    def set_filter(self, filter: Filter) -> None:
        if filter.label is not None and filter.label not in self.data.label_names:
            raise KeyError(f"unknown label {filter.label!r}")
        self.filter = filter
        self._relist(keep_image=False)

    def set_sort(self, sort: str) -> None:
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {list(SORTS)}, not {sort!r}")
        self.sort = sort
        self._relist(keep_image=False)

    def show_models(self, models: tuple[str, ...]) -> None:
        """Which models' rows the panel shows (the selected one always among them)."""
        self.shown = self._files(tuple(models))

    # The list and the place in it.

    @property
    def order(self) -> np.ndarray:
        """Viewer positions (places in the test split) of the listed images, in display order."""
        return self._order

    @property
    def current(self) -> int | None:
        """Position of the image shown, None when the filter leaves nothing."""
        return int(self._order[self.cursor]) if len(self._order) else None

    def go(self, place: int) -> None:
        """Jump to the ``place``-th listed image (0-based, clamped to the list)."""
        self.cursor = int(np.clip(place, 0, max(len(self._order) - 1, 0)))

    def next(self, step: int = 1) -> None:
        self.go(self.cursor + step)

    def previous(self, step: int = 1) -> None:
        self.go(self.cursor - step)

    def page(self, size: int) -> np.ndarray:
        """The grid page holding the current image: ``size`` listed positions."""
        start = self.cursor // size * size
        return self._order[start : start + size]

    def stats(self, model: str | None = None, rule: Rule | None = None) -> ImageStats:
        """Per-image counts and F1 of a model (default: the selected
        one and its current rule), cached."""
        model = model or self.model
        key = (model, rule or (self.rule if model == self.model else Rule()))
        if key not in self._stats:
            output = self.data.models[model]
            everything = np.arange(len(self.data))
            covered = output.covered
            predicted = key[1].apply(output, everything) & covered[:, None]
            if len(self._stats) >= 4:
                self._stats.pop(next(iter(self._stats)))
            self._stats[key] = image_stats(self.data.truth, predicted, covered)
        return self._stats[key]

    def _relist(self, keep_image: bool) -> None:
        shown = self.current
        needs_stats = self.filter.needs_predictions or self.sort != "test_order"
        stats = self.stats() if needs_stats else None
        mask = np.ones(len(self.data), dtype=bool)
        if self.filter.label is not None:
            j = self.data.label_names.index(self.filter.label)
            mask &= (
                self.data.truth[:, j] if self.filter.label_in == "truth" else stats.annotation[:, j]
            )
        if self.filter.outcome != "any":
            mask &= stats.outcome_mask(self.filter.outcome)
        positions = np.flatnonzero(mask)
        if self.sort != "test_order":
            f1 = stats.f1[positions] if self.sort == "f1_worst" else -stats.f1[positions]
            # images the model does not cover go last
            key = np.where(stats.covered[positions], f1, np.inf)
            positions = positions[np.argsort(key, kind="stable")]  # ties stay in test order
        self._order = positions
        places = np.flatnonzero(positions == shown) if keep_image and shown is not None else []
        self.cursor = int(places[0]) if len(places) else 0

    # What one image shows.

    def panel(self, position: int | None = None) -> ImagePanel | None:
        """The panel of a test image (default: the current one); None when the list is empty."""
        position = self.current if position is None else int(position)
        if position is None:
            return None
        truth = self.data.true_labels(position)
        names = self.data.label_names
        rows = tuple(self._model_row(m, position, truth) for m in self.shown)
        places = np.flatnonzero(self._order == position)
        return ImagePanel(
            position,
            int(places[0]) if len(places) else None,
            len(self._order),
            self.data.image_id(position),
            self.data.image_path(position),
            tuple(names[j] for j in truth),
            tuple(self.data.tags(position)),
            rows,
        )

    def _model_row(self, model: str, position: int, truth: np.ndarray) -> ModelRow:
        output = self.data.models[model]
        selected = model == self.model
        rule = self.rule if selected else Rule()
        if not output.covers(position):
            return ModelRow(model, output.name, rule.describe(output), selected, covered=False)
        names = self.data.label_names
        scores = output.take("scores", position).astype(np.float64)
        predicted = np.flatnonzero(rule.apply(output, np.array([position]))[0])
        true = set(truth.tolist())
        by_score = lambda labels: sorted(labels, key=lambda j: (-scores[j], j))  # noqa: E731
        marks = [
            LabelMark(names[j], float(scores[j]), CORRECT if j in true else EXTRA)
            for j in by_score(predicted)
        ]
        marks += [
            LabelMark(names[j], float(scores[j]), MISSED)
            for j in by_score(true - set(predicted.tolist()))
        ]
        correct = sum(m.outcome == CORRECT for m in marks)
        precision = correct / len(predicted) if len(predicted) else 0.0
        recall = correct / len(true) if true else 0.0
        f1 = float(image_f1(np.array(correct), np.array(len(predicted)), np.array(len(true))))
        return ModelRow(
            model,
            output.name,
            rule.describe(output),
            selected,
            True,
            tuple(marks),
            precision,
            recall,
            f1,
            output.quantity(position),
            len(true),
            self._steps(output, position, true),
        )

    def _steps(
        self, output: ModelOutput, position: int, true: set[int]
    ) -> tuple[tuple[StepLabel, ...], ...] | None:
        """The top labels with their probabilities at each decoder step (Dutta et al. Fig. 3)."""
        steps = output.take("step_scores", position)
        if steps is None:
            return None
        steps = np.asarray(steps, dtype=np.float64)
        sequence = output.take("sequences", position)
        pooled = steps.max(axis=0)
        names, table = self.data.label_names, []
        for t, probabilities in enumerate(steps):
            if (
                not probabilities.any()
            ):  # after END: a decoder that stopped has no distribution left
                break
            top = np.argsort(-probabilities, kind="stable")[:TOP_PER_STEP]
            picked = int(sequence[t]) if sequence is not None and t < len(sequence) else -1
            table.append(
                tuple(
                    StepLabel(
                        names[c],
                        float(probabilities[c]),
                        c in true,
                        c == picked,
                        bool(probabilities[c] == pooled[c]),
                    )
                    for c in top
                )
            )
        return tuple(table)

    def describe_list(self) -> str:
        """One line on what is listed, for the status bar."""
        parts = [f"{len(self._order):,} of {len(self.data):,} test images"]
        if self.filter.label is not None:
            where = (
                "truth"
                if self.filter.label_in == "truth"
                else f"{self.data.models[self.model].name}'s labels"
            )
            parts.append(f"with {self.filter.label!r} in the {where}")
        if self.filter.outcome != "any":
            parts.append(f"{OUTCOMES[self.filter.outcome]} ({self.data.models[self.model].name})")
        if self.sort != "test_order":
            parts.append(f"sorted by {SORTS[self.sort]}")
        return ", ".join(parts)
