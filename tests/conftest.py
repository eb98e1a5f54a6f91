"""Shared fixtures: an isolated WIRO_WIDGETS_HOME per test, and sandboxes on free ports."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

_WIRO_ENV = ("WIRO_API_KEY", "WIRO_API_SECRET", "WIRO_BASE_URL", "WIRO_SOCKET_URL")
# What makes the credential lookup ask Colab's or Kaggle's secret service.
_NOTEBOOK_SERVICE_ENV = ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE")


@pytest.fixture(autouse=True)
def wiro_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own ledger and cache, and never sees a real key from the shell, from
    a ``.env`` file in the checkout (it runs in its own empty folder) or from a notebook
    service."""
    home = tmp_path / "wiro-home"
    monkeypatch.setenv("WIRO_WIDGETS_HOME", str(home))
    for name in (*_WIRO_ENV, *_NOTEBOOK_SERVICE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


#: Seconds a test's leftover tasks get to end on the session sandbox (they take ~0.3 s).
IDLE_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def session_sandbox() -> Iterator[Any]:
    """One fast sandbox for the session (HTTP and WebSocket on free loopback ports)."""
    from wiro_widgets.sandbox import Sandbox

    with Sandbox(speed=20.0) as sb:
        yield sb


@pytest.fixture
def sandbox(session_sandbox: Any) -> Iterator[Any]:
    """The session sandbox, idle when the test starts and made idle again after it.

    Tests often submit and never wait; their tasks would still count against the key's limit
    of 4 active tasks in the next tests (code 96). Waiting here keeps tests independent.
    """
    assert session_sandbox.wait_idle(IDLE_TIMEOUT), _active(session_sandbox)
    yield session_sandbox
    assert session_sandbox.wait_idle(IDLE_TIMEOUT), _active(session_sandbox)


def _active(sb: Any) -> str:
    active = [f"{t.id} ({t.status})" for t in sb.tasks if not t.terminal]
    return f"tasks still active on the session sandbox: {', '.join(active)}"


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Any]]:
    """A factory for sandboxes with their own settings; all are stopped after the test."""
    from wiro_widgets.sandbox import Sandbox

    started: list[Any] = []

    def factory(**kwargs: Any) -> Any:
        kwargs.setdefault("speed", 20.0)
        sb = Sandbox(**kwargs)
        sb.start()
        started.append(sb)
        return sb

    yield factory
    for sb in started:
        sb.stop()


@pytest.fixture
def client(sandbox: Any) -> Any:
    """A WiroClient configured for the session sandbox."""
    return sandbox.client()


def image_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 40, 40),
                fmt: str = "PNG") -> bytes:
    """A small real image, encoded."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "reference.png"
    path.write_bytes(image_bytes())
    return path


@pytest.fixture
def jpeg_file(tmp_path: Path) -> Path:
    path = tmp_path / "reference.jpg"
    path.write_bytes(image_bytes(80, 60, (40, 90, 200), fmt="JPEG"))
    return path


if os.environ.get("CI"):
    # CI machines are slower; give browser and notebook waits more room.
    os.environ.setdefault("WIRO_TEST_SLOW", "1")
