"""Fixtures: a documented-examples server per test, a second one on another loopback address,
and clients pointed at the first."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wiro_widgets import WiroClient

from .helpers import KEY, SECRET
from .server import DocumentedServer


@pytest.fixture
def documented() -> Iterator[DocumentedServer]:
    """A running server with empty scripts (a fresh one per test: a client left hanging by a
    failing test can never reach the next test's server)."""
    with DocumentedServer() as server:
        yield server


@pytest.fixture
def other_host() -> Iterator[DocumentedServer]:
    """A second server on 127.0.0.2: "another host" for redirects."""
    server = DocumentedServer("127.0.0.2")
    try:
        server.start()
    except OSError as error:
        pytest.skip(f"cannot listen on 127.0.0.2 here ({error})")
    yield server
    server.stop()


@pytest.fixture
def make_client(documented: DocumentedServer) -> Iterator[Callable[..., WiroClient]]:
    """Build a `WiroClient` for ``documented`` with a dummy key and secret; keyword arguments
    go to the constructor. Its home is this test's own folder (``WIRO_WIDGETS_HOME``, set by
    the root conftest), pinned at construction so that a client a failing test left running
    never writes into a later test's folder."""
    clients: list[WiroClient] = []

    def factory(**kwargs: Any) -> WiroClient:
        kwargs.setdefault("home", os.environ["WIRO_WIDGETS_HOME"])
        client = WiroClient(api_key=KEY, api_secret=SECRET, base_url=documented.base_url,
                            socket_url=documented.socket_url, **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()
