"""The arrays of a prediction file, memory-mapped: an uncompressed ``.npz`` is a zip archive of
``.npy`` files stored as they are, so each array sits at a known offset and ``np.memmap`` maps it
without reading it. A compressed member is read whole on first use instead. Each member's CRC-32
is checked once when the file is opened (one sequential read), so flipped bytes are refused as
``np.load`` would refuse them.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from annokit.artifacts.stamps import RunFileError, rerun_hint

# zip local file header: signature … name length, extra length
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
CRC_BLOCK = 1 << 20  # bytes read at a time while checking a member's CRC


class NpzArrays(Mapping):
    """The arrays of an ``.npz`` file, each opened on first access
    (memory-mapped when stored uncompressed)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            with zipfile.ZipFile(self.path) as archive:
                self._members = {
                    info.filename.removesuffix(".npy"): info for info in archive.infolist()
                }
                for info in archive.infolist():
                    _check_crc(archive, info)
        except (OSError, zipfile.BadZipFile, EOFError) as error:
            raise damaged(self.path, f"not a readable .npz: {error}") from error
        self._opened: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._opened:
            info = self._members[name]  # KeyError for a missing member, as a Mapping should
            try:
                mapped = (
                    _memmap_member(self.path, info)
                    if info.compress_type == zipfile.ZIP_STORED
                    else None
                )
                if mapped is None:
                    with np.load(self.path, allow_pickle=False) as data:
                        mapped = data[name]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
                raise damaged(self.path, f"its array {name!r} cannot be read: {error}") from error
            self._opened[name] = mapped
        return self._opened[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def is_mapped(self, name: str) -> bool:
        """Whether ``name`` is served from the file's pages rather than a copy in memory."""
        return isinstance(self[name], np.memmap)


def _check_crc(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Read a member through once: zipfile compares its CRC-32 at the end (``BadZipFile``), the
    check the memory map would skip."""
    with archive.open(info) as member:
        while member.read(CRC_BLOCK):
            pass


def damaged(path: Path, problem: str) -> RunFileError:
    """The error for a prediction file the viewer cannot use: the
    file, what is wrong, and the fix."""
    return RunFileError(
        f"prediction file {path} is damaged ({problem}): delete it and "
        f"{rerun_hint(Path(path).stem)}"
    )


def _memmap_member(path: Path, info: zipfile.ZipInfo) -> np.ndarray | None:
    """Map an uncompressed ``.npy`` member in place; None when its header
    is not one ``np.memmap`` can take."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
        if header[0] != b"PK\x03\x04":
            return None
        # skip the name and extra field
        f.seek(info.header_offset + _LOCAL_HEADER.size + header[-2] + header[-1])
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            return None
        offset = f.tell()
    if dtype.hasobject or len(shape) == 0:
        return None
    if 0 in shape:
        return np.empty(shape, dtype=dtype)
    return np.memmap(
        path, dtype=dtype, mode="r", shape=shape, order="F" if fortran else "C", offset=offset
    )
