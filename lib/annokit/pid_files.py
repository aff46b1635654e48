"""Files that name the process holding them (run locks, the demo's publishing marker): who holds
one, and whether that process still runs, so a file left by a killed process is taken over."""

from __future__ import annotations

import os
from pathlib import Path


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def other_process_alive(pid: int) -> bool:
    """Whether another process with this id runs; our own id counts as gone (a file of ours is
    left over from an interrupted step of this process)."""
    return pid != os.getpid() and process_alive(pid)


def holder(path: Path) -> int | None:
    """The pid written at the start of ``path``, None when it is missing or unreadable."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
