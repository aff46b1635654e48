"""Reader of the real NUS-WIDE layout: 81 concept labels, 1,000 user tags, official split.

Expected under the dataset root (from NUS-WIDE's ImageList, ConceptsList, Groundtruth and
NUS_WID_Tags archives and the Flickr image archive)::

    ImageList/Imagelist.txt          C:\\ImageData\\Flickr\\actor\\0001_2124494179.jpg per line
    ImageList/TrainImagelist.txt     actor\\0001_2124494179.jpg per line
    ImageList/TestImagelist.txt
    Concepts81.txt                   (or ConceptsList/Concepts81.txt) one concept per line
    Groundtruth/AllLabels/Labels_<concept>.txt
                                     one 0/1 per line, Imagelist order
    Groundtruth/TrainTestLabels/Labels_<concept>_Train.txt
                                     one 0/1 per line, train list order
    Groundtruth/TrainTestLabels/Labels_<concept>_Test.txt
                                     one 0/1 per line, test list order
    NUS_WID_Tags/TagList1k.txt       one tag per line
    NUS_WID_Tags/AllTags1k.txt       one row of 0/1 per image, Imagelist order
    Flickr/<folder>/<name>.jpg

The real files have CRLF endings, trailing whitespace and blank last lines; all are tolerated.
The 0/1 files are parsed with numpy over their raw bytes, since AllTags1k alone holds
269,648 × 1,000 values. Image files are not opened here; a separate verify step checks them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from annokit.data.annotation_table import TEST, TRAIN, AnnotationTable

DATASET = "nuswide"

IMAGELIST = "ImageList/Imagelist.txt"
SPLIT_LISTS = ((TRAIN, "ImageList/TrainImagelist.txt"), (TEST, "ImageList/TestImagelist.txt"))
CONCEPTS = ("Concepts81.txt", "ConceptsList/Concepts81.txt")
TAGLIST = "NUS_WID_Tags/TagList1k.txt"
ALLTAGS = "NUS_WID_Tags/AllTags1k.txt"

# Which NUS-WIDE download holds each file, for the "how to fix" part of error messages.
_ARCHIVE = {
    "ImageList": "ImageList.zip",
    "Concepts81.txt": "ConceptsList.zip",
    "ConceptsList": "ConceptsList.zip",
    "Groundtruth": "Groundtruth.zip",
    "NUS_WID_Tags": "NUS_WID_Tags.zip",
}

# Byte classes of a 0/1 file: anything not listed is invalid.
_BAD, _SEP, _NEWLINE, _DIGIT = 0, 1, 2, 3
_BYTE_CLASS = np.zeros(256, dtype=np.uint8)
_BYTE_CLASS[[ord("\t"), ord(" "), ord("\r")]] = _SEP
_BYTE_CLASS[ord("\n")] = _NEWLINE
_BYTE_CLASS[[ord("0"), ord("1")]] = _DIGIT
# Bytes per parsing block: bounds the temporaries to a few times this size.
_BLOCK_BYTES = 1 << 24


def read_nuswide(root: Path, check_train_test_labels: bool = True) -> AnnotationTable:
    """Read NUS-WIDE under ``root``: rows in Imagelist order, labels in Concepts81 order."""
    root = Path(root)
    folders, names = read_imagelist(root)
    image_ids = np.array(
        [image_id(folder, name) for folder, name in zip(folders, names)], dtype=str
    )
    split, split_rows = official_split(root, image_ids)
    concepts = read_names(concepts_file(root))
    labels = read_all_labels(root, concepts, len(image_ids))
    if check_train_test_labels:
        check_train_test_label_files(root, concepts, labels, split_rows)
    tag_names = read_names(required(root, TAGLIST))
    tags = read_01_rows(
        required(root, ALLTAGS), len(tag_names), len(image_ids), f"{IMAGELIST} lists"
    )
    return AnnotationTable(
        dataset=DATASET,
        image_ids=image_ids,
        paths=np.array(
            [f"Flickr/{folder}/{name}" for folder, name in zip(folders, names)], dtype=str
        ),
        official_split=split,
        labels=labels,
        tags=tags,
        label_names=concepts,
        tag_names=tag_names,
    )


def required(root: Path, rel: str) -> Path:
    """``root / rel``, failing with the archive to unpack when the file is absent."""
    path = root / rel
    if not path.is_file():
        archive = _ARCHIVE.get(rel.split("/", 1)[0], "NUS-WIDE archive")
        raise FileNotFoundError(
            f"NUS-WIDE file {path} is missing: unpack NUS-WIDE's {archive} under {root}"
        )
    return path


def concepts_file(root: Path) -> Path:
    """Concepts81.txt at the root, or inside ConceptsList/ as that archive unpacks."""
    for rel in CONCEPTS:
        if (root / rel).is_file():
            return root / rel
    raise FileNotFoundError(
        f"NUS-WIDE file {root / CONCEPTS[0]} is missing (also looked for {root / CONCEPTS[1]}): "
        f"unpack NUS-WIDE's ConceptsList.zip under {root}"
    )


def read_lines(path: Path) -> list[str]:
    """Stripped lines of a text file, tolerating CRLF and trailing
    blank lines but no blank line inside."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not a text file (byte {error.start} is not UTF-8); re-extract it from its "
            "NUS-WIDE archive"
        ) from None
    lines = [line.strip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if "" in lines:
        raise ValueError(
            f"{path} line {lines.index('') + 1} is blank; re-extract the file from its NUS-WIDE "
            "archive"
        )
    return lines


def read_names(path: Path) -> tuple[str, ...]:
    """One name per line (concepts, tags), refusing duplicates that would make columns ambiguous."""
    names = read_lines(path)
    seen: set[str] = set()
    for number, name in enumerate(names, start=1):
        if name in seen:
            raise ValueError(
                f"{path} line {number} repeats the name {name!r}; re-extract the file from its "
                "archive"
            )
        seen.add(name)
    return tuple(names)


def split_image_path(line: str, path: Path, number: int) -> tuple[str, str]:
    """(folder, file name) of a Windows or POSIX image path: its last two components."""
    parts = [p for p in line.replace("\\", "/").split("/") if p]
    if len(parts) < 2:
        raise ValueError(
            f"{path} line {number} ({line!r}) is not a <folder>\\<name>.jpg image path"
        )
    return parts[-2], parts[-1]


def image_id(folder: str, name: str) -> str:
    """The table's id of an image: "<folder>/<name>" without the file extension."""
    return f"{folder}/{name.rsplit('.', 1)[0]}"


def read_imagelist(root: Path) -> tuple[list[str], list[str]]:
    """Folders and file names of every image, in Imagelist order, each listed once."""
    path = required(root, IMAGELIST)
    folders, names, seen = [], [], set()
    for number, line in enumerate(read_lines(path), start=1):
        folder, name = split_image_path(line, path, number)
        if (folder, name) in seen:
            raise ValueError(
                f"{path} line {number} lists {folder}/{name} a second time; re-extract "
                "ImageList.zip"
            )
        seen.add((folder, name))
        folders.append(folder)
        names.append(name)
    return folders, names


def list_rows(path: Path, row_of: dict[str, int]) -> np.ndarray:
    """Imagelist rows of a train/test list's entries, in list order."""
    rows = []
    for number, line in enumerate(read_lines(path), start=1):
        folder, name = split_image_path(line, path, number)
        if image_id(folder, name) not in row_of:
            raise ValueError(
                f"{path} line {number} lists {line!r}, which is not in {IMAGELIST}; "
                "both lists must come from the same ImageList.zip"
            )
        rows.append(row_of[image_id(folder, name)])
    return np.array(rows, dtype=np.int64)


def official_split(root: Path, image_ids: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Split of every image from the Train/Test lists, plus each list's rows in list order."""
    row_of = {key: i for i, key in enumerate(image_ids)}
    split_rows = {split: list_rows(required(root, rel), row_of) for split, rel in SPLIT_LISTS}
    membership = np.zeros((len(image_ids), len(SPLIT_LISTS)), dtype=bool)
    for k, (split, _) in enumerate(SPLIT_LISTS):
        membership[split_rows[split], k] = True
    lists = " and ".join(str(root / rel) for _, rel in SPLIT_LISTS)
    for problem, mask in (
        ("in both", membership.all(axis=1)),
        ("in neither of", ~membership.any(axis=1)),
    ):
        if mask.any():
            first = int(np.flatnonzero(mask)[0])
            raise ValueError(
                f"{mask.sum()} images of {root / IMAGELIST} are {problem} {lists}, first "
                f"{image_ids[first]} (line {first + 1}); re-extract ImageList.zip so the lists "
                "partition the image list"
            )
    split = np.where(membership[:, 0], TRAIN, TEST).astype(str)
    return split, split_rows


def read_all_labels(root: Path, concepts: tuple[str, ...], n_images: int) -> np.ndarray:
    """N×81 labels from Groundtruth/AllLabels, columns in Concepts81 order."""
    columns = [
        read_01_rows(
            required(root, f"Groundtruth/AllLabels/Labels_{c}.txt"),
            1,
            n_images,
            f"{IMAGELIST} lists",
        )
        for c in concepts
    ]
    return np.concatenate(columns, axis=1) if columns else np.zeros((n_images, 0), dtype=bool)


def check_train_test_label_files(
    root: Path, concepts: tuple[str, ...], labels: np.ndarray, split_rows: dict[str, np.ndarray]
) -> None:
    """Refuse TrainTestLabels files that disagree with AllLabels on the images their list names."""
    for split, list_rel in SPLIT_LISTS:
        rows = split_rows[split]
        suffix = split.capitalize()
        for j, concept in enumerate(concepts):
            path = required(root, f"Groundtruth/TrainTestLabels/Labels_{concept}_{suffix}.txt")
            values = read_01_rows(path, 1, len(rows), f"{list_rel} lists")[:, 0]
            wrong = np.flatnonzero(values != labels[rows, j])
            if len(wrong):
                line = int(wrong[0]) + 1
                raise ValueError(
                    f"{path} line {line} says {int(values[wrong[0]])} but "
                    f"Groundtruth/AllLabels/Labels_{concept}.txt says "
                    f"{int(labels[rows[wrong[0]], j])} for that image ({len(wrong)} "
                    "disagreements); re-extract Groundtruth.zip, or pass "
                    "check_train_test_labels=False to trust AllLabels"
                )


def read_01_rows(path: Path, n_columns: int, n_rows: int, row_source: str) -> np.ndarray:
    """n_rows×n_columns bool matrix from a text file of 0/1 values separated by tabs or spaces."""
    raw = path.read_bytes()
    out = np.zeros(n_rows * n_columns, dtype=np.uint8)
    counts, filled, start, first_line = [], 0, 0, 1
    while start < len(raw):
        stop = block_end(raw, start)
        block = np.frombuffer(raw, dtype=np.uint8, count=stop - start, offset=start)
        line_counts, values = parse_01_block(block, path, first_line)
        taken = min(len(values), len(out) - filled)
        out[filled : filled + taken] = values[:taken]
        filled += taken
        counts.append(line_counts)
        first_line += len(line_counts)
        start = stop
    counts_per_line = trim_blank_tail(
        np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    )
    check_shape(counts_per_line, n_columns, n_rows, path, row_source)
    return out.view(bool).reshape(n_rows, n_columns)


def block_end(raw: bytes, start: int) -> int:
    """End of the block starting at ``start``: just after a
    newline about _BLOCK_BYTES on, or EOF."""
    if start + _BLOCK_BYTES >= len(raw):
        return len(raw)
    newline = raw.find(b"\n", start + _BLOCK_BYTES)
    return len(raw) if newline < 0 else newline + 1


def parse_01_block(block: np.ndarray, path: Path, first_line: int) -> tuple[np.ndarray, np.ndarray]:
    """Values per line and the 0/1 values in order, for a block of whole lines."""
    kind = _BYTE_CLASS[block]
    digit = kind == _DIGIT
    newline = kind == _NEWLINE
    invalid = np.flatnonzero(kind == _BAD)
    # Two adjacent digits form a value such as "10" or "01", which a 0/1 file never holds.
    glued = np.flatnonzero(digit[1:] & digit[:-1])
    first_invalid = min([int(p[0]) for p in (invalid, glued) if len(p)], default=-1)
    if first_invalid >= 0:
        line = first_line + int(np.count_nonzero(newline[:first_invalid]))
        raise ValueError(
            f"{path} line {line} holds a value other than 0 or 1 (values must be single 0/1 digits "
            "separated by tabs or spaces); re-extract the file from its NUS-WIDE archive"
        )
    line_starts = np.concatenate(([0], np.flatnonzero(newline[:-1]) + 1))
    line_counts = np.add.reduceat(digit, line_starts, dtype=np.int64)
    return line_counts, block[digit] - ord("0")


def trim_blank_tail(counts_per_line: np.ndarray) -> np.ndarray:
    """Per-line value counts without the trailing blank lines real files end with."""
    last = np.flatnonzero(counts_per_line)
    return counts_per_line[: int(last[-1]) + 1] if len(last) else counts_per_line[:0]


def check_shape(
    counts_per_line: np.ndarray, n_columns: int, n_rows: int, path: Path, row_source: str
) -> None:
    """Refuse a 0/1 file whose row count or per-row value count is not the expected one."""
    if len(counts_per_line) != n_rows:
        raise ValueError(
            f"{path} has {len(counts_per_line)} rows but {row_source} {n_rows} images; "
            "re-extract both files from the same NUS-WIDE download"
        )
    wrong = np.flatnonzero(counts_per_line != n_columns)
    if len(wrong):
        line = int(wrong[0]) + 1
        raise ValueError(
            f"{path} line {line} has {counts_per_line[wrong[0]]} values, expected {n_columns} "
            "(one per column); re-extract the file from its NUS-WIDE archive"
        )
