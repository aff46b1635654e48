"""The kernel a notebook of the chain runs in: encrypted sockets where pyzmq supports them, and its
own output (start-up, shutdown, a crash) kept in a log file beside the executed copy, so that a
Ctrl-C of the runner is one line, not the kernel's shutdown tracebacks."""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

import zmq
from jupyter_client import AsyncKernelManager
from traitlets import Unicode
from traitlets.config import Config


class LoggedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel writes its stdout and stderr to ``kernel_log``."""

    kernel_log = Unicode("", config=True, help="file for the kernel's own output")

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: t.Any) -> None:
        if not self.kernel_log:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        Path(self.kernel_log).parent.mkdir(parents=True, exist_ok=True)
        with open(self.kernel_log, "ab") as log:  # the kernel keeps its own copy of the file
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            return await super()._async_launch_kernel(kernel_cmd, **kw)


def kernel_log_path(output: Path) -> Path:
    """``<executed copy>.kernel.log``: the kernel's own output for that notebook."""
    return Path(output).with_suffix(".kernel.log")


def kernel_config(log: Path | None = None) -> Config:
    """Kernel settings: CurveZMQ keys for the kernel's sockets where pyzmq supports them (this
    also keeps ipykernel from warning on every start that it runs over TCP without encryption;
    kernelspecs that do not declare Curve support start as before), and the kernel's output to
    ``log``."""
    config: dict = {"KernelManager": {"transport_encryption": "auto"}} if zmq.has("curve") else {}
    if log is not None:
        config["NotebookClient"] = {"kernel_manager_class": LoggedKernelManager}
        config["LoggedKernelManager"] = {"kernel_log": str(log)}
    return Config(config)


def echo_kernel_log(log: Path) -> None:
    """Copy what the kernel wrote to its own output (a warning, a crash) to our stderr, after the
    notebook ended (not on Ctrl-C, where it is only shutdown noise)."""
    try:
        text = Path(log).read_text(errors="replace")
    except OSError:
        return
    if text.strip():
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
