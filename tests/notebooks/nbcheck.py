"""Checks over notebooks and the environment the notebook and demo tests share."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
NOTEBOOK_NAMES = ("quickstart.ipynb", "client.ipynb", "research.ipynb", "presentation.ipynb",
                  "models.ipynb")
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
WIRO_VARS = ("WIRO_API_KEY", "WIRO_API_SECRET", "WIRO_BASE_URL", "WIRO_SOCKET_URL")
# Fast enough that four notebooks run in well under a minute, slow enough that a run still
# passes through every status.
SANDBOX_SPEED = float(os.environ.get("WIRO_TEST_SANDBOX_SPEED", "50"))
SLOW = bool(os.environ.get("WIRO_TEST_SLOW"))


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any WIRO_* credentials, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in WIRO_VARS}
    env.update(extra)
    # The kernel and the demo must import this checkout, wherever pytest was started.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


def outputs(notebook: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every output of every code cell, with the cell's index."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                yield index, output


def error_outputs(notebook: Any) -> list[str]:
    """Error outputs and tracebacks printed to stderr, described."""
    found = []
    for index, output in outputs(notebook):
        if output.get("output_type") == "error":
            found.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
        elif output.get("name") == "stderr" and "Traceback" in output.get("text", ""):
            found.append(f"cell {index}: traceback on stderr: {output['text'][:300]}")
    return found


INLINE_IMAGE = re.compile(r"""<img\s[^>]*src=["']data:image/""")


def image_outputs(notebook: Any) -> list[int]:
    """Indexes of cells that show an image (a PNG/JPEG output or an inline <img> data URI)."""
    cells = []
    for index, output in outputs(notebook):
        data = output.get("data", {})
        html = data.get("text/html", "")
        html = "".join(html) if isinstance(html, list) else html
        if "image/png" in data or "image/jpeg" in data or INLINE_IMAGE.search(html):
            cells.append(index)
    return cells


def secret_strings(sandbox: Any) -> list[str]:
    """The sandbox's key and secret: strings that must never appear in a saved notebook."""
    values = [sandbox.api_key, sandbox.api_secret]
    return [v for v in values if v]


def assert_no_secrets(path: Path, secrets: list[str]) -> None:
    """The saved file (outputs, widget state, metadata) carries none of ``secrets``."""
    text = path.read_text(encoding="utf-8")
    # Check the JSON-decoded text too, so an escaped form cannot hide a secret.
    decoded = json.dumps(json.loads(text), ensure_ascii=False)
    for secret in secrets:
        assert secret not in text, f"a secret is in {path.name}"
        assert secret not in decoded, f"a secret is in {path.name} (escaped)"


URL_RE = re.compile(r"http://127\.0\.0\.1:(\d+)/lab/tree/quickstart\.ipynb\?token=([0-9a-f]+)")


def demo_cmd(*args: str) -> list[str]:
    """The demo's command line, with this interpreter."""
    return [sys.executable, "-m", "wiro_widgets.demo", *args]


class DemoProcess:
    """``python -m wiro_widgets.demo --no-browser`` in the background, its output collected."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.lines: list[str] = []
        self._seen = threading.Event()
        self.match: re.Match[str] | None = None
        self.process: subprocess.Popen[str]

    def __enter__(self) -> DemoProcess:
        self.process = subprocess.Popen(
            demo_cmd("--no-browser", "--output", str(self.tmp_path / "demo-out")),
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=clean_env(WIRO_SANDBOX_SPEED="20", PYTHONUNBUFFERED="1"),
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = URL_RE.search(line)
            if found and self.match is None:
                self.match = found
                self._seen.set()
        self._seen.set()

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for_url(self, timeout: float = 150.0) -> tuple[int, str]:
        self._seen.wait(timeout)
        assert self.match is not None, f"no URL printed:\n{self.text()[-3000:]}"
        return int(self.match.group(1)), self.match.group(2)

    def __exit__(self, *exc: Any) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
