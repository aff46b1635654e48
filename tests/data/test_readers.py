"""Dataset readers on small fixtures written in the real COCO 2014 and NUS-WIDE formats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from annokit.data.captions import build_vocabulary, tags_matrix, tokenize
from annokit.data.coco import read_coco
from annokit.data.nuswide import read_nuswide

# ---------------------------------------------------------------------------------------------
# COCO fixture: category ids 2, 7, 90 listed out of order (so contiguous indices must come from
# sorting), image 20 without any instance, a crowd instance on image 30, val ids below train ids.

COCO_CATEGORIES = [
    {"id": 90, "name": "toothbrush", "supercategory": "indoor"},
    {"id": 2, "name": "bicycle", "supercategory": "vehicle"},
    {"id": 7, "name": "train", "supercategory": "vehicle"},
]
COCO_IMAGES = {"train2014": [30, 10, 20], "val2014": [5, 3]}
# (image id, category id, iscrowd)
COCO_INSTANCES = {
    "train2014": [(10, 2, 0), (10, 7, 0), (10, 2, 0), (30, 90, 1)],
    "val2014": [(3, 7, 0), (5, 2, 0), (5, 90, 0)],
}
COCO_CAPTIONS = {
    "train2014": [
        (10, "A cat sat on the mat."),
        (10, "Cat-and-dog: a MAT!"),
        (20, "Zebras and a dog; the zebras run."),
        (30, "Two birds, one bird's nest."),
    ],
    # giraffe dominates val but must not enter the train-only vocabulary.
    "val2014": [(3, "Giraffe giraffe, giraffe and a dog"), (3, "giraffe"), (5, "Nothing here.")],
}


def coco_image(image_id: int, folder: str) -> dict:
    return {"id": image_id, "file_name": f"COCO_{folder}_{image_id:012d}.jpg", "width": 640, "height": 480}


def write_coco(root: Path, categories: dict[str, list] | None = None, captions: dict | None = None) -> Path:
    """Write the four official annotation files under root/annotations."""
    (root / "annotations").mkdir(parents=True)
    captions = captions or COCO_CAPTIONS
    for folder, image_ids in COCO_IMAGES.items():
        images = [coco_image(i, folder) for i in image_ids]
        instances = [
            {"id": 100 * k + 1, "image_id": i, "category_id": c, "iscrowd": crowd, "bbox": [0, 0, 10, 10], "area": 100.0,
             "segmentation": [[0, 0, 10, 0, 10, 10]]}
            for k, (i, c, crowd) in enumerate(COCO_INSTANCES[folder])
        ]
        cats = (categories or {}).get(folder, COCO_CATEGORIES)
        info = {"description": "fixture", "year": 2014}
        write_json(root / f"annotations/instances_{folder}.json",
                   {"info": info, "images": images, "annotations": instances, "categories": cats, "licenses": []})
        caption_anns = [{"id": k, "image_id": i, "caption": c} for k, (i, c) in enumerate(captions[folder])]
        write_json(root / f"annotations/captions_{folder}.json",
                   {"info": info, "images": images, "annotations": caption_anns, "licenses": []})
    return root


def write_json(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content))


def test_tokenize_lowercases_splits_on_non_letters_and_drops_stop_words_and_single_letters():
    assert tokenize("A cat sat on the mat.") == ["cat", "sat", "mat"]
    assert tokenize("Cat-and-dog: a MAT!") == ["cat", "dog", "mat"]
    assert tokenize("Two birds, one bird's nest.") == ["birds", "bird", "nest"]
    assert tokenize("3 x-ray t-shirts, café") == ["ray", "shirts", "caf"]


def test_vocabulary_counts_occurrences_and_breaks_ties_alphabetically():
    captions = [c for _, c in COCO_CAPTIONS["train2014"]]
    # counts: cat mat dog zebras 2 each (zebras twice in one caption); bird birds nest run sat 1 each
    assert build_vocabulary([captions], 3) == ("cat", "dog", "mat")
    assert build_vocabulary([captions], 6) == ("cat", "dog", "mat", "zebras", "bird", "birds")
    assert build_vocabulary([captions], 100)[-1] == "sat"
    assert len(build_vocabulary([captions], 100)) == 9


def test_tags_matrix_marks_a_tag_when_any_caption_contains_it():
    tags = tags_matrix([["a cat", "the dog"], ["cats"], []], ("cat", "dog"))
    assert tags.dtype == bool
    assert tags.tolist() == [[True, True], [False, False], [False, False]]


def test_coco_rows_splits_paths_and_category_mapping(tmp_path):
    table = read_coco(write_coco(tmp_path), tag_vocab_size=5)
    assert table.dataset == "coco2014"
    assert table.image_ids.tolist() == ["10", "20", "30", "3", "5"]
    assert table.official_split.tolist() == ["train", "train", "train", "test", "test"]
    assert table.paths.tolist() == [
        "train2014/COCO_train2014_000000000010.jpg",
        "train2014/COCO_train2014_000000000020.jpg",
        "train2014/COCO_train2014_000000000030.jpg",
        "val2014/COCO_val2014_000000000003.jpg",
        "val2014/COCO_val2014_000000000005.jpg",
    ]
    # ids 2, 7, 90 -> columns 0, 1, 2
    assert table.label_names == ("bicycle", "train", "toothbrush")


def test_coco_labels_include_crowd_and_leave_unannotated_images_empty(tmp_path):
    table = read_coco(write_coco(tmp_path), tag_vocab_size=5)
    assert table.labels.dtype == bool
    assert table.labels.tolist() == [
        [True, True, False],  # 10: bicycle twice, train
        [False, False, False],  # 20: no annotation
        [False, False, True],  # 30: crowd toothbrush
        [False, True, False],  # 3
        [True, False, True],  # 5
    ]


def test_coco_tags_come_from_a_train_only_vocabulary(tmp_path):
    table = read_coco(write_coco(tmp_path), tag_vocab_size=5)
    assert table.tag_names == ("cat", "dog", "mat", "zebras", "bird")
    assert "giraffe" not in table.tag_names
    assert table.tags.tolist() == [
        [True, True, True, False, False],
        [False, True, False, True, False],
        [False, False, False, False, True],
        [False, True, False, False, False],
        [False, False, False, False, False],
    ]


def test_coco_default_vocabulary_is_capped_at_1000(tmp_path):
    table = read_coco(write_coco(tmp_path))
    assert len(table.tag_names) == 9


def test_coco_missing_annotation_file_names_it_and_the_archive(tmp_path):
    root = write_coco(tmp_path)
    (root / "annotations/captions_val2014.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"captions_val2014\.json.*annotations_trainval2014\.zip"):
        read_coco(root)


def test_coco_different_category_lists_are_refused(tmp_path):
    other = COCO_CATEGORIES[:2] + [{"id": 8, "name": "truck", "supercategory": "vehicle"}]
    root = write_coco(tmp_path, categories={"val2014": other})
    with pytest.raises(ValueError, match=r"instances_train2014\.json and .*instances_val2014\.json"):
        read_coco(root)


def test_coco_captions_of_unknown_images_are_refused(tmp_path):
    captions = dict(COCO_CAPTIONS, val2014=[*COCO_CAPTIONS["val2014"], (10, "train image in val"), (77, "ghost")])
    root = write_coco(tmp_path, captions=captions)
    with pytest.raises(ValueError, match=r"captions_val2014\.json.*\[10, 77\]"):
        read_coco(root)


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
NUS_TAG_ROWS = np.array([[1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 1, 1], [0, 1, 0, 0]], dtype=bool)


def write_lines(path: Path, lines: list[str]) -> None:
    """Write lines the way the real files are: CRLF endings and a blank last line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n\r\n").encode())


