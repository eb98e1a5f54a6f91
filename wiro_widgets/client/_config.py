"""The client's configuration: where credentials and URLs come from, and their checks.

Example:
    >>> base_url_from(None)
    'https://api.wiro.ai/v1'
"""

from __future__ import annotations

import math
import os
import platform
from urllib.parse import urlsplit

from .._version import __version__
from ..auth import Credentials
from ..errors import ConfigError
from ..ledger import ClientInfo
from ..redaction import redact

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_SOCKET_URL",
    "base_url_from",
    "check_budget",
    "check_on_timeout",
    "client_info",
    "socket_url_from",
]

DEFAULT_BASE_URL = "https://api.wiro.ai/v1"
DEFAULT_SOCKET_URL = "wss://socket.wiro.ai/v1"


def base_url_from(base_url: str | None) -> str:
    """The API root: the argument, else ``WIRO_BASE_URL``, else Wiro's (checked)."""
    chosen = base_url or os.environ.get("WIRO_BASE_URL") or DEFAULT_BASE_URL
    return _check_url(chosen, ("http", "https"), "base_url")


def socket_url_from(socket_url: str | None) -> str:
    """The WebSocket URL: the argument, else ``WIRO_SOCKET_URL``, else Wiro's (checked)."""
    chosen = socket_url or os.environ.get("WIRO_SOCKET_URL") or DEFAULT_SOCKET_URL
    return _check_url(chosen, ("ws", "wss"), "socket_url")


def check_on_timeout(value: str) -> str:
    """``cancel`` or ``detach``, else `ConfigError`."""
    if value not in ("cancel", "detach"):
        raise ConfigError(f"on_timeout must be 'cancel' or 'detach', not {value!r}")
    return value


def check_budget(value: float | None) -> float | None:
    """A budget in USD: None (no limit) or a finite, non-negative number."""
    if value is not None and (not math.isfinite(value) or value < 0):
        raise ConfigError(f"budget must be a non-negative number of USD, not {value!r}")
    return value


def client_info(base_url: str, credentials: Credentials, *, sandbox: bool) -> ClientInfo:
    """What the ledger keeps about the client that sent a task (never the key itself)."""
    return ClientInfo(version=__version__, base_url=base_url, key=credentials.fingerprint(),
                      python=platform.python_version(), platform=platform.system(),
                      sandbox=sandbox)


def _check_url(url: str, schemes: tuple[str, ...], name: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise ConfigError(f"{name} must be a {' or '.join(schemes)} URL with a host, "
                          f"not {redact(url)!r}")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{name} has a bad port: {redact(url)!r}") from None
    return url
