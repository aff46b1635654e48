"""The kernel a notebook of the chain runs in: encrypted sockets where pyzmq supports them, and its
own output (start-up, shutdown, a crash) kept in a log file beside the executed copy, so that a
Ctrl-C of the runner is one line, not the kernel's shutdown tracebacks.

Kernels started here are remembered while they run, so that a Ctrl-C of a runner executing several
notebooks side by side (in threads, which the signal does not reach) stops every one of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import typing as t
import weakref
from pathlib import Path

import zmq
from jupyter_client import AsyncKernelManager
from traitlets import Dict, Unicode
from traitlets.config import Config

from annokit.cpu_share import CPU_WORKERS_VARIABLE, cpu_cores

# the kernels' processes while they run (a process the provisioner has let go of drops out)
_LIVE: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()
_STOPPED = threading.Event()
# Kernels side by side share the cores: a thread of an OpenMP team (PyTorch's on the CPU) that
# waits for the others sleeps at once instead of spinning for milliseconds on a core the other
# notebook needs. The threads and the work each one does are the same, and so is every number.
SIDE_BY_SIDE_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def side_by_side_env(jobs: int) -> dict[str, str] | None:
    """The kernels' environment when ``jobs`` notebooks run at once (None: one at a time): passive
    OpenMP waits, and each notebook's independent fits on its share of the cores, so that two
    notebooks that fan out do not put four busy processes on two cores."""
    if jobs <= 1:
        return None
    return {**SIDE_BY_SIDE_ENV, CPU_WORKERS_VARIABLE: str(max(1, cpu_cores() // jobs))}


class LoggedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel writes its stdout and stderr to ``kernel_log``."""

    kernel_log = Unicode("", config=True, help="file for the kernel's own output")
    kernel_env = Dict(
        {}, config=True, help="environment variables for the kernel, unless the runner sets them"
    )

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: t.Any) -> None:
        if self.kernel_env:
            kw["env"] = {**self.kernel_env, **kw.get("env", os.environ)}
        if not self.kernel_log:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        Path(self.kernel_log).parent.mkdir(parents=True, exist_ok=True)
        with open(self.kernel_log, "ab") as log:  # the kernel keeps its own copy of the file
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            await super()._async_launch_kernel(kernel_cmd, **kw)
        process = getattr(self.provisioner, "process", None)
        if isinstance(process, subprocess.Popen):
            _LIVE.add(process)
        if _STOPPED.is_set():  # Ctrl-C came while this kernel was starting
            stop_kernels()


def _not_while_stopping(record: logging.LogRecord) -> bool:
    return not _STOPPED.is_set()


def stop_kernels() -> None:
    """Kill every running kernel of this process with its process group (a kernel runs in a
    session of its own, with the worker processes it started), as nbclient does on Ctrl-C; what
    papermill logs about the dead kernels is not shown."""
    _STOPPED.set()
    runner_log = logging.getLogger("papermill")
    if _not_while_stopping not in runner_log.filters:
        runner_log.addFilter(_not_while_stopping)
    for process in list(_LIVE):
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:  # no group of its own: the process alone
                with contextlib.suppress(OSError):
                    process.kill()


def kernels_stopped() -> bool:
    """Whether ``stop_kernels`` ran since the last ``allow_kernels``: a kernel that died then was
    stopped, it did not crash."""
    return _STOPPED.is_set()


def allow_kernels() -> None:
    """Clear the stop of an earlier Ctrl-C, before a new chain starts."""
    _STOPPED.clear()


def kernel_log_path(output: Path) -> Path:
    """``<executed copy>.kernel.log``: the kernel's own output for that notebook."""
    return Path(output).with_suffix(".kernel.log")


def kernel_config(log: Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Kernel settings: CurveZMQ keys for the kernel's sockets where pyzmq supports them (this
    also keeps ipykernel from warning on every start that it runs over TCP without encryption;
    kernelspecs that do not declare Curve support start as before), and the kernel's output to
    ``log`` with ``env`` added to its environment (variables the runner has set keep their
    value)."""
    config: dict = {"KernelManager": {"transport_encryption": "auto"}} if zmq.has("curve") else {}
    if log is not None:
        config["NotebookClient"] = {"kernel_manager_class": LoggedKernelManager}
        config["LoggedKernelManager"] = {"kernel_log": str(log), "kernel_env": dict(env or {})}
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
