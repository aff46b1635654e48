"""Tests for the folder + CSV layout (images/ + labels.csv): reading it, the ratio split, recording
and verifying its manifest, and one clear line for each bad input at the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from annokit.cli import run_cli
from annokit.data.csv_layout import CsvLayout, read_csv_layout
from annokit.data.manifest import main as manifest_main
from annokit.data.manifest import record_layout, verify
from annokit.data.manifest_file import load_manifest
from annokit.data.readers import check_root, detect_layouts, read_dataset
from annokit.data.splits import apply_split_rule

HEADER = "image,labels,tags,split\n"


def make_root(tiny_demo, tmp_path: Path, text: str, n_images: int = 4) -> Path:
    """A folder + CSV root with the tiny demo's first images and ``text`` as labels.csv."""
    root = tmp_path / "mine"
    (root / "images").mkdir(parents=True)
    for path in sorted((tiny_demo[0] / "csv" / "images").iterdir())[:n_images]:
        shutil.copyfile(path, root / "images" / path.name)
    (root / "labels.csv").write_text(text, encoding="utf-8")
    return root


GOOD = HEADER + (
    "000001.jpg,cat dog,beach summer,train\n"
    "000002.jpg,dog,,train\n"
    "000003.jpg,,sky,test\n"
    "000004.jpg,bird cat,sky beach,test\n"
)


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run ``python -m annokit.data.manifest`` in-process: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exit_info:
        run_cli(manifest_main, argv, prog="python -m annokit.data.manifest")
    out, err = capsys.readouterr()
    return int(exit_info.value.code), out, err


def test_the_reader_builds_the_table_with_a_sorted_vocabulary_from_the_data(tiny_demo, tmp_path):
    root = make_root(tiny_demo, tmp_path, GOOD)
    assert detect_layouts(root) == ["csv"]
    table = read_dataset("csv", root)
    assert table.label_names == ("bird", "cat", "dog")
    assert table.tag_names == ("beach", "sky", "summer")
    assert list(table.paths) == [f"images/00000{i}.jpg" for i in range(1, 5)]
    assert list(table.official_split) == ["train", "train", "test", "test"]
    np.testing.assert_array_equal(table.labels.sum(axis=1), [2, 1, 0, 2])
    assert table.tags[1].sum() == 0 and table.tags[3].sum() == 2
    small = read_csv_layout(root, tag_vocab_size=2)  # the two most frequent tags
    assert small.tag_names == ("beach", "sky")


def test_another_delimiter_and_no_tags_or_split_column(tiny_demo, tmp_path):
    text = 'image,labels\n000001.jpg,"traffic light,cat"\n000002.jpg,cat\n000003.jpg,dog\n'
    root = make_root(tiny_demo, tmp_path, text)
    table = read_dataset("csv", root, layout=CsvLayout(delimiter=","))
    assert table.label_names == ("cat", "dog", "traffic light") and table.tag_names == ()
    assert set(table.official_split) == {"train"}
    with pytest.raises(ValueError, match="assigns no image to test"):
        apply_split_rule(table, "official")
    split = apply_split_rule(table, "ratio", seed=0, test_share=0.34)
    assert list(split.official_split).count("test") == 1
    again = apply_split_rule(table, "ratio", seed=0, test_share=0.34)
    np.testing.assert_array_equal(split.official_split, again.official_split)
    with pytest.raises(ValueError, match="has a split already"):
        apply_split_rule(split, "ratio")


def test_record_then_verify_and_a_changed_labels_file(tiny_demo, tmp_path, capsys):
    root = make_root(tiny_demo, tmp_path, GOOD)
    out = tmp_path / "mine.json"
    argv = ["record", str(root), "--dataset", "csv", "--split-rule", "official", "--name", "mine"]
    code, printed, _ = run([*argv, "--out", str(out)], capsys)
    assert code == 0 and str(out) in printed
    manifest = load_manifest(out)
    assert manifest.counts == {
        "images": 4,
        "official_train": 2,
        "official_test": 2,
        "train": 2,
        "test": 2,
    }
    assert manifest.vocabulary == {"labels": 3, "tags": 3}
    assert manifest.files["labels.csv"]["label_delimiter"] == " "
    code, printed, _ = run(["verify", str(out), str(root), "--deep"], capsys)
    assert code == 0 and "everything matches, every image decodes" in printed
    (root / "labels.csv").write_text(GOOD.replace("cat dog", "cat"), encoding="utf-8")
    code, printed, _ = run(["verify", str(out), str(root)], capsys)
    assert code == 1 and "labels.csv differs from the manifest" in printed


