"""The annotation viewer: look at what each model annotates, image by image (notebook 10).

For a run's test split it shows an image, its ground-truth labels, its noisy tags and, for every
model with a prediction file, the labels it predicts marked correct, extra (false positive) or
missed (false negative), like the qualitative figures of M3 (Niu et al. 2019, Figs. 1 and 6) and
the Multi-order RNN (Dutta et al. 2020, Figs. 3 and 4).

- ``model_names``: each file's model, its seed and the name the result tables give it;
- ``store``: the run's files, memory-mapped and read only for the images shown;
- ``criteria``: the decision rule, the filter and the sort orders the controls choose;
- ``browse``: the state behind the controls (model, rule, filter, sort, place) as plain Python;
- ``html``: HTML of a panel, a grid and the standalone gallery;
- ``widget``: the ipywidgets controls bound to a browser.
"""

from annokit.viewer.browse import Browser, ImagePanel
from annokit.viewer.criteria import OUTCOMES, SORTS, Filter, Rule
from annokit.viewer.html import gallery_html, panel_html, sample_positions, write_gallery
from annokit.viewer.model_names import display_name, model_groups, model_order
from annokit.viewer.store import ViewerData


def open_viewer(run, **kwargs):
    """The ipywidgets viewer of a run (``annokit.artifacts.run.open_run``); see
    ``annokit.viewer.widget``."""
    from annokit.viewer.widget import open_viewer as _open

    return _open(run, **kwargs)


__all__ = [
    "Browser",
    "Filter",
    "ImagePanel",
    "OUTCOMES",
    "Rule",
    "SORTS",
    "ViewerData",
    "display_name",
    "gallery_html",
    "model_groups",
    "model_order",
    "open_viewer",
    "panel_html",
    "sample_positions",
    "write_gallery",
]
