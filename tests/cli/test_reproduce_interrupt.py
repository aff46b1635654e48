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


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize(
    ("jobs", "names"), [("1", ["00_sleep"]), ("2", ["03_tags_mlp", "06_partial_labels"])]
)
def test_ctrl_c_prints_only_the_one_line(tmp_path, jobs, names):
    # --jobs 2: two notebooks that do not read each other, in two threads the signal never reaches
    folder = tmp_path / "notebooks"
    folder.mkdir()
    pids = [tmp_path / f"{name}.pid" for name in names]
    for name, pid in zip(names, pids, strict=True):
        write_notebook(
            folder / f"{name}.ipynb",
            f"import os, time\nopen({str(pid)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)",
        )
    notebooks = [str(folder / f"{name}.ipynb") for name in names]
    script = textwrap.dedent(
        f"""
        import signal
        from pathlib import Path
        from annokit import reproduce
        from annokit.cli import run_cli
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
        reproduce.chain = lambda *a: [Path(p) for p in {notebooks!r}]
        run_cli(reproduce.main, ["--force", "--jobs", "{jobs}"], prog="reproduce")
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
    while (
        not all(p.exists() for p in pids) and time.monotonic() < deadline and runner.poll() is None
    ):
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
    for name, pid in zip(names, pids, strict=True):
        assert (tmp_path / "r" / "demo" / "executed" / f"{name}.kernel.log").exists()
        assert not alive(int(pid.read_text()))  # the kernel was stopped, not left running
    assert not (tmp_path / "runs" / "demo" / ".lock").exists()
