"""The ipywidgets face of a ``Browser``: controls that set its state, one HTML view that shows it.

Every control only forwards its value to the browser and redraws; setting ``widget.value`` from
Python does exactly what a click does, which is how the tests drive it without a browser.
"""

from __future__ import annotations

import html
from contextlib import contextmanager

import ipywidgets as w

from annokit.viewer.browse import Browser
from annokit.viewer.criteria import OUTCOMES, RULES, SORTS, Filter, Rule
from annokit.viewer.html import grid_html, legend_html, panel_html
from annokit.viewer.model_names import display_name, model_of

GRID_SIZE = 12  # images per grid page
ANY_LABEL = ""  # the label filter's "any label" (a Dropdown shows None as an empty box)


class AnnotationViewer:
    """Browse a run's test images and what every model annotates on them (notebook 10)."""

    def __init__(self, browser: Browser, grid_size: int = GRID_SIZE):
        self.browser, self.grid_size = browser, grid_size
        data = browser.data
        self._quiet_depth = 0
        short = {"description_width": "initial"}
        self.previous_button = w.Button(
            description="◀ previous", tooltip="previous image (or page, in the grid)"
        )
        self.next_button = w.Button(
            description="next ▶", tooltip="next image (or page, in the grid)"
        )
        self.jump = w.BoundedIntText(
            value=1,
            min=1,
            max=max(len(browser.order), 1),
            description="image #",
            style=short,
            layout=w.Layout(width="150px"),
            tooltip="jump to the n-th image of the list",
        )
        self.mode = w.ToggleButtons(
            options=[("single", "single"), ("grid", "grid")],
            value="single",
            style={"button_width": "60px"},
        )
        self.status = w.HTML()
        menu = [(display_name(m), m) for m in browser.groups]  # one entry per model
        self.model = w.Dropdown(
            options=menu,
            value=browser.selected_group,
            description="model",
            style=short,
            layout=w.Layout(width="300px"),
        )
        self.seed = w.Dropdown(
            options=browser.seeds(),
            value=browser.model,
            description="seed",
            style=short,
            layout=w.Layout(width="190px"),
            tooltip="which training seed's predictions (the tables average them)",
        )
        self.rule = w.ToggleButtons(
            options=[("own rule", "own"), ("threshold t", "threshold"), ("top-k", "top_k")],
            value=browser.rule.kind,
            tooltips=list(RULES.values()),
            style={"button_width": "105px"},
        )
        self.threshold = w.FloatSlider(
            value=browser.rule.threshold,
            min=0.0,
            max=1.0,
            step=0.01,
            description="t",
            continuous_update=False,
            readout_format=".2f",
            style=short,
            layout=w.Layout(width="220px"),
        )
        self.top_k = w.BoundedIntText(
            value=browser.rule.k,
            min=1,
            max=len(data.label_names),
            description="k",
            style=short,
            layout=w.Layout(width="90px"),
        )
        self.label = w.Dropdown(
            options=[("any label", ANY_LABEL)] + [(n, n) for n in data.label_names],
            value=ANY_LABEL,
            description="label",
            style=short,
            layout=w.Layout(width="220px"),
        )
        self.label_in = w.ToggleButtons(
            options=[("in truth", "truth"), ("in prediction", "prediction")],
            value="truth",
            tooltips=["the ground truth has it", "the selected model predicts it"],
            style={"button_width": "115px"},
        )
        self.outcome = w.Dropdown(
            options=[(t, k) for k, t in OUTCOMES.items()],
            value="any",
            description="outcome",
            style=short,
            layout=w.Layout(width="250px"),
        )
        self.sort = w.Dropdown(
            options=[(t, k) for k, t in SORTS.items()],
            value=browser.sort,
            description="sort",
            style=short,
            layout=w.Layout(width="270px"),
        )
        self.shown = w.SelectMultiple(
            options=menu,
            value=self._shown_models(),
            description="models shown",
            rows=min(len(menu), 5),
            style=short,
            layout=w.Layout(width="420px"),
        )
        self.legend = w.HTML(legend_html())
        self.view = w.HTML()

        self.previous_button.on_click(lambda _: self._step(-1))
        self.next_button.on_click(lambda _: self._step(+1))
        self.jump.observe(self._on_jump, "value")
        self.mode.observe(lambda _: self.refresh(), "value")
        self.model.observe(self._on_model, "value")
        self.seed.observe(self._on_model, "value")
        for control in (self.rule, self.threshold, self.top_k):
            control.observe(self._on_rule, "value")
        for control in (self.label, self.label_in, self.outcome):
            control.observe(self._on_filter, "value")
        self.sort.observe(self._on_sort, "value")
        self.shown.observe(self._on_shown, "value")

        row = lambda *children: w.HBox(
            list(children), layout=w.Layout(flex_flow="row wrap", align_items="center")
        )  # noqa: E731
        self.widget = w.VBox(
            [
                row(self.previous_button, self.next_button, self.jump, self.mode, self.status),
                row(self.model, self.seed, self.rule, self.threshold, self.top_k),
                row(self.label, self.label_in, self.outcome),
                row(self.sort, self.shown),
                self.legend,
                self.view,
            ]
        )
        self.refresh()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    @contextmanager
    def _quiet(self):
        """Set controls from code without their handlers answering."""
        self._quiet_depth += 1
        try:
            yield
        finally:
            self._quiet_depth -= 1

    def _step(self, direction: int) -> None:
        self.browser.next(direction * (self.grid_size if self.mode.value == "grid" else 1))
        self.refresh()

    def _on_jump(self, change) -> None:
        if not self._quiet_depth:
            self.browser.go(change["new"] - 1)
            self.refresh()

    def _on_model(self, change) -> None:
        if not self._quiet_depth:
            self.browser.select_model(change["new"])
            self.refresh()

    def _shown_models(self) -> tuple[str, ...]:
        """The models (menu entries) whose rows are shown."""
        return tuple(model_of(f) for f in self.browser.shown)

    def _on_rule(self, change) -> None:
        if self._quiet_depth:
            return
        # Moving the slider or the k box switches to that rule: the
        # control touched is the one wanted.
        kind = {id(self.threshold): "threshold", id(self.top_k): "top_k"}.get(
            id(change["owner"]), self.rule.value
        )
        with self._quiet():
            self.rule.value = kind
        self.browser.set_rule(Rule(kind, float(self.threshold.value), int(self.top_k.value)))
        self.refresh()

    def _on_filter(self, _) -> None:
        if not self._quiet_depth:
            self.browser.set_filter(
                Filter(self.label.value or None, self.label_in.value, self.outcome.value)
            )
            self.refresh()

    def _on_sort(self, change) -> None:
        if not self._quiet_depth:
            self.browser.set_sort(change["new"])
            self.refresh()

    def _on_shown(self, change) -> None:
        if not self._quiet_depth:
            self.browser.show_models(tuple(change["new"]))
            self.refresh()

    def refresh(self) -> None:
        """Bring every control and the view in line with the browser's state."""
        b = self.browser
        listed = len(b.order)
        with self._quiet():
            self.jump.max = max(listed, 1)
            self.jump.value = b.cursor + 1
            self.model.value = b.selected_group
            self.seed.options = b.seeds()
            self.seed.value = b.model
            self.shown.value = self._shown_models()
        # a model trained with one seed needs no seed menu
        self.seed.layout.display = None if len(self.seed.options) > 1 else "none"
        step = self.grid_size if self.mode.value == "grid" else 1
        self.previous_button.disabled = b.cursor == 0
        self.next_button.disabled = b.cursor // step >= (listed - 1) // step if listed else True
        self.status.value = f"<small>{html.escape(b.describe_list())}</small>"
        if self.mode.value == "grid":
            self.view.value = grid_html([b.panel(p) for p in b.page(self.grid_size)])
        else:
            self.view.value = panel_html(b.panel())


def open_viewer(run, **kwargs) -> AnnotationViewer:
    """The viewer of a run (``annokit.artifacts.run.open_run``): its test split
    and every prediction file in it."""
    return AnnotationViewer(Browser.from_run(run, **kwargs))
