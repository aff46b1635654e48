"""The papers' split rules on hand-made tables."""

import numpy as np
import pytest

from annokit.data.annotation_table import AnnotationTable
from annokit.data.splits import apply_split_rule, m3_coco_target


def make_table(dataset, labels, tags, split):
    n = len(labels)
    return AnnotationTable(
        dataset=dataset,
        image_ids=np.array([str(i) for i in range(n)]),
        paths=np.array([f"img/{i}.jpg" for i in range(n)]),
        official_split=np.array(split),
        labels=np.array(labels, dtype=bool),
        tags=np.array(tags, dtype=bool),
        label_names=tuple(f"l{j}" for j in range(len(labels[0]))),
        tag_names=tuple(f"t{j}" for j in range(len(tags[0]))),
    )


LABELS = [[1, 0], [0, 0], [1, 1], [0, 1], [0, 0]]
TAGS = [[0, 0], [1, 0], [1, 1], [0, 0], [0, 0]]
SPLIT = ["train", "train", "test", "test", "test"]


def test_m3_nuswide_drops_images_without_tags():
    kept = apply_split_rule(make_table("nuswide", LABELS, TAGS, SPLIT), "m3")
    assert kept.image_ids.tolist() == ["1", "2"]
    assert kept.official_split.tolist() == ["train", "test"]


def test_multi_order_nuswide_drops_images_without_labels():
    kept = apply_split_rule(make_table("nuswide", LABELS, TAGS, SPLIT), "multi_order")
    assert kept.image_ids.tolist() == ["0", "2", "3"]


def test_multi_order_coco_keeps_train2014_and_val2014_whole():
    table = make_table("coco2014", LABELS, TAGS, SPLIT)
    assert apply_split_rule(table, "multi_order").image_ids.tolist() == table.image_ids.tolist()


def test_m3_coco_targets_are_the_papers_counts_on_real_sizes():
    assert m3_coco_target(82_783, "train") == 56_414
    assert m3_coco_target(40_504, "test") == 30_774


def test_m3_coco_samples_eligible_images_reproducibly():
    rng = np.random.default_rng(1)
    n = 1000
    labels = rng.random((n, 5)) < 0.5
    tags = rng.random((n, 7)) < 0.5
    split = np.where(np.arange(n) < 670, "train", "test")
    table = make_table("coco2014", labels, tags, split)
    kept = apply_split_rule(table, "m3", seed=3)
    assert (kept.official_split == "train").sum() == m3_coco_target(670, "train")
    assert (kept.official_split == "test").sum() == m3_coco_target(330, "test")
    assert kept.labels.any(axis=1).all() and kept.tags.any(axis=1).all()
    assert kept.image_ids.tolist() == apply_split_rule(table, "m3", seed=3).image_ids.tolist()
    assert kept.image_ids.tolist() != apply_split_rule(table, "m3", seed=4).image_ids.tolist()
    assert kept.image_ids.astype(int).tolist() == sorted(kept.image_ids.astype(int).tolist())


def test_m3_coco_never_takes_more_than_the_eligible_images():
    table = make_table("coco2014", LABELS, [[1, 0]] * 5, SPLIT)
    kept = apply_split_rule(table, "m3")
    assert kept.labels.any(axis=1).all()
    assert len(kept) <= 3


def test_unknown_rule_is_an_error():
    with pytest.raises(ValueError, match="unknown split rule"):
        apply_split_rule(make_table("nuswide", LABELS, TAGS, SPLIT), "random")
