"""Tests for the COCO JSON layout (images/ + instances_*.json, a CVAT or Label Studio export):
reading it, its split by file name or by ratio, recording and verifying its manifest, and one clear
line for each bad input at the command line."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from annokit.cli import run_cli
from annokit.data.coco_json_layout import read_coco_json_layout
from annokit.data.csv_layout import CsvLayout
from annokit.data.manifest import main as manifest_main
from annokit.data.manifest import record_layout, verify
from annokit.data.manifest_file import load_manifest
from annokit.data.readers import check_root, detect_layouts, read_dataset, recorded_layout
from annokit.data.splits import apply_split_rule

CATEGORIES = [{"id": 1, "name": "dog"}, {"id": 2, "name": "cat"}, {"id": 3, "name": "zebra"}]
TRAIN = {
    "images": [
        {"id": 1, "file_name": "000001.jpg", "tags": ["beach", "summer"]},
        {"id": 2, "file_name": "000002.jpg"},
    ],
    "categories": CATEGORIES,
    "annotations": [
        {"id": 10, "image_id": 1, "category_id": 2, "bbox": [0, 0, 4, 4]},
        {"id": 11, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4]},
        {"id": 12, "image_id": 1, "category_id": 1, "bbox": [2, 2, 4, 4]},  # a second dog
        {"id": 13, "image_id": 2, "category_id": 1, "bbox": [0, 0, 8, 8]},
    ],
}
TEST = {  # CVAT numbers images and categories per file: ids repeat across files
    "images": [
        {"id": 1, "file_name": "images/000003.jpg", "tags": ["sky"]},  # Label Studio's file_name
        {"id": 2, "file_name": "000004.jpg", "tags": ["sky", "beach"]},
    ],
    "categories": [{"id": 7, "name": "bird"}, {"id": 8, "name": "cat"}],
    "annotations": [{"id": 1, "image_id": 2, "category_id": 7}],
}
GOOD = {"annotations/instances_train.json": TRAIN, "annotations/instances_test.json": TEST}


def make_root(tiny_demo, tmp_path: Path, files: dict, n_images: int = 4) -> Path:
    """A COCO JSON root with the tiny demo's first images and ``files`` (dict: dumped as JSON,
    str: written as it is) at their relative paths."""
    root = tmp_path / "mine"
    (root / "images").mkdir(parents=True)
    for path in sorted((tiny_demo[0] / "cocojson" / "images").iterdir())[:n_images]:
        shutil.copyfile(path, root / "images" / path.name)
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content, indent=1)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run ``python -m annokit.data.manifest`` in-process: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exit_info:
        run_cli(manifest_main, argv, prog="python -m annokit.data.manifest")
    out, err = capsys.readouterr()
    return int(exit_info.value.code), out, err


def test_the_reader_builds_the_table_from_the_categories_that_occur(tiny_demo, tmp_path):
    root = make_root(tiny_demo, tmp_path, GOOD)
    assert detect_layouts(root) == ["cocojson"]
    table = read_dataset("cocojson", root)
    assert table.label_names == ("bird", "cat", "dog")  # sorted; zebra is never annotated
    assert table.tag_names == ("beach", "sky", "summer")
    # instances_test.json sorts first; each file's images in its order
    assert list(table.image_ids) == ["000003.jpg", "000004.jpg", "000001.jpg", "000002.jpg"]
    assert list(table.paths) == [f"images/00000{i}.jpg" for i in (3, 4, 1, 2)]
    assert list(table.official_split) == ["test", "test", "train", "train"]
    expected = [[0, 0, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1]]  # bird, cat, dog
    np.testing.assert_array_equal(table.labels, np.array(expected, dtype=bool))
    np.testing.assert_array_equal(table.tags.sum(axis=1), [1, 2, 2, 0])
    assert read_coco_json_layout(root, tag_vocab_size=1).tag_names == ("beach",)


def test_a_cvat_export_without_tags_is_train_and_the_ratio_rule_draws_the_test(tiny_demo, tmp_path):
    untagged = copy.deepcopy(TRAIN)
    for image in untagged["images"]:
        image.pop("tags", None)
    untagged["images"] += [{"id": 3, "file_name": "000003.jpg"}, {"id": 4, "file_name": "x.jpg"}]
    root = make_root(tiny_demo, tmp_path, {"annotations/instances_default.json": untagged})
    (root / "images" / "default").mkdir()
    shutil.move(root / "images" / "000004.jpg", root / "images" / "default" / "x.jpg")
    table = read_dataset("cocojson", root)
    assert table.tag_names == () and set(table.official_split) == {"train"}
    assert table.paths[-1] == "images/default/x.jpg"  # CVAT's images/<subset>/ folder
    with pytest.raises(ValueError, match="assign no image to test"):
        apply_split_rule(table, "official")
    manifest = record_layout(root, "cocojson", "ratio", ("m", "t"), CsvLayout(test_share=0.5))
    assert (manifest.counts["train"], manifest.counts["test"]) == (2, 2)
    assert recorded_layout(manifest.files).test_share == 0.5
    report, split = verify(root, manifest, progress=False)
    assert report.ok and list(split.official_split).count("test") == 2


def test_record_then_verify_then_a_changed_file(tiny_demo, tmp_path, capsys):
    root = make_root(tiny_demo, tmp_path, GOOD)
    out = tmp_path / "mine.json"
    argv = ["record", str(root), "--dataset", "cocojson", "--split-rule", "official"]
    code, printed, _ = run([*argv, "--name", "mine", "--out", str(out)], capsys)
    assert code == 0 and str(out) in printed
    manifest = load_manifest(out)
    assert sorted(manifest.files) == sorted(GOOD)
    assert manifest.counts["train"] == 2 and manifest.counts["test"] == 2
    assert manifest.vocabulary == {"labels": 3, "tags": 3}
    code, printed, _ = run(["verify", str(out), str(root), "--deep"], capsys)
    assert code == 0 and "everything matches, every image decodes" in printed
    (root / "images" / "000002.jpg").unlink()
    code, printed, _ = run(["verify", str(out), str(root)], capsys)
    assert code == 1 and "1 image file(s) missing, first: images/000002.jpg" in printed
    changed = {**TRAIN, "annotations": TRAIN["annotations"][:2]}
    (root / "annotations" / "instances_train.json").write_text(json.dumps(changed))
    code, printed, _ = run(["verify", str(out), str(root)], capsys)
    assert code == 1 and "instances_train.json differs from the manifest" in printed


def with_train(**changes) -> dict:
    """GOOD with instances_train.json's lists replaced by ``changes``."""
    return {**GOOD, "annotations/instances_train.json": {**TRAIN, **changes}}


