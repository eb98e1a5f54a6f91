"""The interactive demo in a real browser: the URL it prints opens JupyterLab on the quickstart
notebook, the panel renders and generates from the sandbox, and Ctrl-C stops everything."""

from __future__ import annotations

import shutil
import signal
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from nbcheck import DemoProcess

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]

KERNEL_READY = """() => {
    const widget = window.jupyterapp.shell.currentWidget;
    const context = widget && widget.sessionContext;
    const kernel = context && context.session && context.session.kernel;
    if (document.querySelector('.jp-Dialog .jp-mod-accept')) { return true; }
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""


def open_quickstart_and_generate(chromium: str, url: str, screenshot: Path) -> None:
    """Open the printed URL, run the notebook, press Generate, and see the image."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(90_000)
        try:
            page.goto(url)
            page.locator(".jp-NotebookPanel").first.wait_for()
            expect(page.locator(".lm-TabBar-tab.jp-mod-current").first
                   ).to_contain_text("quickstart.ipynb")
            page.wait_for_function("window.jupyterapp !== undefined")
            # Run only once the notebook's kernel is connected: before that, Run All asks which
            # kernel to start. On a slow machine JupyterLab may ask anyway while the kernel list
            # loads (Python 3 is preselected): accept it as a user would.
            page.wait_for_function(KERNEL_READY, polling=250)
            ask = page.locator(".jp-Dialog .jp-mod-accept")
            if ask.count():
                ask.first.click()
                page.wait_for_function(KERNEL_READY, polling=250)
            # Not awaited: the command's promise ends only when every cell has run.
            page.evaluate("() => { window.jupyterapp.commands.execute("
                          "'notebook:run-all-cells'); }")
            # The kernel inherited the sandbox's variables: the panel renders and generates.
            generate = page.locator(".wiro-generate").first
            generate.wait_for()
            expect(page.locator(".wiro-panel").first).to_contain_text("SANDBOX")
            generate.click()
            page.locator(".wiro-output img").first.wait_for()
            page.wait_for_function(
                "() => [...document.querySelectorAll('.wiro-output img')]"
                ".some(e => e.naturalWidth > 0)")
        finally:
            page.screenshot(path=str(screenshot), full_page=True)
            browser.close()


def in_own_thread(target: Callable[..., None], *args: object) -> None:
    """Run ``target`` on a fresh thread and re-raise its error here.

    Playwright's sync API refuses to start on a thread where another sync Playwright (the panel
    browser tests' session fixture) is already running.
    """
    failures: list[BaseException] = []

    def run() -> None:
        try:
            target(*args)
        except BaseException as err:
            failures.append(err)

    thread = threading.Thread(target=run, name="demo-browser", daemon=True)
    thread.start()
    thread.join(240)
    assert not thread.is_alive(), "the browser did not finish in 240 s"
    if failures:
        raise failures[0]


def test_demo_opens_quickstart_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make chromium)")
    psutil = pytest.importorskip("psutil")

    with DemoProcess(tmp_path) as running:
        port, token = running.wait_for_url()
        with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/status?token={token}", timeout=10) as answer:
            assert answer.status == 200
        children = psutil.Process(running.process.pid).children(recursive=True)
        assert children, "jupyter lab is not a child of the demo"

        url = f"http://127.0.0.1:{port}/lab/tree/quickstart.ipynb?token={token}"
        in_own_thread(open_quickstart_and_generate, chromium, url, tmp_path / "demo.png")

        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(60) == 0, running.text()[-3000:]
        _gone, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, f"left running: {[p.name() for p in alive]}"
        out = running.text()
        assert "Stopping JupyterLab" in out
        assert "Stopping the sandbox" in out
        assert "Stopped." in out