def zero_one(values) -> list[str]:
    return [str(int(v)) for v in values]


def write_nuswide(root: Path, concepts_dir: str = "") -> Path:
    """Write every annotation file of a five-image NUS-WIDE under root."""
    write_lines(root / "ImageList/Imagelist.txt", [f"C:\\ImageData\\Flickr\\{f}\\{n}.jpg" for f, n in NUS_IMAGES])
    for name, rows in (("Train", NUS_TRAIN), ("Test", NUS_TEST)):
        write_lines(root / f"ImageList/{name}Imagelist.txt", [f"{NUS_IMAGES[i][0]}\\{NUS_IMAGES[i][1]}.jpg" for i in rows])
        for j, concept in enumerate(NUS_CONCEPTS):
            write_lines(root / f"Groundtruth/TrainTestLabels/Labels_{concept}_{name}.txt", zero_one(NUS_LABELS[rows, j]))
    write_lines(root / concepts_dir / "Concepts81.txt", NUS_CONCEPTS)
    for j, concept in enumerate(NUS_CONCEPTS):
        write_lines(root / f"Groundtruth/AllLabels/Labels_{concept}.txt", zero_one(NUS_LABELS[:, j]))
    write_lines(root / "NUS_WID_Tags/TagList1k.txt", NUS_TAGS)
    write_lines(root / "NUS_WID_Tags/AllTags1k.txt", ["\t".join(zero_one(row)) + "\t" for row in NUS_TAG_ROWS])
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
    write_lines(root / "NUS_WID_Tags/AllTags1k.txt", ["  ".join(zero_one(row)) + " " for row in NUS_TAG_ROWS])
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


@pytest.mark.parametrize("rel", ["Groundtruth/AllLabels/Labels_beach.txt", "NUS_WID_Tags/AllTags1k.txt"])
def test_nuswide_row_count_mismatch_names_the_file(tmp_path, rel):
    root = write_nuswide(tmp_path)
    path = root / rel
    extra_row = b"0\t0\t0\t0\t" if "Tags" in rel else b"1"
    path.write_bytes(path.read_bytes().rstrip() + b"\r\n" + extra_row + b"\r\n\r\n")
    with pytest.raises(ValueError, match=rf"{path.name} has 6 rows but ImageList/Imagelist\.txt lists 5 images"):
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
    with pytest.raises(ValueError, match=r"TestImagelist\.txt line 2 .*9999_0000000000.*not in ImageList/Imagelist\.txt"):
        read_nuswide(root)


def test_nuswide_image_in_both_lists(tmp_path):
    root = write_nuswide(tmp_path)
    replace_line(root / "ImageList/TestImagelist.txt", 1, "actor\\0001_2124494179.jpg")
    with pytest.raises(ValueError, match=r"are in both .*TrainImagelist\.txt and .*TestImagelist\.txt, first actor/0001"):
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
    with pytest.raises(ValueError, match=r"Labels_sky_Test\.txt line 2 says 0 but .*Labels_sky\.txt says 1"):
        read_nuswide(root)
    table = read_nuswide(root, check_train_test_labels=False)
    np.testing.assert_array_equal(table.labels, NUS_LABELS)


def test_coco_reader_prints_nothing(tmp_path, capsys):
    read_coco(write_coco(tmp_path))
    assert capsys.readouterr().out == ""


def test_nuswide_blank_line_inside_imagelist_is_refused(tmp_path):
    root = write_nuswide(tmp_path)
    replace_line(root / "ImageList/Imagelist.txt", 2, "  ")
    with pytest.raises(ValueError, match=r"Imagelist\.txt line 2 is blank"):
        read_nuswide(root)
