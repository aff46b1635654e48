"""Tests for a dataset without tags, as a COCO export without "tags" gives it: M3's heads train on
f_v alone, the tag rows are not run, and the result tables say so instead of leaving cells
empty."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from annokit.artifacts.predictions import save_predictions
from annokit.artifacts.run import open_run
from annokit.data.index import build_index
from annokit.data.manifest import record_manifest
from annokit.methods.m3_heads import (
    NO_TAGS,
    has_tags,
    step5_predictions,
    textual_features,
    train_tags_mlp,
)
from annokit.report import tables
from helpers.cached_features import fake_visual

PROFILE = "demo-cocojson"


@pytest.fixture
def tagless_run(tiny_demo, tmp_path):
    """The tiny demo's COCO JSON layout with every image's tags removed, prepared as a run."""
    root = tmp_path / "untagged"
    shutil.copytree(tiny_demo[0] / "cocojson", root)
    for path in (root / "annotations").glob("instances_*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        for image in data["images"]:
            del image["tags"]
        path.write_text(json.dumps(data), encoding="utf-8")
    manifest = record_manifest(root, "cocojson", "official", name="untagged", source="tiny")
    work = tmp_path / "work"
    build_index(work / "runs" / PROFILE / "index", root, manifest, profile=PROFILE)
    return open_run(PROFILE, data_root=str(root), work_dir=str(work))


def test_without_tags_only_the_heads_on_f_v_are_trained(tagless_run):
    run = tagless_run
    assert not has_tags(run.index) and textual_features(run) is None
    with pytest.raises(ValueError, match=f"tags MLP {NO_TAGS}"):
        train_tags_mlp(run, feature_dim=8)
    made = step5_predictions(run, fake_visual(run), None, epochs=1)
    assert [p.model for p in made] == ["mscnn_lqp", "upper_bound"]
    lqp, upper = made
    truth = run.index.label_matrix()[upper.rows]
    np.testing.assert_array_equal(upper.scores, lqp.scores)  # the upper bound of f_v's scores
    np.testing.assert_array_equal(upper.annotation.sum(axis=1), truth.sum(axis=1))
    assert not (run.run_dir / "classifier_joint").exists()


def test_the_tables_say_the_tag_rows_were_not_run(tagless_run, tmp_path):
    run = tagless_run
    for predictions in step5_predictions(run, fake_visual(run), None, epochs=1):
        save_predictions(predictions, run.run_dir)
    table = tables.comparison("m3_table1", run.index, run.run_dir, "nuswide")
    notes = table[("", "reproduction")]
    for row in ("MS-CNN+Tags+LQP", "MS-CNN+Tags"):
        assert notes[row] == NO_TAGS
    assert notes["MS-CNN+LQP"] == "mscnn_lqp (1 seed)"
    assert notes["MS-CNN"] == "mscnn: prediction file missing"  # notebook 02 not run here
    shown = tables.display_table(table)
    assert (
        shown.loc["MS-CNN+Tags", [c for c in shown.columns if c[1] == "ours"]] == "not run"
    ).all()
    assert shown.loc["MS-CNN", ("C-P", "ours")] == ""
    assert shown.loc["MS-CNN+LQP", ("C-P", "ours")] not in ("", "not run")
    exported = tables.export(table, tmp_path / "tables")
    markdown = next(p for p in exported if p.suffix == ".md").read_text(encoding="utf-8")
    assert markdown.count(NO_TAGS) == 2
