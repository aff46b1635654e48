"""The MS-COCO 2014 reader on a small fixture written in the real format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annokit.data.captions import build_vocabulary, tags_matrix, tokenize
from annokit.data.coco import read_coco

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
    return {
        "id": image_id,
        "file_name": f"COCO_{folder}_{image_id:012d}.jpg",
        "width": 640,
        "height": 480,
    }


def write_coco(
    root: Path, categories: dict[str, list] | None = None, captions: dict | None = None
) -> Path:
    """Write the four official annotation files under root/annotations."""
    (root / "annotations").mkdir(parents=True)
    captions = captions or COCO_CAPTIONS
    for folder, image_ids in COCO_IMAGES.items():
        images = [coco_image(i, folder) for i in image_ids]
        instances = [
            {
                "id": 100 * k + 1,
                "image_id": i,
                "category_id": c,
                "iscrowd": crowd,
                "bbox": [0, 0, 10, 10],
                "area": 100.0,
                "segmentation": [[0, 0, 10, 0, 10, 10]],
            }
            for k, (i, c, crowd) in enumerate(COCO_INSTANCES[folder])
        ]
        cats = (categories or {}).get(folder, COCO_CATEGORIES)
        info = {"description": "fixture", "year": 2014}
        write_json(
            root / f"annotations/instances_{folder}.json",
            {
                "info": info,
                "images": images,
                "annotations": instances,
                "categories": cats,
                "licenses": [],
            },
        )
        caption_anns = [
            {"id": k, "image_id": i, "caption": c} for k, (i, c) in enumerate(captions[folder])
        ]
        write_json(
            root / f"annotations/captions_{folder}.json",
            {"info": info, "images": images, "annotations": caption_anns, "licenses": []},
        )
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
    # counts: cat mat dog zebras 2 each (zebras twice in one
    # caption); bird birds nest run sat 1 each
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
    with pytest.raises(
        FileNotFoundError, match=r"captions_val2014\.json.*annotations_trainval2014\.zip"
    ):
        read_coco(root)


def test_coco_different_category_lists_are_refused(tmp_path):
    other = COCO_CATEGORIES[:2] + [{"id": 8, "name": "truck", "supercategory": "vehicle"}]
    root = write_coco(tmp_path, categories={"val2014": other})
    with pytest.raises(
        ValueError, match=r"instances_train2014\.json and .*instances_val2014\.json"
    ):
        read_coco(root)


def test_coco_captions_of_unknown_images_are_refused(tmp_path):
    captions = dict(
        COCO_CAPTIONS,
        val2014=[*COCO_CAPTIONS["val2014"], (10, "train image in val"), (77, "ghost")],
    )
    root = write_coco(tmp_path, captions=captions)
    with pytest.raises(ValueError, match=r"captions_val2014\.json.*\[10, 77\]"):
        read_coco(root)


def test_coco_reader_prints_nothing(tmp_path, capsys):
    read_coco(write_coco(tmp_path))
    assert capsys.readouterr().out == ""
