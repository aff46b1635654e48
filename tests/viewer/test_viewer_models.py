"""The viewer's model menu (one entry per model, a seed menu for models trained with several seeds)
and the image it opens on."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from annokit.artifacts.predictions import save_predictions
from annokit.viewer import Browser, ViewerData, display_name
from annokit.viewer.widget import AnnotationViewer
from helpers.viewer_reading import marks, predictions, truth_shown
from helpers.viewer_run import PROFILE

MODELS = ["cnn", "tags_mlp", "mscnn_tags_lqp", "multi_order_rnn"]  # the tiny run's, menu order


@pytest.fixture(scope="module")
def seeded(tiny_run, tmp_path_factory) -> ViewerData:
    """The tiny run with the CNN trained on three seeds: ``cnn`` (seed 0), ``cnn@seed1`` and
    ``cnn@seed2``, each with other scores."""
    run_dir = tmp_path_factory.mktemp("seeded") / PROFILE
    shutil.copytree(tiny_run.run_dir / "index", run_dir / "index")
    shutil.copytree(tiny_run.run_dir / "predictions", run_dir / "predictions")
    cnn = predictions(tiny_run, "cnn")
    for seed, name in enumerate(["cnn", "cnn@seed1", "cnn@seed2"]):
        scores = np.roll(cnn.scores, seed, axis=1)  # other labels for each seed
        annotation = np.roll(cnn.annotation, seed, axis=1)
        save_predictions(
            dataclasses.replace(
                cnn,
                model=name,
                scores=scores,
                annotation=annotation,
                meta={"seed": seed},
                path=None,
            ),
            run_dir,
        )
    return ViewerData.from_folder(PROFILE, tiny_run.index, tiny_run.data_root, run_dir)


def test_the_menu_has_one_entry_per_model_named_as_the_tables_do(seeded):
    viewer = AnnotationViewer(Browser(seeded))
    assert len(seeded.models) == len(MODELS) + 2  # two extra seed files ...
    assert viewer.model.options == tuple((display_name(m), m) for m in MODELS)  # ... no entry
    assert viewer.shown.options == viewer.model.options
    assert [name for name, _ in viewer.model.options] == [
        "CNN",
        "Tags MLP",
        "MS-CNN+Tags+LQP",
        "Multi-order RNN (released code)",
    ]
    # M3 has one seed here: its seed menu has one entry and is hidden
    assert viewer.model.value == "mscnn_tags_lqp"
    assert viewer.seed.options == (("seed (the profile's)", "mscnn_tags_lqp"),)
    assert viewer.seed.layout.display == "none"


def test_the_seed_menu_lists_the_profile_seed_and_the_extra_ones(seeded):
    viewer = AnnotationViewer(Browser(seeded))
    b = viewer.browser
    position = b.current
    viewer.model.value = "cnn"
    assert b.model == "cnn" and viewer.seed.value == "cnn"  # a model opens on the profile's seed
    assert viewer.seed.options == (
        ("seed 0 (the profile's)", "cnn"),
        ("seed 1", "cnn@seed1"),
        ("seed 2", "cnn@seed2"),
    )
    assert viewer.seed.layout.display is None
    viewer.seed.value = "cnn@seed2"
    assert b.model == "cnn@seed2" and viewer.model.value == "cnn" and b.current == position
    view = viewer.view.value
    assert 'data-model="cnn@seed2"' in view and 'data-model="cnn"' not in view  # one CNN row
    assert "CNN, seed 2" in view
    annotation = seeded.models["cnn@seed2"].take("annotation", position)
    truth = seeded.truth[position]
    shown = marks(view, "cnn@seed2")
    assert sorted(shown["correct"]) == sorted(names_of(seeded, annotation & truth))
    assert sorted(shown["extra"]) == sorted(names_of(seeded, annotation & ~truth))
    assert "cnn" in viewer.shown.value and "cnn@seed2" not in viewer.shown.value
    # another model, then back: the CNN at the profile's seed again
    viewer.model.value = "multi_order_rnn"
    assert viewer.seed.layout.display == "none" and 'data-model="cnn"' in viewer.view.value
    viewer.model.value = "cnn"
    assert b.model == "cnn" and viewer.seed.value == "cnn"


def test_a_browser_takes_a_model_or_one_of_its_seed_files(seeded):
    assert Browser(seeded, model="cnn@seed1").model == "cnn@seed1"
    b = Browser(seeded, model="cnn", shown=("cnn", "multi_order_rnn"))
    assert b.shown == ("cnn", "multi_order_rnn")
    b.select_model("cnn@seed1")
    assert b.shown == ("cnn@seed1", "multi_order_rnn")
    b.show_models(("tags_mlp", "cnn@seed2"))  # a model's seed file counts as the model
    assert b.shown == ("cnn@seed1", "tags_mlp")
    with pytest.raises(KeyError, match="resnet9000"):
        b.select_model("resnet9000")
    with pytest.raises(KeyError, match="resnet9000"):
        b.show_models(("resnet9000",))


def names_of(data: ViewerData, mask: np.ndarray) -> list[str]:
    return [data.label_names[j] for j in np.flatnonzero(mask)]


def unlabelled_first(data: ViewerData, count: int) -> ViewerData:
    """The same run with its first ``count`` test images stripped of their labels."""
    frame = data.index.frame.copy()
    labels = frame["labels"].copy()
    for row in data.test_rows[:count]:
        labels.iat[row] = np.array([], dtype=np.int64)
    frame["labels"] = labels
    index = dataclasses.replace(data.index, frame=frame)
    return ViewerData(data.profile, index, data.data_root, data.models, data.test_rows)


def test_the_viewer_opens_on_the_first_image_with_a_label(seeded):
    data = unlabelled_first(seeded, 3)
    assert not data.truth[:3].any() and data.truth[3].any()
    viewer = AnnotationViewer(Browser(data))
    b = viewer.browser
    assert b.current == 3 and viewer.jump.value == 4 and "image 4 of" in viewer.view.value
    assert truth_shown(viewer.view.value) == names_of(data, data.truth[3])
    np.testing.assert_array_equal(b.order, np.arange(len(data)))  # the order is the test order
    viewer.previous_button.click()  # the unlabelled images are still there, before it
    assert b.current == 2 and truth_shown(viewer.view.value) == []
    # a filter or a sort starts at the top of its own list
    label = data.label_names[int(np.flatnonzero(data.truth[3])[0])]
    viewer.label.value = label
    assert (
        b.current == b.order[0] == np.flatnonzero(data.truth[:, data.label_names.index(label)])[0]
    )
    viewer.label.value = ""
    viewer.sort.value = "f1_worst"
    f1 = b.stats().f1
    assert b.cursor == 0 and f1[b.order[0]] == f1[b.stats().covered].min()
    viewer.sort.value = "test_order"
    assert b.cursor == 0 and b.current == 0
