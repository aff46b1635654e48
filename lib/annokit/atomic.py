"""Files written whole or not at all: a temp file beside the target,
fsync, rename, fsync of the folder.

Readers (a resumed run, a later notebook) never see half a checkpoint, table or array file; a full
disk is reported as such, naming the file, with the earlier files intact. The rename alone already
protects against an interrupted or killed process; the fsyncs add durability against a power cut,
and cost a disk flush each. Files rewritten every epoch (``durable=False``) skip them: after a power
cut a run resumes from an older epoch's checkpoint (two are kept) instead of the newest.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

FULL_DISK_BYTES = 1 << 20  # a failed write with less free space than this is a full disk


def atomic_torch_save(obj: Any, path: Path, durable: bool = True) -> Path:
    """``torch.save`` to a temp file next to ``path``, then
    rename: readers never see half a file."""
    return _atomic_write(Path(path), lambda f: torch.save(obj, f), durable)


def atomic_write_text(text: str, path: Path, durable: bool = True) -> Path:
    """Write a text file atomically (e.g. ``history.json``)."""
    return _atomic_write(Path(path), lambda f: f.write(text.encode("utf-8")), durable)


def atomic_savez(path: Path, **arrays: Any) -> Path:
    """``numpy.savez`` (uncompressed, so arrays load fast) through a temp file and a rename."""
    import numpy as np

    return _atomic_write(Path(path), lambda f: np.savez(f, **arrays))


def _atomic_write(path: Path, write, durable: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temp name starts with "." and ends with ".tmp", so latest_checkpoint never picks it up.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        full = disk_is_full(path.parent, error)  # asked before the partial file is removed
        Path(tmp).unlink(missing_ok=True)
        if full:
            raise OSError(
                errno.ENOSPC,
                f"No space left on device while writing {path} (earlier files are intact)",
                str(path),
            ) from error
        raise
    if durable:
        _fsync_dir(path.parent)  # make the rename itself durable
    return path


def disk_is_full(folder: Path, error: BaseException) -> bool:
    """Whether a failed write ran out of space: ENOSPC, or PyTorch's writer
    failing with (almost) no bytes left."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(error, RuntimeError) and (
        "inline_container" in str(error) or "PytorchStreamWriter" in str(error)
    ):
        try:
            return shutil.disk_usage(folder).free < FULL_DISK_BYTES
        except OSError:
            return False
    return False


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
