"""The NUS-WIDE reader on a small fixture written in the real format (Windows paths, CRLF
endings, trailing tabs, blank last lines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annokit.data.nuswide import read_nuswide

# ---------------------------------------------------------------------------------------------
# NUS-WIDE fixture: Windows paths, CRLF endings, a trailing tab on every AllTags1k row and a
# blank last line in every file.

NUS_IMAGES = [
    ("actor", "0001_2124494179"),
    ("beach", "0002_3362917001"),
    ("actor", "0003_1111111111"),
    ("sky", "0004_2222222222"),
    ("beach", "0005_3333333333"),
]


NUS_TRAIN = [2, 0, 4]  # list order differs from Imagelist order on purpose


NUS_TEST = [3, 1]


NUS_CONCEPTS = ["animal", "beach", "sky"]


NUS_LABELS = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0], [0, 0, 1], [1, 1, 0]], dtype=bool)


NUS_TAGS = ["film", "sea", "blue", "nikon"]


NUS_TAG_ROWS = np.array(
    [[1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 1, 1], [0, 1, 0, 0]], dtype=bool
)


def write_lines(path: Path, lines: list[str]) -> None:
    """Write lines the way the real files are: CRLF endings and a blank last line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n\r\n").encode())


def zero_one(values) -> list[str]:
    return [str(int(v)) for v in values]


def write_nuswide(root: Path, concepts_dir: str = "") -> Path:
    """Write every annotation file of a five-image NUS-WIDE under root."""
    write_lines(
        root / "ImageList/Imagelist.txt",
        [f"C:\\ImageData\\Flickr\\{f}\\{n}.jpg" for f, n in NUS_IMAGES],
    )
    for name, rows in (("Train", NUS_TRAIN), ("Test", NUS_TEST)):
        write_lines(
            root / f"ImageList/{name}Imagelist.txt",
            [f"{NUS_IMAGES[i][0]}\\{NUS_IMAGES[i][1]}.jpg" for i in rows],
        )
        for j, concept in enumerate(NUS_CONCEPTS):
            write_lines(
                root / f"Groundtruth/TrainTestLabels/Labels_{concept}_{name}.txt",
                zero_one(NUS_LABELS[rows, j]),
            )
    write_lines(root / concepts_dir / "Concepts81.txt", NUS_CONCEPTS)
    for j, concept in enumerate(NUS_CONCEPTS):
        write_lines(
            root / f"Groundtruth/AllLabels/Labels_{concept}.txt", zero_one(NUS_LABELS[:, j])
        )
    write_lines(root / "NUS_WID_Tags/TagList1k.txt", NUS_TAGS)
    write_lines(
        root / "NUS_WID_Tags/AllTags1k.txt",
        ["\t".join(zero_one(row)) + "\t" for row in NUS_TAG_ROWS],
    )
    return root


def replace_line(path: Path, number: int, text: str) -> None:
    """Overwrite 1-based line ``number`` of a CRLF file."""
    lines = path.read_bytes().decode().split("\r\n")
    lines[number - 1] = text
    path.write_bytes("\r\n".join(lines).encode())


def test_nuswide_rows_ids_paths_and_split(tmp_path):
    table = read_nuswide(write_nuswide(tmp_path))
    assert table.dataset == "nuswide"
    assert table.image_ids.tolist() == [f"{f}/{n}" for f, n in NUS_IMAGES]
    assert table.paths.tolist() == [f"Flickr/{f}/{n}.jpg" for f, n in NUS_IMAGES]
    assert table.official_split.tolist() == ["train", "test", "train", "test", "train"]


def test_nuswide_labels_and_tags(tmp_path):
    table = read_nuswide(write_nuswide(tmp_path))
    assert table.label_names == tuple(NUS_CONCEPTS)
    assert table.tag_names == tuple(NUS_TAGS)
    assert table.labels.dtype == bool and table.tags.dtype == bool
    np.testing.assert_array_equal(table.labels, NUS_LABELS)
    np.testing.assert_array_equal(table.tags, NUS_TAG_ROWS)


def test_nuswide_accepts_concepts_in_conceptslist_folder_and_space_separated_tags(tmp_path):
    root = write_nuswide(tmp_path, concepts_dir="ConceptsList")
    write_lines(
        root / "NUS_WID_Tags/AllTags1k.txt",
        ["  ".join(zero_one(row)) + " " for row in NUS_TAG_ROWS],
    )
    table = read_nuswide(root)
    assert table.label_names == tuple(NUS_CONCEPTS)
    np.testing.assert_array_equal(table.tags, NUS_TAG_ROWS)


