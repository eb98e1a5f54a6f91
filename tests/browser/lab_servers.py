"""The browser tests' servers and pages: start and stop JupyterLab or Notebook 7, open
the panel notebook, end its kernel. Imported by the conftest and by tests (a module of
its own name: ``from conftest import`` would find whichever conftest was loaded first).
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
