"""JupyterLab as a subprocess for the demo: loopback only, its own settings, a clean stop.

Example:
    >>> lab = Lab(Path("demo-output/notebooks"), Path("demo-output/.jupyter"), dict(os.environ))
    >>> lab.start()                       # waits until /api/status answers
    >>> print(lab.url("quickstart.ipynb"))
    >>> lab.stop()
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

__all__ = ["Lab"]

# Uploads of up to 10 large reference images travel in one websocket message; Tornado's
# default (10 MB) drops bigger ones silently.
_WEBSOCKET_MAX_MESSAGE = 512 * 1024 * 1024
_LAB_START_TIMEOUT = 120.0
_LAB_STOP_TIMEOUT = 20.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Lab:
    """A ``jupyter lab`` subprocess on 127.0.0.1 with isolated settings, runtime and config.

    Args:
        root: the folder it serves (the copied notebooks).
        state: where its config, runtime, settings, workspaces and log go.
        env: the environment for the server and, through it, the kernels.
        port: the port (0: a free one).
    """

    def __init__(self, root: Path, state: Path, env: Mapping[str, str], port: int = 0) -> None:
        self.root = root
        self.state = state
        self.port = port or _free_port()
        self.token = secrets.token_hex(16)
        self.log_path = state / "lab.log"
        self._env = dict(env)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, notebook: str = "quickstart.ipynb") -> str:
        """The URL that opens ``notebook`` and logs in with the token."""
        return f"{self.base_url}/lab/tree/{notebook}?token={self.token}"

    def _prepare(self) -> dict[str, str]:
        config = self.state / "config"
        runtime = self.state / "runtime"
        settings = self.state / "settings"
        for folder in (config, runtime, settings, self.state / "workspaces"):
            folder.mkdir(parents=True, exist_ok=True)
        (config / "jupyter_server_config.json").write_text(json.dumps({
            "ServerApp": {"tornado_settings": {
                "websocket_max_message_size": _WEBSOCKET_MAX_MESSAGE}},
        }, indent=2))
        # Otherwise a "get notified about Jupyter news?" toast covers the notebook.
        news = settings / "@jupyterlab" / "apputils-extension"
        news.mkdir(parents=True, exist_ok=True)
        (news / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false"}))
        env = dict(self._env)
        env["JUPYTER_CONFIG_DIR"] = str(config)
        env["JUPYTER_RUNTIME_DIR"] = str(runtime)
        return env

    def command(self) -> list[str]:
        """The ``jupyter lab`` command line."""
        cmd = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.workspaces_dir={self.state / 'workspaces'}",
            f"--LabApp.user_settings_dir={self.state / 'settings'}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        return cmd

    def start(self, timeout: float = _LAB_START_TIMEOUT,
              cancel: threading.Event | None = None) -> None:
        """Start the server and wait until ``/api/status`` answers (or ``cancel`` is set).

        Raises:
            RuntimeError: when it exits or does not answer in time (its log is named).
        """
        env = self._prepare()
        with open(self.log_path, "wb") as log:
            # Its own session: the terminal's Ctrl-C reaches only us, and we stop lab without
            # its "Shutdown this Jupyter server (y/[n])?" prompt.
            self.process = subprocess.Popen(
                self.command(), cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        status = f"{self.base_url}/api/status?token={self.token}"
        while time.monotonic() < deadline:
            if cancel is not None and cancel.is_set():
                return
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with code {self.process.returncode}; "
                    f"see {self.log_path}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(status, timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s; "
                           f"see {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = _LAB_STOP_TIMEOUT) -> int | None:
        """Ask the server to shut down (its kernels with it); kill it if it does not."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        return process.returncode
