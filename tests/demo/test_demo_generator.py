"""The demo generator writes faithful COCO 2014 / NUS-WIDE layouts matching its own truth.

Files are parsed directly (json, text) rather than through the readers, so a reader bug
cannot hide a generator bug.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annokit.demo import DemoConfig, DemoTruth, generate_demo, load_demo_truth, main, plan_demo
from annokit.demo.render import render_image
from annokit.demo.sampling import sample_labels, sample_scene

SMALL = DemoConfig(n_train=40, n_test=20, image_size=32, seed=3)
COCO_IMAGE_KEYS = [
    "license",
    "file_name",
    "coco_url",
    "height",
    "width",
    "date_captured",
    "flickr_url",
    "id",
]
COCO_INSTANCE_KEYS = ["segmentation", "area", "iscrowd", "image_id", "bbox", "category_id", "id"]
COCO_FOLDERS = {"train": "train2014", "test": "val2014"}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, DemoTruth]:
    root = tmp_path_factory.mktemp("demo")
    return root, generate_demo(root, SMALL)


@pytest.fixture(scope="module")
def default_truth() -> DemoTruth:
    return plan_demo(DemoConfig())


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def file_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def nuswide_order(truth: DemoTruth) -> list[int]:
    keys = [tuple(p.split("/")[1:]) for p in truth.nuswide_paths]
    return sorted(range(len(truth)), key=lambda i: keys[i])


# --------------------------------------------------------------------------- COCO layout


def test_coco_files_have_official_schema(small):
    root, truth = small
    ann = root / "coco" / "annotations"
    all_ids = []
    for folder in COCO_FOLDERS.values():
        instances = load_json(ann / f"instances_{folder}.json")
        captions = load_json(ann / f"captions_{folder}.json")
        assert list(instances) == ["info", "licenses", "images", "annotations", "categories"]
        assert list(captions) == ["info", "licenses", "images", "annotations"]
        assert set(instances["info"]) == {
            "description",
            "url",
            "version",
            "year",
            "contributor",
            "date_created",
        }
        assert all(set(lic) == {"url", "id", "name"} for lic in instances["licenses"])
        assert all(list(img) == COCO_IMAGE_KEYS for img in instances["images"])
        assert all(list(a) == COCO_INSTANCE_KEYS for a in instances["annotations"])
        assert all(
            a["iscrowd"] == 0 and all(isinstance(v, float) for v in a["bbox"])
            for a in instances["annotations"]
        )
        assert all(list(a) == ["image_id", "id", "caption"] for a in captions["annotations"])
        assert captions["images"] == instances["images"]
        assert all(img["file_name"].startswith(f"COCO_{folder}_") for img in instances["images"])
        all_ids += [img["id"] for img in instances["images"]]
    assert len(set(all_ids)) == len(all_ids) == len(truth)
    assert sorted(all_ids) == sorted(truth.coco_ids.tolist())


def test_coco_category_ids_are_not_contiguous(small):
    root, truth = small
    categories = load_json(root / "coco" / "annotations" / "instances_train2014.json")["categories"]
    ids = [c["id"] for c in categories]
    assert ids == sorted(ids) and ids != list(range(1, len(ids) + 1))
    assert (
        tuple(c["name"] for c in categories)
        == truth.label_names
        == tuple(sorted(truth.label_names))
    )
    assert all(set(c) == {"supercategory", "id", "name"} for c in categories)


def test_coco_instances_give_the_true_labels(small):
    root, truth = small
    row = {int(k): i for i, k in enumerate(truth.coco_ids)}
    labels = np.zeros_like(truth.labels)
    for split, folder in COCO_FOLDERS.items():
        data = load_json(root / "coco" / "annotations" / f"instances_{folder}.json")
        column = {
            c["id"]: j for j, c in enumerate(sorted(data["categories"], key=lambda c: c["id"]))
        }
        assert all(truth.split[row[img["id"]]] == split for img in data["images"])
        for a in data["annotations"]:
            x, y, w, h = a["bbox"]
            assert (
                w > 0
                and h > 0
                and x >= 0
                and y >= 0
                and x + w <= SMALL.image_size
                and y + h <= SMALL.image_size
            )
            labels[row[a["image_id"]], column[a["category_id"]]] = True
    assert (labels == truth.labels).all()


def test_coco_has_five_captions_per_image(small):
    root, truth = small
    row = {int(k): i for i, k in enumerate(truth.coco_ids)}
    found: dict[int, list[str]] = {}
    for folder in COCO_FOLDERS.values():
        for a in load_json(root / "coco" / "annotations" / f"captions_{folder}.json")[
            "annotations"
        ]:
            found.setdefault(row[a["image_id"]], []).append(a["caption"])
    assert found == {i: list(truth.captions[i]) for i in range(len(truth))}
    assert all(len(c) == 5 for c in found.values())


def test_every_listed_image_exists_at_the_configured_size(small):
    root, truth = small
    for i in range(len(truth)):
        coco, nus = root / "coco" / truth.coco_files[i], root / "nuswide" / truth.nuswide_paths[i]
        assert coco.read_bytes() == nus.read_bytes()  # one encoding, written twice
        with Image.open(coco) as image:
            assert (
                image.format == "JPEG"
                and image.size == (SMALL.image_size,) * 2
                and image.mode == "RGB"
            )


# --------------------------------------------------------------------------- NUS-WIDE layout


def test_nuswide_image_lists(small):
    root, truth = small
    nus = root / "nuswide"
    order = nuswide_order(truth)
    listed = lines(nus / "ImageList" / "Imagelist.txt")
    expected = [
        "C:\\ImageData\\Flickr\\" + truth.nuswide_paths[i][len("Flickr/") :].replace("/", "\\")
        for i in order
    ]
    assert listed == expected
    relative = [line.split("\\", 3)[3] for line in listed]
    train, test = (
        lines(nus / "ImageList" / "TrainImagelist.txt"),
        lines(nus / "ImageList" / "TestImagelist.txt"),
    )
    assert train == [r for r, i in zip(relative, order) if truth.split[i] == "train"]
    assert test == [r for r, i in zip(relative, order) if truth.split[i] == "test"]
    assert sorted(train + test) == sorted(relative)
    for path in truth.nuswide_paths:
        folder, name = path.split("/")[1:]
        stem = name[: -len(".jpg")]
        assert (
            name.endswith(".jpg") and len(stem.split("_")[0]) == 4 and len(stem.split("_")[1]) == 10
        )


def test_nuswide_labels_and_tags_match_truth(small):
    root, truth = small
    nus = root / "nuswide"
    order = nuswide_order(truth)
    assert tuple(lines(nus / "Concepts81.txt")) == truth.label_names
    assert tuple(lines(nus / "NUS_WID_Tags" / "TagList1k.txt")) == truth.tag_names
    split = truth.split[order]
    for j, concept in enumerate(truth.label_names):
        column = [
            int(v) for v in lines(nus / "Groundtruth" / "AllLabels" / f"Labels_{concept}.txt")
        ]
        assert column == truth.labels[order, j].astype(int).tolist()
        for suffix, name in (("Train", "train"), ("Test", "test")):
            part = lines(nus / "Groundtruth" / "TrainTestLabels" / f"Labels_{concept}_{suffix}.txt")
            assert [int(v) for v in part] == truth.labels[order, j][split == name].astype(
                int
            ).tolist()
    rows = lines(nus / "NUS_WID_Tags" / "AllTags1k.txt")
    tags = np.array([[int(v) for v in row.split("\t")] for row in rows], dtype=bool)
    assert tags.shape == (len(truth), len(truth.tag_names))
    assert (tags == truth.tags[order]).all()


# --------------------------------------------------------------------------- statistics


def test_default_config_label_counts(default_truth):
    counts = default_truth.labels.sum(axis=1)
    assert counts.min() == 0 and counts.max() >= 5
    assert 2.4 <= counts.mean() <= 3.2
    assert 0.01 <= (counts == 0).mean() <= 0.04
    assert set(np.unique(counts).tolist()) >= {0, 1, 2, 3, 4, 5}


def test_default_config_has_untagged_images_and_informative_tags(default_truth):
    t = default_truth
    untagged = ~t.tags.any(axis=1)
    assert 0.04 <= untagged.mean() <= 0.09
    assert 200 <= len(t.tag_names) <= 400 and 20 <= len(t.label_names) <= 30
    for j, concept in enumerate(t.label_names):
        word = t.tags[:, t.tag_names.index(concept)]
        with_label, without = word[t.labels[:, j]].mean(), word[~t.labels[:, j]].mean()
        assert with_label > 0.4 and with_label > 3 * without, concept  # informative, yet noisy
    assert (t.tags.sum(axis=1)[~untagged] >= 1).all() and t.tags.sum(axis=1).max() > 8


def test_labels_co_occur_like_scenes(default_truth):
    t = default_truth
    col = {n: j for j, n in enumerate(t.label_names)}
    has = {n: t.labels[:, j] for n, j in col.items()}
    assert has["sky"][has["sun"]].all() and has["buildings"][has["window"]].all()
    assert not (has["sun"] & has["nighttime"]).any()
    assert has["sand"][has["beach"]].mean() > 2 * has["sand"].mean()
    assert has["boats"].sum() > 0 and (has["ocean"] | has["water"])[has["boats"]].all()


@pytest.mark.parametrize("size", [32, 64, 224])
def test_render_covers_every_label_at_any_size(size):
    for i in range(25):
        rng = np.random.default_rng([5, i])
        scene = sample_scene(rng)
        labels = sample_labels(scene, rng)
        image, instances = render_image(scene, labels, size, rng)
        assert image.size == (size, size)
        assert {inst.concept for inst in instances} == set(labels)
        for inst in instances:
            x, y, w, h = inst.bbox
            assert 0 <= x and 0 <= y and w >= 1 and h >= 1 and x + w <= size and y + h <= size


def test_small_concepts_are_small():
    sides: dict[str, list[float]] = {}
    for i in range(300):
        rng = np.random.default_rng([6, i])
        scene = sample_scene(rng)
        _, instances = render_image(scene, sample_labels(scene, rng), 64, rng)
        for inst in instances:
            sides.setdefault(inst.concept, []).append(max(inst.bbox[2], inst.bbox[3]))
    for concept in ("birds", "flags", "sign", "flowers"):
        assert np.median(sides[concept]) <= 12, concept  # a few pixels across at 64×64
    for concept in ("buildings", "tree", "cars", "boats"):
        assert np.median(sides[concept]) > 8, concept


# --------------------------------------------------------------------------- determinism, reuse,
# refusal


def test_same_seed_same_bytes_other_seed_other_data(tmp_path, small):
    root, _ = small
    again = tmp_path / "again"
    generate_demo(again, SMALL)
    first, second = file_bytes(root), file_bytes(again)
    assert first.keys() == second.keys() and first == second
    other = tmp_path / "other"
    generate_demo(other, DemoConfig(SMALL.n_train, SMALL.n_test, SMALL.image_size, SMALL.seed + 1))
    assert (other / "coco" / "annotations" / "instances_train2014.json").read_bytes() != first[
        "coco/annotations/instances_train2014.json"
    ]
    assert (other / "nuswide" / "NUS_WID_Tags" / "AllTags1k.txt").read_bytes() != first[
        "nuswide/NUS_WID_Tags/AllTags1k.txt"
    ]


def test_truth_round_trips(small):
    root, truth = small
    loaded = load_demo_truth(root)
    for name in ("label_names", "tag_names", "captions"):
        assert getattr(loaded, name) == getattr(truth, name)
    for name in ("labels", "tags", "split", "coco_ids", "coco_files", "nuswide_paths", "scene"):
        assert np.array_equal(getattr(loaded, name), getattr(truth, name)), name


def test_rerun_with_same_config_reuses(tmp_path):
    root = tmp_path / "demo"
    generate_demo(root, SMALL)
    stamp = (root / "coco" / "annotations" / "instances_val2014.json").stat().st_mtime_ns
    truth = generate_demo(root, SMALL)
    assert (root / "coco" / "annotations" / "instances_val2014.json").stat().st_mtime_ns == stamp
    assert len(truth) == SMALL.n_train + SMALL.n_test


def test_other_config_is_refused_unless_overwrite(tmp_path):
    root = tmp_path / "demo"
    generate_demo(root, SMALL)
    bigger = DemoConfig(n_train=45, n_test=20, image_size=32, seed=3)
    with pytest.raises(FileExistsError, match=str(root / "coco")):
        generate_demo(root, bigger)
    truth = generate_demo(root, bigger, overwrite=True)
    assert len(truth) == 65 and len(lines(root / "nuswide" / "ImageList" / "Imagelist.txt")) == 65


def test_foreign_data_is_refused(tmp_path):
    (tmp_path / "nuswide").mkdir()
    with pytest.raises(FileExistsError, match="not written by the demo generator"):
        generate_demo(tmp_path, SMALL)


def test_cli_reports_what_it_wrote(tmp_path, capsys):
    args = [
        "--root",
        str(tmp_path),
        "--n-train",
        "6",
        "--n-test",
        "4",
        "--image-size",
        "32",
        "--seed",
        "1",
    ]
    main(args)
    assert "written in" in capsys.readouterr().out
    main(args)
    assert "not regenerated" in capsys.readouterr().out