BROKEN_JSON = json.dumps(TRAIN, indent=1).replace('"id": 2,', '"id": 2', 1)  # a comma lost
BROKEN_AT = "line 13, column 4"  # where the parser finds the next key instead of the comma
ANNOTATIONS = TRAIN["annotations"]


@pytest.mark.parametrize(
    "files, expected",
    [
        (with_train(annotations=[]), "lists 3 categories but no annotation"),
        (
            with_train(annotations=[*ANNOTATIONS, {"id": 14, "image_id": 9, "category_id": 1}]),
            "annotation 14 has the image_id 9, which no image of the file lists",
        ),
        (
            with_train(annotations=[*ANNOTATIONS, {"id": 15, "image_id": 2, "category_id": 4}]),
            "annotation 15 has the category_id 4, which no category of the file lists",
        ),
        (
            with_train(images=[*TRAIN["images"], {"id": 2, "file_name": "000005.jpg"}]),
            "lists the image id 2 twice (000002.jpg and 000005.jpg)",
        ),
        (
            with_train(images=[*TRAIN["images"], {"id": 3, "file_name": "000003.jpg"}]),
            "lists the image 000003.jpg again (first in annotations/instances_test.json)",
        ),
        (
            {**GOOD, "annotations/instances_train.json": BROKEN_JSON},
            f"not valid JSON at {BROKEN_AT}",
        ),
        (
            with_train(images=[{"id": 1, "file_name": "000001.jpg", "tags": "beach"}]),
            "image 1 has the tags 'beach': give a list of words",
        ),
        ({**GOOD, "annotations/instances_train.json": [1, 2]}, "not a COCO instances file"),
    ],
)
def test_a_bad_instances_file_is_one_line_at_the_command_line(
    tiny_demo, tmp_path, capsys, files, expected
):
    root = make_root(tiny_demo, tmp_path, files)
    argv = ["record", str(root), "--dataset", "cocojson", "--split-rule", "official", "--name", "x"]
    code, _, err = run([*argv, "--out", str(tmp_path / "x.json")], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1, err
    assert "instances_" in err and expected in err, err
    assert not (tmp_path / "x.json").exists()


def test_verify_names_a_file_broken_after_recording(tiny_demo, tmp_path, capsys):
    root = make_root(tiny_demo, tmp_path, GOOD)
    out = tmp_path / "mine.json"
    argv = ["record", str(root), "--dataset", "cocojson", "--split-rule", "official"]
    assert run([*argv, "--name", "m", "--out", str(out)], capsys)[0] == 0
    (root / "annotations" / "instances_train.json").write_text(BROKEN_JSON)
    code, printed, _ = run(["verify", str(out), str(root)], capsys)
    path = root / "annotations" / "instances_train.json"
    assert BROKEN_JSON.splitlines()[11].strip() == '"id": 2'  # line 12 lost its comma
    assert code == 1 and f"{path}: not valid JSON at {BROKEN_AT}" in printed


def test_a_folder_without_instances_file_is_named_with_the_coco_json_layout(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(
        ValueError, match=r"nor the COCO JSON layout \(images/ and \[annotations/\]"
    ):
        check_root(tmp_path, "cocojson", "profile mine")
    (tmp_path / "instances_default.json").write_text("{}")  # at the root is found too
    assert detect_layouts(tmp_path) == ["cocojson"]


def test_the_committed_demo_manifest_describes_the_demo_layout():
    manifest = load_manifest("demo_cocojson")
    assert (manifest.dataset, manifest.split_rule) == ("cocojson", "official")
    assert sorted(manifest.files) == [
        "annotations/instances_test.json",
        "annotations/instances_train.json",
    ]
    assert (manifest.counts["train"], manifest.counts["test"]) == (2000, 1000)
    assert manifest.vocabulary == load_manifest("demo_csv").vocabulary
