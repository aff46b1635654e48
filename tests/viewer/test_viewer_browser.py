"""Notebook 10 in a real browser: JupyterLab on a loopback port, driven by headless Chromium.

Needs Debian's ``chromium`` (``make test`` installs it: target ``browser``,
``.ci/install-browser.sh``) and the ``playwright`` package; Playwright drives the system
browser (``executable_path``), it never downloads one. A missing or broken browser fails the
test with the reason: a viewer that was never seen working is not a pass. Only
``ANNOKIT_SKIP_BROWSER=1`` skips it, on purpose.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from annokit import paths
from annokit.artifacts.run import open_run
from helpers.viewer_run import PROFILE, write_tiny_run

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "annokit-viewer-test"
BUDGET_S = 105  # every wait shares this, so the whole test stays under two minutes
SKIP_BROWSER = os.environ.get("ANNOKIT_SKIP_BROWSER", "") not in ("", "0")

pytestmark = pytest.mark.skipif(
    SKIP_BROWSER,
    reason="ANNOKIT_SKIP_BROWSER=1: the viewer's real-browser test is skipped on request",
)


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left_s(self) -> float:
        return max(self.end - time.monotonic(), 1.0)

    def left_ms(self) -> float:
        return 1000 * self.left_s()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port: int, path: str, method: str = "GET", timeout: float = 5.0):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, headers={"Authorization": f"token {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
    return json.loads(body) if body else None


@contextmanager
def jupyterlab(root_dir: Path, env: dict[str, str], log: Path, deadline: Deadline):
    """A JupyterLab server on 127.0.0.1 serving ``root_dir``; yields its port,
    shuts it and its kernels down after."""
    port = free_port()
    state = root_dir.parent / "jupyter-state"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        "--allow-root",
        "--ServerApp.terminals_enabled=False",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.user_settings_dir={state / 'settings'}",
        f"--LabApp.workspaces_dir={state / 'workspaces'}",
    ]
    news = (
        state
        / "settings"
        / "@jupyterlab"
        / "apputils-extension"
        / "notification.jupyterlab-settings"
    )
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))  # no news prompt over the page
    env = {
        **os.environ,
        **env,
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTER_CONFIG_DIR": str(state / "config"),
    }
    with open(log, "wb") as out:
        server = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with code {server.returncode} before serving; "
                    f"log:\n{tail(log)}"
                )
            try:
                api(port, "/api/status", timeout=2)
                break
            except OSError:
                if deadline.left_s() <= 1:
                    pytest.fail(
                        f"JupyterLab did not answer on port {port} in time; log:\n{tail(log)}"
                    )
                time.sleep(0.3)
        yield port
    finally:
        try:
            for kernel in api(port, "/api/kernels") or []:
                api(port, f"/api/kernels/{kernel['id']}", method="DELETE", timeout=10)
            api(port, "/api/shutdown", method="POST")
        except OSError:
            pass
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)


def tail(path: Path, lines: int = 40) -> str:
    return (
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        if path.exists()
        else "(no log)"
    )


@contextmanager
def chromium_page(profile_dir: Path, deadline: Deadline):
    """A page of the system's headless Chromium driven by Playwright; a browser
    that will not start fails the test."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        pytest.fail(
            f"playwright is not installed ({error}): pip install the kit with its test extras"
        )
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium; root or "
            "sudo), or set ANNOKIT_SKIP_BROWSER=1 to skip this test"
        )
    with sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(profile_dir),
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
                timeout=min(deadline.left_ms(), 60_000),
            )
        except PlaywrightError as error:
            pytest.fail(f"headless Chromium ({CHROMIUM}) could not start: {error}")
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(deadline.left_ms())
            yield page
        finally:
            context.close()


def run_all_and_wait_for_viewer(
    page, port: int, notebook: str, deadline: Deadline, screenshot_on_failure: Path
) -> None:
    """Open the notebook in JupyterLab, choose Run ▸ Run All Cells, wait
    until the viewer shows an image."""
    try:
        page.goto(
            f"http://127.0.0.1:{port}/lab/tree/{notebook}?token={TOKEN}&reset",
            timeout=deadline.left_ms(),
        )
        page.wait_for_function(  # the notebook is open and its kernel has started and gone idle
            """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                       const s = w && w.sessionContext && w.sessionContext.session;
                       const k = s && s.kernel;
                       return k && k.status === 'idle' && w.context.path.endsWith('.ipynb'); }""",
            timeout=deadline.left_ms(),
            polling=250,
        )
        # the menu bar: Run ▸ Run All Cells
        page.get_by_role("menuitem", name="Run", exact=True).click(timeout=10_000)
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click(timeout=10_000)
        page.locator(".ak-panel").wait_for(state="visible", timeout=deadline.left_ms())
    except Exception as error:  # keep what the page showed, to see why
        page.screenshot(path=str(screenshot_on_failure))
        errors = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        ).all_inner_texts()
        pytest.fail(
            f"the viewer did not appear ({type(error).__name__}: {error}); stderr outputs: "
            f"{errors[:3]}; screenshot {screenshot_on_failure}"
        )


@pytest.mark.slow
def test_viewer_in_jupyterlab_shows_the_next_images_truth(tiny_demo, tmp_path):
    deadline = Deadline(BUDGET_S)
    root, _ = tiny_demo
    work, results, notebooks = tmp_path / "work", tmp_path / "results", tmp_path / "notebooks"
    write_tiny_run(root, work)
    notebooks.mkdir()
    shutil.copy(paths.repo_root() / "notebooks" / "10_annotation_viewer.ipynb", notebooks)
    env = {"ANNOKIT_WORK": str(work), "ANNOKIT_RESULTS": str(results)}
    run = open_run(PROFILE, work_dir=str(work))
    truth = run.index.label_matrix("test")
    first = int(np.flatnonzero(truth.any(axis=1))[0])  # the viewer opens on the first labelled

    with (
        jupyterlab(notebooks, env, tmp_path / "jupyterlab.log", deadline) as port,
        chromium_page(tmp_path / "chromium-profile", deadline) as page,
    ):
        run_all_and_wait_for_viewer(
            page, port, "10_annotation_viewer.ipynb", deadline, tmp_path / "failure.png"
        )
        assert page.locator(".ak-panel").get_attribute("data-position") == str(first)
        page.locator("button.widget-button", has_text="next").click()
        panel = page.locator(f'.ak-panel[data-position="{first + 1}"]')
        panel.wait_for(state="visible", timeout=deadline.left_ms())
        panel.scroll_into_view_if_needed()
        screenshot = tmp_path / "viewer.png"
        page.screenshot(path=str(screenshot))
        shown_truth = panel.locator(".ak-ground-truth").inner_text()
        page_text = page.locator("body").inner_text()

    expected = [run.index.label_names[j] for j in np.flatnonzero(truth[first + 1])]
    assert f"Ground truth ({len(expected)})" in shown_truth
    for label in expected:
        assert label in shown_truth and label in page_text
    assert f"image {first + 2} of" in page_text
    assert screenshot.stat().st_size > 10_000
    assert (
        results / PROFILE / "figures" / "annotation_gallery.html"
    ).exists()  # Run All ran every cell
