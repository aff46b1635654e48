"""The folder + CSV layout for a user's own labelled images (Kaggle's multi-label sets, fastai's
``from_csv(label_delim=" ")``).

A root holds ``images/`` and ``labels.csv``, whose header names the columns ``image`` (a path
relative to ``images/``), ``labels`` (the image's labels joined by the label delimiter, a space
by default; empty for an image without label), optionally ``tags`` (noisy user tags, same
delimiter, for M3's tags branch) and ``split`` (``train`` or ``test``; without it every image is
train and the ``ratio`` split rule draws a seeded test share). Other columns are ignored. The label
vocabulary is every label found, sorted; the tag vocabulary the ``tag_vocab_size`` most frequent
tags, sorted. The delimiter and the test share are recorded in the manifest's ``labels.csv``
entry (``annokit manifest record ... --label-delimiter --test-share``).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annokit.data.annotation_table import TEST, TRAIN, AnnotationTable

LABELS_CSV = "labels.csv"
IMAGES = "images"
REQUIRED_COLUMNS = ("image", "labels")
SPLIT_VALUES = (TRAIN, TEST)
DEFAULT_DELIMITER = " "
DEFAULT_TEST_SHARE = 0.2
# Keys of the manifest's labels.csv entry that say how to read the file.
DELIMITER_KEY = "label_delimiter"
TEST_SHARE_KEY = "test_share"
# Delimiters a label holding one of them was probably written with.
LIKELY_DELIMITERS = (",", ";", "|", "\t", " ")
FIX_RECORD = "annokit manifest record ROOT --dataset csv"


@dataclass(frozen=True)
class CsvLayout:
    """How ``labels.csv`` is read: the label delimiter and, for the ``ratio`` rule, the test
    share."""

    delimiter: str = DEFAULT_DELIMITER
    test_share: float = DEFAULT_TEST_SHARE

    def __post_init__(self) -> None:
        if not self.delimiter or self.delimiter in ('"', "\n", "\r"):
            raise ValueError(
                f"the label delimiter {self.delimiter!r} cannot separate labels: use one "
                "character such as ' ', ',', ';' or '|'"
            )
        if not 0.0 < self.test_share < 1.0:
            raise ValueError(
                f"the test share {self.test_share} is not between 0 and 1: give e.g. 0.2 "
                "(a fifth of the images for test)"
            )

    def entry(self) -> dict[str, str | float]:
        """The keys this layout adds to the manifest's ``labels.csv`` entry."""
        return {DELIMITER_KEY: self.delimiter, TEST_SHARE_KEY: self.test_share}

    @classmethod
    def from_files(cls, files: dict[str, dict]) -> CsvLayout:
        """The layout a manifest's ``files`` record (the defaults where it records none)."""
        entry = files.get(LABELS_CSV, {})
        return cls(
            delimiter=str(entry.get(DELIMITER_KEY, DEFAULT_DELIMITER)),
            test_share=float(entry.get(TEST_SHARE_KEY, DEFAULT_TEST_SHARE)),
        )


def read_csv_layout(
    root: Path, layout: CsvLayout = CsvLayout(), tag_vocab_size: int = 1000
) -> AnnotationTable:
    """The folder + CSV layout under ``root`` as the kit's table (paths ``images/<image>``); a bad
    row raises one line naming the file, the line and the fix."""
    path = Path(root) / LABELS_CSV
    rows = parsed_rows(path)
    columns = set(rows[0][1])
    problems: list[str] = []
    first_line: dict[str, int] = {}
    labels, tags = [], []
    for line, row in rows:
        problems += row_problems(row, line, first_line, layout.delimiter)
        labels.append(split_names(row["labels"], layout.delimiter))
        tags.append(split_names(row.get("tags") or "", layout.delimiter))
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ValueError(f"{path}: {problems[0]}{more}")
    images = [row["image"] for _, row in rows]
    split = [row["split"] for _, row in rows] if "split" in columns else [TRAIN] * len(rows)
    label_names = tuple(sorted({name for names in labels for name in names}))
    tag_names = frequent_tags(tags, tag_vocab_size)
    return AnnotationTable(
        dataset="csv",
        image_ids=np.array(images, dtype=str),
        paths=np.array([f"{IMAGES}/{image}" for image in images], dtype=str),
        official_split=np.array(split, dtype=str),
        labels=multi_hot(labels, label_names),
        tags=multi_hot(tags, tag_names),
        label_names=label_names,
        tag_names=tag_names,
    )


