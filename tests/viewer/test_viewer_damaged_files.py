"""Damaged prediction files are refused when opened, naming the file and the notebook to rerun:
flipped bytes inside an array (the CRC the memory map skips), a malformed meta, a 2-D counts."""

import json
import shutil

import numpy as np
import pytest

from annokit.artifacts.predictions import prediction_path
from annokit.artifacts.stamps import RunFileError
from annokit.viewer.mapped_npz import NpzArrays
from annokit.viewer.store import ModelOutput


def rewritten(source, target, **changes):
    """A copy of the prediction file ``source`` at ``target`` with some arrays replaced."""
    with np.load(source, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    np.savez(target, **{**arrays, **changes})
    return target


@pytest.mark.parametrize("name", ["scores", "annotation"])
def test_flipped_bytes_inside_an_array_are_refused_when_opened(tiny_run, tmp_path, name):
    path = tmp_path / "cnn.npz"
    shutil.copy(prediction_path(tiny_run.run_dir, "cnn"), path)
    array = NpzArrays(path)[name]
    offset = array.offset + array.nbytes // 2
    del array
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x40]))
    with pytest.raises(RunFileError, match=rf"prediction file {path} is damaged \(.*CRC"):
        NpzArrays(path)


def test_a_malformed_meta_or_a_2d_counts_is_one_clear_error(tiny_run, tmp_path):
    source = prediction_path(tiny_run.run_dir, "mscnn_tags_lqp")
    rows = np.asarray(NpzArrays(source)["rows"])
    listed = rewritten(source, tmp_path / "listed.npz", meta=np.array(json.dumps([1, 2])))
    with pytest.raises(RunFileError, match=r"is damaged \(its meta is a JSON list, not an object"):
        ModelOutput("mscnn_tags_lqp", listed, rows).check(tiny_run.index)
    counts = np.asarray(NpzArrays(source)["counts"])
    flat = rewritten(source, tmp_path / "flat.npz", counts=np.stack([counts, counts], axis=1))
    with pytest.raises(RunFileError, match=r"is damaged \(counts \(\d+, 2\) is not one count per"):
        ModelOutput("mscnn_tags_lqp", flat, rows).check(tiny_run.index)
