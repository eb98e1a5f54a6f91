"""Shared bits of the client's sandbox tests."""

from __future__ import annotations

import socket
from typing import Any

MODEL = "black-forest-labs/flux-2-flex"
#: Small and quick: a 64x64 image in 4 steps.
SMALL: dict[str, Any] = {"width": 64, "height": 64, "steps": 4}


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_requests(sb: Any) -> list[Any]:
    """The Run requests the sandbox received, oldest first."""
    return [r for r in sb.requests if r.method == "POST" and r.path.startswith("/v1/Run/")]
