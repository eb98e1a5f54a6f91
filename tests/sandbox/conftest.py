"""Fixtures for the sandbox tests: a raw API helper and WebSocket connections."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from .wire import Api


@pytest.fixture
def api(sandbox: Any) -> Api:
    return Api(sandbox)


@pytest.fixture
def ws_connect() -> Iterator[Callable[[Any], ClientConnection]]:
    """Open WebSocket connections to a sandbox; all closed after the test."""
    with contextlib.ExitStack() as stack:

        def factory(sb: Any) -> ClientConnection:
            return stack.enter_context(connect(sb.socket_url, open_timeout=5, close_timeout=2))

        yield factory
