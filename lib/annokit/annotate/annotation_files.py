"""The files ``annokit annotate`` writes: ``annotations.csv`` (one row per image) and
``annotations.json`` (the same, with every label's score, the rule and the checkpoints read).

CSV columns: ``image``; ``labels``, the labels given, highest score first, joined by ``;`` (label
names may hold spaces); ``scores``, their scores in the same order; for LQP models ``lqp_output``
and ``m_hat`` (Algorithm 2); then one column ``score:<label>`` per label of the vocabulary.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

import annokit
from annokit.annotate.new_annotations import Annotations
from annokit.atomic import atomic_write_text
from annokit.evaluation.decision import predicted_quantity

CSV_NAME, JSON_NAME = "annotations.csv", "annotations.json"
LABEL_SEPARATOR = ";"


def write_shared_text(text: str, path: Path) -> Path:
    """Write a file whole (``atomic_write_text``), readable as a plain write would leave it (the
    umask's permissions, not the temporary file's owner-only ones): the files are for sharing."""
    written = atomic_write_text(text, path)
    umask = os.umask(0)
    os.umask(umask)
    written.chmod(0o666 & ~umask)
    return written


def _score(value: float) -> str:
    return f"{float(value):.6g}"


def csv_text(annotations: Annotations) -> str:
    """The CSV of the annotations (module docstring)."""
    names = annotations.label_names
    m_hat = _m_hat(annotations)
    header = ["image", "labels", "scores"]
    if m_hat is not None:
        header += ["lqp_output", "m_hat"]
    header += [f"score:{name}" for name in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for i, image in enumerate(annotations.images):
        given = annotations.labels_of(i)
        row = [
            image.name,
            LABEL_SEPARATOR.join(names[c] for c in given),
            LABEL_SEPARATOR.join(_score(annotations.scores[i, c]) for c in given),
        ]
        if m_hat is not None:
            row += [_score(annotations.counts[i]), int(m_hat[i])]
        writer.writerow(row + [_score(s) for s in annotations.scores[i]])
    return buffer.getvalue()


def _m_hat(annotations: Annotations) -> np.ndarray | None:
    if annotations.counts is None:
        return None
    return predicted_quantity(annotations.counts, len(annotations.label_names))


def json_record(annotations: Annotations) -> dict:
    """Everything the CSV holds, plus the rule, the checkpoints and the images left out."""
    names, m_hat = annotations.label_names, _m_hat(annotations)
    images = []
    for i, image in enumerate(annotations.images):
        entry = {
            "image": image.name,
            "labels": [names[c] for c in annotations.labels_of(i)],
            "scores": {name: float(s) for name, s in zip(names, annotations.scores[i])},
        }
        if image.tags is not None:
            entry["tags"] = list(image.tags)
        if m_hat is not None:
            entry["lqp_output"], entry["m_hat"] = float(annotations.counts[i]), int(m_hat[i])
        if annotations.sequences is not None:
            entry["picked_per_step"] = [names[int(c)] for c in annotations.sequences[i] if c >= 0]
        images.append(entry)
    return {
        "annokit_version": annokit.__version__,
        "profile": annotations.profile,
        "model": annotations.model,
        "notebook_prediction_file": annotations.prediction_file,
        "rule": annotations.rule,
        "checkpoints": annotations.checkpoints,
        "label_names": list(names),
        "images": images,
        "left_out": [{"image": item.name, "reason": item.reason} for item in annotations.left_out],
        "unknown_tags_ignored": annotations.unknown_tags,
    }


def write_annotation_files(annotations: Annotations, folder: Path) -> tuple[Path, Path]:
    """Write ``annotations.csv`` and ``annotations.json`` into ``folder`` (created), each whole."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = write_shared_text(csv_text(annotations), folder / CSV_NAME)
    record = json.dumps(json_record(annotations), indent=1, ensure_ascii=False)
    return table, write_shared_text(record + "\n", folder / JSON_NAME)
