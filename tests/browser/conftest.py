"""Browser harness: one JupyterLab 4 and one Notebook 7 server per session, driven by Python
Playwright with Debian's Chromium (the recipe of jupyter-widgets.md §2.4).

A sandbox runs in the pytest process; its WIRO_* variables go into the servers' environment, so
the kernels they start (and `FluxPanel()` in the notebook) talk to it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("WIRO_CHROMIUM") or shutil.which("chromium") or shutil.which(
    "chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]
KERNEL_READY_JS = """() => {
  const widget = window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""
# Slow enough that progress and Cancel can be watched (a 50-step run takes a few seconds).
SANDBOX_SPEED = 1.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM is None:
        skip = pytest.mark.skip(reason="Debian's chromium is not installed (make chromium)")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


def panel_notebook() -> dict[str, Any]:
    """A two-cell notebook: the panel from the environment's client, shown as the last line."""
    cells = [
        "from wiro_widgets import FluxPanel\n"
        "panel = FluxPanel()\n"
        "panel",
    ]
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i}",
                   "metadata": {}, "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running Jupyter server: where to open the panel notebook."""

    kind: str
    base: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]

    def url(self, notebook: str) -> str:
        if self.kind == "lab":
            return f"{self.base}/lab/tree/{notebook}?token={self.token}&reset"
        return f"{self.base}/notebooks/{notebook}?token={self.token}"

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def start_server(kind: str, root: Path, env: dict[str, str]) -> Server:
    port, token = free_port(), secrets.token_hex(16)
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    app = "LabApp" if kind == "lab" else "JupyterNotebookApp"
    command = [
        sys.executable, "-m", "jupyter", "lab" if kind == "lab" else "notebook",
        "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--{app}.user_settings_dir={root / '.settings'}",
        f"--{app}.workspaces_dir={root / '.ws'}",
        f"--{app}.expose_app_in_browser=True", "--allow-root",
    ]
    if kind == "lab":
        command += ["--LabApp.news_url=None",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    server_env = {**os.environ, **env,
                  "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
                  "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
                  "WIRO_WIDGETS_HOME": str(root / ".wiro-home")}
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=root, env=server_env, stdout=log,
                               stderr=subprocess.STDOUT)
    server = Server(kind, f"http://127.0.0.1:{port}", token, root, process)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter {kind} exited:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.base}/api/status?token={token}",
                                        timeout=2) as answer:
                if answer.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"jupyter {kind} did not start:\n{server.log()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)


@pytest.fixture(scope="session")
def browser_sandbox() -> Iterator[Any]:
    from wiro_widgets.sandbox import Sandbox

    with Sandbox(speed=SANDBOX_SPEED) as sb:
        yield sb


def _server(kind: str, tmp_path_factory: pytest.TempPathFactory,
            sandbox: Any) -> Iterator[Server]:
    root = tmp_path_factory.mktemp(f"jupyter-{kind}")
    server = start_server(kind, root, sandbox.env())
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory,
               browser_sandbox: Any) -> Iterator[Server]:
    yield from _server("lab", tmp_path_factory, browser_sandbox)


@pytest.fixture(scope="session")
def notebook_server(tmp_path_factory: pytest.TempPathFactory,
                    browser_sandbox: Any) -> Iterator[Server]:
    yield from _server("notebook", tmp_path_factory, browser_sandbox)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=["lab", "notebook"])
def server(request: pytest.FixtureRequest) -> Server:
    """Each browser test runs in JupyterLab 4 and in Notebook 7."""
    fixture = "lab_server" if request.param == "lab" else "notebook_server"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@pytest.fixture
def page(chromium: Any, server: Server, request: pytest.FixtureRequest,
         tmp_path: Path) -> Iterator[Any]:
    """A fresh notebook (its own kernel) with the panel cell run; the panel is on screen."""
    yield from _panel_page(chromium, server, request, tmp_path)


@pytest.fixture
def lab_page(chromium: Any, lab_server: Server, request: pytest.FixtureRequest,
             tmp_path: Path) -> Iterator[Any]:
    """`page` in JupyterLab only, for what the two frontends do alike (the panel's own code:
    the clipboard, downloads, the history)."""
    yield from _panel_page(chromium, lab_server, request, tmp_path)


def _panel_page(chromium: Any, server: Server, request: pytest.FixtureRequest,
                tmp_path: Path) -> Iterator[Any]:
    name = f"{request.node.name.split('[')[0]}-{server.kind}.ipynb"
    (server.root / name).write_text(json.dumps(panel_notebook()))
    context = chromium.new_context(viewport={"width": 1400, "height": 1600}, accept_downloads=True)
    # Copy as code writes the clipboard; the tests read it back.
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base)
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        open_panel(page, server, name)
        yield page
    finally:
        page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        context.close()
        shutdown_kernels(server, name)
        if errors:
            print("page errors:", *errors, sep="\n  ")


def open_panel(page: Any, server: Server, name: str) -> None:
    """Open notebook ``name``, run its cells once its kernel is ready, wait for the panel."""
    page.goto(server.url(name))
    page.locator(".jp-NotebookPanel").first.wait_for()
    page.wait_for_function("window.jupyterapp !== undefined")
    # The execution indicator says "idle" before a kernel is attached; running cells then
    # opens the "Select Kernel" dialog. Wait for the connected, idle kernel itself.
    page.wait_for_function(KERNEL_READY_JS, polling=100)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.locator(".wiro-panel .wiro-generate").first.wait_for()
    # The panel's script (keyboard, clipboard, early refusals) starts a moment after the
    # panel shows; a person is never that quick, a test is.
    page.wait_for_function("() => document.querySelector('.wiro-panel')"
                           ".dataset.wiroShim === '1'")


def shutdown_kernels(server: Server, notebook: str) -> None:
    """End the test notebook's kernel, so kernels do not pile up over the session."""
    base = f"{server.base}/api/sessions"
    with urllib.request.urlopen(f"{base}?token={server.token}", timeout=10) as answer:
        sessions = json.load(answer)
    for session in sessions:
        if session.get("path", "").endswith(notebook):
            request = urllib.request.Request(f"{base}/{session['id']}?token={server.token}",
                                             method="DELETE")
            urllib.request.urlopen(request, timeout=10).close()