def test_the_ratio_rule_is_recorded_with_its_share_and_verified(tiny_demo, tmp_path):
    root = tiny_demo[0] / "csv"
    text = (root / "labels.csv").read_text().replace(",train\n", "\n").replace(",test\n", "\n")
    mine = make_root(tiny_demo, tmp_path, text.replace(",split\n", "\n"), n_images=72)
    layout = CsvLayout(test_share=0.25)
    manifest = record_layout(mine, "csv", "ratio", ("mine", "test"), layout, seed=3)
    assert (manifest.counts["train"], manifest.counts["test"]) == (54, 18)
    report, split = verify(mine, manifest, seed=3, progress=False)
    assert report.ok and int((split.official_split == "test").sum()) == 18
    report, _ = verify(mine, manifest, seed=4, progress=False)  # another draw, the same counts
    assert report.ok


@pytest.mark.parametrize(
    "text, expected",
    [
        (GOOD.replace("cat dog", "cat  dog"), "line 2 has an empty label in"),
        (GOOD.replace("bird cat", "cat cat"), "line 5 lists the label 'cat' twice"),
        (
            GOOD.replace("cat dog", '"cat,dog"'),
            "the label 'cat,dog', which holds ',' while the label delimiter is ' '",
        ),
        (GOOD.replace("000002.jpg", "000001.jpg"), "line 3 lists the image 000001.jpg again"),
        ("image,label\n000001.jpg,cat\n", "lacks the column(s) labels"),
        (GOOD.replace(",test\n", ",val\n", 1), "line 4 has the split 'val': write train or test"),
        (HEADER, "lists no image"),
        (GOOD.replace("cat dog,beach summer", "cat dog,beach,x"), "another number of fields"),
    ],
)
def test_a_bad_labels_file_is_one_line_at_the_command_line(
    tiny_demo, tmp_path, capsys, text, expected
):
    root = make_root(tiny_demo, tmp_path, text)
    argv = ["record", str(root), "--dataset", "csv", "--split-rule", "official", "--name", "x"]
    code, _, err = run([*argv, "--out", str(tmp_path / "x.json")], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1, err
    assert str(root / "labels.csv") in err and expected in err, err
    assert not (tmp_path / "x.json").exists()


def test_verify_reports_a_missing_image_and_a_bad_row(tiny_demo, tmp_path, capsys):
    root = make_root(tiny_demo, tmp_path, GOOD)
    out = tmp_path / "mine.json"
    argv = ["record", str(root), "--dataset", "csv", "--split-rule", "official", "--name", "m"]
    assert run([*argv, "--out", str(out)], capsys)[0] == 0
    (root / "images" / "000003.jpg").unlink()
    code, printed, _ = run(["verify", str(out), str(root)], capsys)
    assert code == 1 and "1 image file(s) missing, first: images/000003.jpg" in printed
    (root / "labels.csv").write_text(GOOD.replace(",test\n", ",Test\n", 1), encoding="utf-8")
    code, printed, _ = run(["verify", str(out), str(root)], capsys)
    assert code == 1 and "line 4 has the split 'Test'" in printed


def test_a_bad_delimiter_or_share_at_record_is_one_line(tiny_demo, tmp_path, capsys):
    root = make_root(tiny_demo, tmp_path, GOOD)
    argv = ["record", str(root), "--dataset", "csv", "--split-rule", "ratio", "--name", "x"]
    code, _, err = run([*argv, "--test-share", "1.5", "--out", str(tmp_path / "x.json")], capsys)
    assert code != 0 and "the test share 1.5 is not between 0 and 1" in err
    code, _, err = run([*argv, "--out", str(tmp_path / "x.json")], capsys)
    assert code != 0 and "has a split already" in err and len(err.strip().splitlines()) == 1


def test_a_folder_without_labels_csv_is_named_with_the_csv_layout(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(
        ValueError, match=r"nor the folder \+ CSV layout \(images/ and labels.csv\)"
    ):
        check_root(tmp_path, "csv", "profile mine")


def test_the_committed_demo_manifest_describes_the_demo_layout():
    manifest = load_manifest("demo_csv")
    assert (manifest.dataset, manifest.split_rule) == ("csv", "official")
    assert (manifest.counts["train"], manifest.counts["test"]) == (2000, 1000)
    assert CsvLayout.from_files(manifest.files) == CsvLayout()
