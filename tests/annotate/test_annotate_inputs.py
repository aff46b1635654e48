"""What ``annokit annotate`` reads (folders, files, a list, a CSV) and what it writes (the CSV and
JSON of the annotations), on hand-made cases."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annokit.annotate.annotation_files import csv_text, json_record
from annokit.annotate.new_annotations import Annotations, tag_vectors
from annokit.annotate.new_images import (
    NewImage,
    collect_images,
    decode_batch,
    read_file_list,
    read_image_csv,
)


def picture(path: Path, colour: str = "red") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (20, 10), colour).save(path)
    return path


def test_a_folder_gives_its_images_sorted_with_subfolders_and_without_hidden_or_other_files(
    tmp_path,
):
    picture(tmp_path / "b.png")
    picture(tmp_path / "a.JPG")
    picture(tmp_path / "sub" / "c.jpeg")
    picture(tmp_path / ".hidden" / "d.png")
    (tmp_path / "notes.txt").write_text("not an image")
    names = [
        Path(image.name).relative_to(tmp_path).as_posix()
        for image in collect_images([str(tmp_path)])
    ]
    assert names == ["a.JPG", "b.png", "sub/c.jpeg"]


def test_files_a_list_and_a_csv_are_read_once_each_in_order(tmp_path):
    first, second = picture(tmp_path / "x" / "1.png"), picture(tmp_path / "x" / "2.png")
    listing = tmp_path / "x" / "list.txt"
    listing.write_text("# my images\n2.png\n\n1.png\n")
    table = tmp_path / "x" / "new.csv"
    table.write_text("image,tags,other\n1.png,sea  boat,ignored\n2.png,,\n")
    from_csv = read_image_csv(table)
    assert [(image.path, image.tags) for image in from_csv] == [
        (first, ("sea", "boat")),
        (second, ()),
    ]
    assert read_file_list(listing) == [str(second), str(first)]
    images = collect_images([str(second), *read_file_list(listing)], table)
    assert [image.path for image in images] == [second, first]  # each file once, first mention
    assert images[0].tags is None  # given on the command line: no tags


def test_a_csv_without_an_image_column_names_its_header(tmp_path):
    table = tmp_path / "new.csv"
    table.write_text("file,tags\na.png,sea\n")
    with pytest.raises(ValueError, match=r"no column 'image' \(its header: file, tags\)"):
        read_image_csv(table)


def test_tag_vectors_use_the_run_vocabulary_and_count_the_others():
    images = [NewImage("a", Path("a"), ("sea", "boat", "zzz")), NewImage("b", Path("b"), ())]
    vectors, unknown = tag_vectors(images, ("boat", "car", "sea"))
    assert vectors.tolist() == [[1, 0, 1], [0, 0, 0]] and unknown == 1


def test_decode_batch_keeps_the_good_images_and_names_the_others(tmp_path):
    good = picture(tmp_path / "good.png", "blue")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    images = [NewImage("good", good), NewImage("bad", tmp_path / "bad.png"),
              NewImage("gone", tmp_path / "gone.png")]  # fmt: skip
    batch, kept, left_out = decode_batch(images, image_size=16)
    assert batch.shape == (1, 3, 16, 16) and [image.name for image in kept] == ["good"]
    assert [item.name for item in left_out] == ["bad", "gone"]
    assert left_out[1].reason == "missing"


def hand_made() -> Annotations:
    """Two images, three labels; the second with an LQP output of 1.6 (m̂ = 2)."""
    scores = np.array([[0.2, 0.9, 0.5], [0.7, 0.1, 0.8]], dtype=np.float32)
    return Annotations(
        model="m3",
        prediction_file="mscnn_tags_lqp",
        profile="demo",
        rule="top-m̂ (LQP on [f_v, f_t])",
        label_names=("traffic light", "sky", "sea"),
        images=[NewImage("one.png", Path("one.png"), ("a",)), NewImage("two.png", Path("two.png"))],
        scores=scores,
        annotation=np.array([[False, True, False], [True, False, True]]),
        counts=np.array([0.7, 1.6], dtype=np.float32),
    )


def test_the_csv_lists_labels_by_score_with_every_label_score_and_m_hat():
    rows = list(csv.DictReader(io.StringIO(csv_text(hand_made()))))
    assert [row["labels"] for row in rows] == ["sky", "sea;traffic light"]
    assert [row["scores"] for row in rows] == ["0.9", "0.8;0.7"]
    assert [row["m_hat"] for row in rows] == ["1", "2"]
    assert rows[1]["score:traffic light"] == "0.7" and float(
        rows[0]["lqp_output"]
    ) == pytest.approx(0.7)


def test_the_json_holds_every_score_and_the_rule():
    record = json_record(hand_made())
    assert record["rule"] == "top-m̂ (LQP on [f_v, f_t])"
    assert record["images"][1]["labels"] == ["sea", "traffic light"]
    assert record["images"][0]["scores"]["sea"] == pytest.approx(0.5)
    assert record["images"][0]["tags"] == ["a"] and "tags" not in record["images"][1]
    assert [image["m_hat"] for image in record["images"]] == [1, 2]