def parsed_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of every data row of ``labels.csv``, its header checked."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: write it with the header image,labels (optional tags, split), "
            f"one row per file under {path.parent / IMAGES}"
        )
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            reader.fieldnames = header
            rows = [
                (reader.line_num, row) for row in reader if any((v or "") for v in row.values())
            ]
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error}): save it as UTF-8") from None
    except csv.Error as error:
        raise ValueError(f"{path} is not a readable CSV ({error}): fix its quoting") from None
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ValueError(
            f"{path} lacks the column(s) {', '.join(missing)} (its header: "
            f"{','.join(header) or 'none'}): its first line must name image and labels, "
            "optionally tags and split, separated by commas"
        )
    if not rows:
        raise ValueError(f"{path} lists no image: add one row per image below its header")
    return rows


def row_problems(row: dict, line: int, first_line: dict[str, int], delimiter: str) -> list[str]:
    """What is wrong with one row (empty when nothing); records its image in ``first_line``."""
    if None in row or any(value is None for value in row.values()):
        return [
            f"line {line} has another number of fields than the header: quote a field that "
            'holds a comma ("a,b")'
        ]
    image = row["image"].strip()
    if not image or image.startswith("/") or ".." in Path(image).parts:
        return [f"line {line} has the image {image!r}: give a path relative to {IMAGES}/"]
    if image in first_line:
        return [
            f"line {line} lists the image {image} again (first on line {first_line[image]}): "
            "keep one row per image, with all its labels"
        ]
    first_line[image] = line
    row["image"] = image
    problems = names_problems(row["labels"], "label", line, delimiter)
    problems += names_problems(row.get("tags") or "", "tag", line, delimiter)
    if "split" in row and row["split"] not in SPLIT_VALUES:
        problems.append(
            f"line {line} has the split {row['split']!r}: write train or test (or drop the "
            "split column, and the ratio split rule draws a test share)"
        )
    return problems


def names_problems(field: str, kind: str, line: int, delimiter: str) -> list[str]:
    """Empty, duplicated or wrongly delimited labels (or tags) of one field."""
    if not field:
        return []
    names = field.split(delimiter)
    shown = repr(delimiter)
    if "" in names:
        return [
            f"line {line} has an empty {kind} in {field!r} (two delimiters {shown} in a row, or "
            "one at an end): remove the extra delimiter"
        ]
    for name in names:
        other = next((d for d in LIKELY_DELIMITERS if d != delimiter and d in name), None)
        if other is not None and (other != " " or name != name.strip()):
            return [
                f"line {line} has the {kind} {name!r}, which holds {other!r} while the label "
                f"delimiter is {shown}: join the {kind}s with {shown}, or record the manifest "
                f"with --label-delimiter {other!r} ({FIX_RECORD})"
            ]
    duplicated = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicated:
        return [f"line {line} lists the {kind} {duplicated[0]!r} twice: list it once"]
    return []


def split_names(field: str, delimiter: str) -> list[str]:
    """The labels (or tags) of one field; none for an empty field."""
    return field.split(delimiter) if field else []


def frequent_tags(tags: list[list[str]], size: int) -> tuple[str, ...]:
    """The ``size`` most frequent tags (ties by name), sorted."""
    counts = Counter(name for names in tags for name in names)
    ranked = sorted(counts, key=lambda name: (-counts[name], name))
    return tuple(sorted(ranked[:size]))


def multi_hot(rows: list[list[str]], names: tuple[str, ...]) -> np.ndarray:
    """(N, len(names)) bool matrix of the names each row holds (names outside ``names`` dropped)."""
    column = {name: j for j, name in enumerate(names)}
    matrix = np.zeros((len(rows), len(names)), dtype=bool)
    for i, row in enumerate(rows):
        matrix[i, [column[name] for name in row if name in column]] = True
    return matrix


def detect(root: Path) -> bool:
    """Whether ``root`` holds the folder + CSV layout (a ``labels.csv``)."""
    return (Path(root) / LABELS_CSV).is_file()