def test_nuswide_file_without_final_newline(tmp_path):
    root = write_nuswide(tmp_path)
    path = root / "NUS_WID_Tags/AllTags1k.txt"
    path.write_bytes(path.read_bytes().rstrip(b"\r\n\t"))
    np.testing.assert_array_equal(read_nuswide(root).tags, NUS_TAG_ROWS)


@pytest.mark.parametrize(
    ("rel", "archive"),
    [
        ("ImageList/TestImagelist.txt", "ImageList.zip"),
        ("Groundtruth/AllLabels/Labels_sky.txt", "Groundtruth.zip"),
        ("Groundtruth/TrainTestLabels/Labels_beach_Test.txt", "Groundtruth.zip"),
        ("NUS_WID_Tags/AllTags1k.txt", "NUS_WID_Tags.zip"),
        ("Concepts81.txt", "ConceptsList.zip"),
    ],
)
def test_nuswide_missing_file_names_it_and_the_archive(tmp_path, rel, archive):
    root = write_nuswide(tmp_path)
    (root / rel).unlink()
    with pytest.raises(FileNotFoundError, match=rf"{rel.split('/')[-1]}.*{archive}"):
        read_nuswide(root)


@pytest.mark.parametrize(
    "rel", ["Groundtruth/AllLabels/Labels_beach.txt", "NUS_WID_Tags/AllTags1k.txt"]
)
def test_nuswide_row_count_mismatch_names_the_file(tmp_path, rel):
    root = write_nuswide(tmp_path)
    path = root / rel
    extra_row = b"0\t0\t0\t0\t" if "Tags" in rel else b"1"
    path.write_bytes(path.read_bytes().rstrip() + b"\r\n" + extra_row + b"\r\n\r\n")
    with pytest.raises(
        ValueError, match=rf"{path.name} has 6 rows but ImageList/Imagelist\.txt lists 5 images"
    ):
        read_nuswide(root)


def test_nuswide_tag_row_with_wrong_column_count_names_the_line(tmp_path):
    root = write_nuswide(tmp_path)
    replace_line(root / "NUS_WID_Tags/AllTags1k.txt", 3, "0\t0\t1\t")
    with pytest.raises(ValueError, match=r"AllTags1k\.txt line 3 has 3 values, expected 4"):
        read_nuswide(root)


def test_nuswide_value_other_than_0_1_names_the_line(tmp_path):
    root = write_nuswide(tmp_path)
    replace_line(root / "Groundtruth/AllLabels/Labels_sky.txt", 4, "2")
    with pytest.raises(ValueError, match=r"Labels_sky\.txt line 4 holds a value other than 0 or 1"):
        read_nuswide(root)


def test_nuswide_list_entry_not_in_imagelist(tmp_path):
    root = write_nuswide(tmp_path)
    replace_line(root / "ImageList/TestImagelist.txt", 2, "beach\\9999_0000000000.jpg")
    with pytest.raises(
        ValueError,
        match=r"TestImagelist\.txt line 2 .*9999_0000000000.*not in ImageList/Imagelist\.txt",
    ):
        read_nuswide(root)


def test_nuswide_image_in_both_lists(tmp_path):
    root = write_nuswide(tmp_path)
    replace_line(root / "ImageList/TestImagelist.txt", 1, "actor\\0001_2124494179.jpg")
    with pytest.raises(
        ValueError,
        match=r"are in both .*TrainImagelist\.txt and .*TestImagelist\.txt, first actor/0001",
    ):
        read_nuswide(root)


def test_nuswide_image_in_neither_list(tmp_path):
    root = write_nuswide(tmp_path)
    write_lines(root / "ImageList/TestImagelist.txt", ["beach\\0002_3362917001.jpg"])
    with pytest.raises(ValueError, match=r"in neither of .*, first sky/0004_2222222222 \(line 4\)"):
        read_nuswide(root)


def test_nuswide_train_test_labels_disagreeing_with_all_labels(tmp_path):
    root = write_nuswide(tmp_path)
    # Test list line 2 is image beach/0002, whose sky label is 1.
    replace_line(root / "Groundtruth/TrainTestLabels/Labels_sky_Test.txt", 2, "0")
    with pytest.raises(
        ValueError, match=r"Labels_sky_Test\.txt line 2 says 0 but .*Labels_sky\.txt says 1"
    ):
        read_nuswide(root)
    table = read_nuswide(root, check_train_test_labels=False)
    np.testing.assert_array_equal(table.labels, NUS_LABELS)


def test_nuswide_blank_line_inside_imagelist_is_refused(tmp_path):
    root = write_nuswide(tmp_path)
    replace_line(root / "ImageList/Imagelist.txt", 2, "  ")
    with pytest.raises(ValueError, match=r"Imagelist\.txt line 2 is blank"):
        read_nuswide(root)
