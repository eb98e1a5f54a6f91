"""Helpers for talking to a running sandbox with raw HTTP (requests) and a WebSocket client.

These tests never use WiroClient (except one test of ``sb.client()``), so the sandbox is
checked against the documented wire format, not against our own client.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from PIL import Image
from websockets.sync.client import ClientConnection

from wiro_widgets.auth import Credentials
from wiro_widgets.protocol import TERMINAL_STATUSES

MODEL = "black-forest-labs/flux-2-flex"


def png_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 40, 40),
              fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


class Api:
    """Raw, signed HTTP calls to one sandbox."""

    def __init__(self, sb: Any) -> None:
        self.sb = sb
        self.creds = Credentials(sb.api_key, sb.api_secret)

    def url(self, path: str) -> str:
        return self.sb.base_url + path

    def post(self, path: str, *, auth: bool = True, headers: dict[str, str] | None = None,
             timeout: float = 15.0, **kwargs: Any) -> requests.Response:
        all_headers = dict(self.creds.headers()) if auth else {}
        all_headers.update(headers or {})
        return requests.post(self.url(path), headers=all_headers, timeout=timeout, **kwargs)

    def run(self, model: str = MODEL, **kwargs: Any) -> requests.Response:
        return self.post(f"/Run/{model}", **kwargs)

    def run_ok(self, **params: Any) -> dict[str, Any]:
        """Run with a JSON body; assert it was accepted; the answer."""
        params.setdefault("prompt", "a lighthouse at dusk")
        params.setdefault("steps", 4)
        response = self.run(json=params)
        body = response.json()
        assert response.status_code == 200, body
        assert body["result"] is True, body
        return dict(body)

    def detail(self, **ident: Any) -> dict[str, Any]:
        response = self.post("/Task/Detail", json=ident)
        body = response.json()
        assert body["result"] is True, body
        return dict(body["tasklist"][0])

    def wait(self, token: str, until: Callable[[dict[str, Any]], bool] | None = None,
             timeout: float = 20.0) -> dict[str, Any]:
        """Poll Task/Detail until ``until(record)`` (default: a terminal status)."""
        until = until or (lambda r: r["status"] in TERMINAL_STATUSES)
        deadline = time.monotonic() + timeout
        while True:
            record = self.detail(tasktoken=token)
            if until(record):
                return record
            if time.monotonic() > deadline:
                raise AssertionError(f"task never reached the wanted state: {record['status']}")
            time.sleep(0.01)

    def status_is(self, token: str, *statuses: str, timeout: float = 20.0) -> dict[str, Any]:
        return self.wait(token, lambda r: r["status"] in statuses, timeout)


def join_lifecycle(task_id: str, timeout: float = 10.0) -> None:
    """Wait for a task's lifecycle thread to end: after that its status can never change."""
    for thread in threading.enumerate():
        if thread.name == f"sandbox-task-{task_id}":
            thread.join(timeout)
            assert not thread.is_alive(), f"task {task_id}'s lifecycle thread is still running"


def assert_envelope(response: requests.Response, status: int, code: int | None = None,
                    message: str | None = None) -> dict[str, Any]:
    """The response is Wiro's failure envelope with this HTTP status (and code/message)."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers.get("x-wiro-sandbox") == "1"
    body = response.json()
    assert body["result"] is False
    assert isinstance(body["errors"], list)
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert set(error) == {"code", "message"}
    if code is not None:
        assert error["code"] == code, error
    if message is not None:
        assert message in error["message"], error
    return dict(error)


def frames_until(ws: ClientConnection, stop: Callable[[dict[str, Any]], bool],
                 timeout: float = 15.0) -> list[dict[str, Any]]:
    """Receive JSON frames until ``stop(frame)`` is true (that frame included)."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no stop frame; got {[f.get('type') for f in frames]}"
        frame = json.loads(ws.recv(timeout=remaining))
        frames.append(frame)
        if stop(frame):
            return frames
