"""Browser harness: one JupyterLab 4 and one Notebook 7 server per session, driven by Python
Playwright with Debian's Chromium (the recipe of jupyter-widgets.md §2.4).

A sandbox runs in the pytest process; its WIRO_* variables go into the servers' environment, so
the kernels they start (and `FluxPanel()` in the notebook) talk to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_servers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SANDBOX_SPEED,
    Server,
    open_panel,
    panel_notebook,
    shutdown_kernels,
    start_server,
    stop_server,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM is None:
        skip = pytest.mark.skip(reason="Debian's chromium is not installed (make chromium)")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


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
