"""Writing the demo all at once: it is generated in a staging folder beside its root
(``<root>.partial-<pid>``) and moved into place under a short publish lock, so an interrupted
generation (Ctrl-C, a killed process) leaves nothing that blocks the next run, and two runs
started together both finish with the same files.

While the generator's entries are moved into the root, ``<root>/.demo-publishing`` holds the
publishing process's id; it is removed when the move is complete. A run that finds it with its
process gone (or its own, after an interrupted publish) deletes the half-moved demo and redoes it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from annokit.pid_files import holder, other_process_alive

PUBLISHING = ".demo-publishing"
STAGING_INFIX = ".partial-"
# A publish is a few renames; waiting longer than this for another process's means it hangs.
PUBLISH_WAIT_S = 120.0


def staging_dir(root: Path) -> Path:
    """``<root>.partial-<pid>``: this process's staging folder beside ``root``."""
    return root.with_name(f"{root.name}{STAGING_INFIX}{os.getpid()}")


def remove_stale_staging(root: Path) -> None:
    """Delete the staging folders beside ``root`` whose process is gone (an interrupted run's)."""
    for folder in root.parent.glob(f"{root.name}{STAGING_INFIX}*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if folder.is_dir() and (not pid.isdigit() or not other_process_alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)


def interrupted_publish(root: Path) -> bool:
    """Whether ``root`` holds a publish marker left by a process that is gone."""
    marker = root / PUBLISHING
    if not marker.exists():
        return False
    pid = holder(marker)
    return pid is None or not other_process_alive(pid)


@contextmanager
def publish_lock(root: Path) -> Iterator[Path]:
    """Hold ``<root>/.demo-publishing`` while the body moves the demo in; removed only when the body
    completes, so an interrupted move is seen (and redone) by the next run."""
    marker = root / PUBLISHING
    deadline = time.monotonic() + PUBLISH_WAIT_S
    while True:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            if interrupted_publish(root):
                marker.unlink(missing_ok=True)  # its process is gone: the move is redone
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{marker}: process {holder(marker)} has been moving the demo into place for "
                    f"over {PUBLISH_WAIT_S:.0f} s; stop it or delete the file, then run again"
                ) from None
            time.sleep(0.05)
    with os.fdopen(fd, "w") as f:
        f.write(f"{os.getpid()}\n")
    yield marker
    marker.unlink(missing_ok=True)


def move_into(staging: Path, root: Path, names: tuple[str, ...]) -> None:
    """Move ``names`` from ``staging`` into ``root`` in order (the last one marks completion)."""
    for name in names:
        if (staging / name).exists():
            os.replace(staging / name, root / name)
