"""Ctrl-C during a notebook: the runner prints its one line, not the kernel's shutdown tracebacks
(the kernel's own output goes to ``<executed copy>.kernel.log``)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from tests.cli.test_reproduce import write_notebook


@pytest.mark.slow
def test_ctrl_c_prints_only_the_one_line(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    started = tmp_path / "started"
    write_notebook(
        folder / "00_sleep.ipynb",
        f"import time\nopen({str(started)!r}, 'w').close()\ntime.sleep(120)",
    )
    script = textwrap.dedent(
        f"""
        import signal
        from pathlib import Path
        from annokit import reproduce
        from annokit.cli import run_cli
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
        reproduce.chain = lambda *a: [Path({str(folder / "00_sleep.ipynb")!r})]
        run_cli(reproduce.main, ["--force"], prog="reproduce")
        """
    )
    env = {**os.environ, "ANNOKIT_RESULTS": str(tmp_path / "r"), "ANNOKIT_WORK": str(tmp_path)}
    runner = subprocess.Popen(
        [sys.executable, "-c", script],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not started.exists() and time.monotonic() < deadline and runner.poll() is None:
        time.sleep(0.2)
    time.sleep(1)
    os.killpg(runner.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground group
    _, err = runner.communicate(timeout=60)
    lines = [
        line
        for line in err.replace("\r", "\n").splitlines()
        if line.strip() and not line.startswith("reproduce demo:")
    ]
    assert runner.returncode == 130
    assert lines == ["reproduce: interrupted; run the same command again to resume"]
    assert (tmp_path / "r" / "demo" / "executed" / "00_sleep.kernel.log").exists()
    assert not (tmp_path / "runs" / "demo" / ".lock").exists()
