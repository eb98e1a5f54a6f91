"""The presentation notebook as a web app (Voilà): it renders top to bottom, the panel shows
as a presentation fitted to a projector's screen, and it generates once."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from checks import clipped, contrast, on_screen, screenshot
from lab_servers import free_port

pytestmark = pytest.mark.browser

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "presentation.ipynb"


@pytest.fixture(scope="module")
def voila(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """Voilà serving a copy of the presentation notebook, its kernel on a fast sandbox."""
    from wiro_widgets.sandbox import Sandbox

    root = tmp_path_factory.mktemp("voila")
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    port, token = free_port(), secrets.token_hex(16)
    with Sandbox(speed=5.0) as sb:
        env = {**sb.env(), "PATH": _path(), "WIRO_WIDGETS_HOME": str(root / ".wiro-home"),
               "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
               "JUPYTER_RUNTIME_DIR": str(root / ".runtime"), "HOME": str(root)}
        log = (root / "voila.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "voila", NOTEBOOK.name, "--no-browser", f"--port={port}",
             "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", f"--token={token}",
             "--VoilaConfiguration.show_tracebacks=True"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_up(base, process, root)
            yield f"{base}/?token={token}", sb
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def _path() -> str:
    import os

    return os.environ.get("PATH", "")


def _wait_up(base: str, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((root / "voila.log").read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(f"{base}/api/status", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (status needs the token): it is up
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise RuntimeError("voila did not start")


def test_presentation_notebook_in_voila(voila: tuple[str, Any], chromium: Any) -> None:
    from playwright.sync_api import expect

    url, sb = voila
    context = chromium.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.set_default_timeout(120_000)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        page.goto(url)
        panel = page.locator(".wiro-panel").first
        panel.wait_for()
        present = page.locator(".wiro-present").first
        expect(present).to_be_visible()
        expect(page.locator(".wiro-present-caption")).to_contain_text("Nothing to present yet")
        # The cells above the panel rendered their images (with the SANDBOX label).
        assert page.locator("figure img").count() >= 3
        before = len(sb.tasks)
        page.locator(".wiro-present .wiro-generate").first.click()
        image = page.locator(".wiro-present-image").first
        expect(image).to_be_visible()
        page.wait_for_function("() => { const e = document.querySelector('.wiro-present-image');"
                               " return e && e.complete && e.naturalWidth > 0; }")
        expect(page.locator(".wiro-status-done")).to_be_visible()
        assert len(sb.tasks) == before + 1
        assert sb.tasks[before].params["prompt"].startswith("A faithful, hyper-realistic")
        seen = on_screen(page)
        screenshot(page, "voila-presentation-1024x768")
        assert all(p["inside"] for p in seen["present"]), seen
        assert all(c["inside"] for c in seen["caption"]), seen
        assert all(g["inside"] for g in seen["generate"]), seen
        assert clipped(page) == []
        assert contrast(page)["failures"] == []
    finally:
        context.close()
    assert errors == []
