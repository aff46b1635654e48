"""What the runner checks before and around a chain: one run per run folder (a lock file), the
state of the data a run was made from, and GPUs for the stages that will train.

``<work>/runs/<profile>/.lock`` holds the pid of the ``reproduce`` that runs the profile there; it
is created atomically (``O_EXCL``), removed at exit, and taken over when its process is gone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from annokit import paths
from annokit.pid_files import holder, other_process_alive

LOCK_NAME = ".lock"


class RunLocked(RuntimeError):
    """Another ``reproduce`` runs the same profile in the same work folder."""


def run_folder(profile: str, parameters: dict) -> Path:
    """``<work>/runs/<profile>``: where the chain of a profile writes its artifacts (a profile
    file's run is named after the file)."""
    from annokit.profile import load_profile

    work = parameters.get("work_dir") or paths.work_dir()
    return Path(work).expanduser() / "runs" / load_profile(profile).name


@contextmanager
def run_lock(folder: Path) -> Iterator[Path]:
    """Hold ``folder/.lock`` while the body runs; a live holder is a ``RunLocked`` error naming it
    and its process, a dead one's lock is taken over."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = holder(lock)
            if pid is not None and other_process_alive(pid):
                raise RunLocked(
                    f"{lock}: another reproduce (process {pid}) is running this profile in this "
                    "work folder; wait for it to finish, or stop it (a lock whose process has "
                    "ended is taken over)"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        break
    else:
        raise RunLocked(f"{lock}: cannot take the run lock; delete the file and run again")
    try:
        yield lock
    finally:
        if holder(lock) == os.getpid():
            lock.unlink(missing_ok=True)


def data_state(profile: str, parameters: dict) -> str:
    """The data a run reads: the prepared index's recorded fingerprint and the fingerprint of
    the data root as it is now (manifest, annotation files, every image's size and mtime).

    Either part is empty when it cannot be read yet (no index, no data root): notebook 00 then
    reports the problem, or makes them.
    """
    from annokit.data.index import fingerprint
    from annokit.data.manifest_file import load_manifest
    from annokit.profile import load_profile

    meta = run_folder(profile, parameters) / "index" / "meta.json"
    try:
        recorded = json.loads(meta.read_text()).get("fingerprint", "")
    except (OSError, ValueError, AttributeError):
        recorded = ""
    try:
        settings = load_profile(profile, data_root=parameters.get("data_root") or None)
        root = settings.resolved_data_root()
        current = (
            fingerprint(
                root,
                load_manifest(settings.manifest),
                settings.tag_vocab_size,
                settings.seed,
                str(parameters.get("on_missing", "stop")),
            )
            if Path(root).is_dir()
            else ""
        )
    except (OSError, ValueError, LookupError, RuntimeError):
        current = ""
    return f"index {recorded}; data {current}"


def check_gpus(gpus: int | None) -> None:
    """``gpus`` > 1 with fewer CUDA devices visible: the error before any notebook starts."""
    if gpus is None or int(gpus) <= 1:
        return
    from annokit.methods.launch import check_visible_gpus

    check_visible_gpus(int(gpus))
