"""The command-line tools' error handling: a bad input is one line
naming the file, the problem and the fix.

Every ``python -m annokit.…`` command runs its ``main`` through ``run_cli``: an exception becomes
``<tool>: error: <message>`` on stderr and exit status 2, with no traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import errno
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

DEBUG_FLAG = "--debug"
FAILED = 2
INTERRUPTED = 130

# errno -> what to do about it, for the OSErrors a user can fix.
OS_FIXES = {
    errno.ENOSPC: "the disk is full: free space there (files written before are intact) and run "
    "again to resume",
    errno.EDQUOT: "the disk quota is exceeded: free space there and run again to resume",
    errno.EACCES: "permission denied: make it writable, or choose another folder (--work-dir, "
    "ANNOKIT_WORK, ANNOKIT_RESULTS)",
    errno.EPERM: "operation not permitted: make it writable, or choose another folder (--work-dir, "
    "ANNOKIT_WORK, ANNOKIT_RESULTS)",
    errno.EROFS: "the file system is read-only: choose another folder (--work-dir, ANNOKIT_WORK, "
    "ANNOKIT_RESULTS)",
}


# How a DataLoader re-raises a worker's error: its message is the worker's whole traceback,
# "Caught X in DataLoader worker process N. Original Traceback …", ending "module.Type: message".
_WORKER_TRACEBACK = re.compile(r"Original Traceback \(most recent call last\):")
_LAST_LINE = re.compile(r"^[\w.]+: (.*)$")


def worker_message(text: str) -> str:
    """The original message inside a loader worker's flattened traceback; other text as it is."""
    if not _WORKER_TRACEBACK.search(text):
        return text
    last = [line for line in text.strip().splitlines() if line.strip()][-1].strip()
    match = _LAST_LINE.match(last)
    return match.group(1) if match else last


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """``--debug``: show the Python traceback of an error instead of its one-line message."""
    parser.add_argument(
        DEBUG_FLAG, action="store_true", help="on an error, show the Python traceback too"
    )


def message(error: BaseException) -> str:
    """The one-line text of an error: its own message, or for an OSError the file and what to do."""
    if isinstance(error, OSError) and error.errno in OS_FIXES:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{OS_FIXES[error.errno]}"
    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    else:
        text = worker_message(str(error)) or type(error).__name__
    if not isinstance(error, (OSError, ValueError, RuntimeError, LookupError)):
        text = f"{type(error).__name__}: {text}"
    return " ".join(text.split())


_CALLED_AS: list[str] = []


def call_as(name: str) -> None:
    """Name the tool about to run as the user typed it (``annokit verify``): its usage lines and
    error messages say that instead of ``python -m annokit.<module>``."""
    _CALLED_AS.append(name)


def called_as(default: str) -> str:
    """The name the running tool was called by; ``default`` (its ``python -m`` form) otherwise."""
    return _CALLED_AS[-1] if _CALLED_AS else default


def run_cli(
    main: Callable[[Sequence[str] | None], int | None],
    argv: Sequence[str] | None = None,
    prog: str | None = None,
) -> NoReturn:
    """Run ``main(argv)`` and exit: 0 on success, 2 with one line on
    stderr on an error, 130 on Ctrl-C."""
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or (sys.argv[0].rsplit("/", 1)[-1] if sys.argv and sys.argv[0] else "annokit")
    try:
        code = main(argv)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; run the same command again to resume", file=sys.stderr)
        sys.exit(INTERRUPTED)
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001 (every error of a command-line run ends here)
        if DEBUG_FLAG in argv:
            raise
        print(f"{prog}: error: {message(error)}", file=sys.stderr)
        sys.exit(FAILED)
    sys.exit(code or 0)
