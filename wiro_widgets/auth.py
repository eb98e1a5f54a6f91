"""Credentials and request signing.

Wiro signs each request with ``x-signature = hex(HMAC-SHA256(key=api_key, msg=secret + nonce))``.
A project may instead use the API key alone. Secrets are kept in private attributes, never shown
by ``repr``, and registered as `redaction.Secret` so that no message, log line or ledger entry
built by this package can carry them.

Example:
    >>> creds = Credentials.from_env()          # WIRO_API_KEY / WIRO_API_SECRET
    >>> headers = creds.headers()                # x-api-key, x-nonce, x-signature
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time

from .errors import ConfigError
from .redaction import Secret

__all__ = ["Credentials", "next_nonce", "sign"]

class _NonceClock:
    """Millisecond nonces that strictly increase across every thread of the process.

    Section 9 of the client reference: the docs' samples use seconds, every SDK and
    Wiro-MCP use milliseconds; we follow milliseconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> int:
        with self._lock:
            now = time.time_ns() // 1_000_000
            self._last = max(now, self._last + 1)
            return self._last


_CLOCK = _NonceClock()


def next_nonce() -> str:
    """A fresh nonce: Unix milliseconds, strictly increasing even within one millisecond."""
    return str(_CLOCK.next())


def sign(api_key: str, api_secret: str, nonce: str) -> str:
    """Wiro's signature: lowercase hex HMAC-SHA256 keyed by the API key over secret + nonce.

    Example:
        >>> len(sign("key", "secret", "1700000000000"))
        64
    """
    return hmac.new(
        api_key.encode(), (api_secret + nonce).encode(), hashlib.sha256
    ).hexdigest()


class Credentials:
    """An API key and optional secret (no secret: key-only project mode).

    Args:
        api_key: the project's API key.
        api_secret: the project's secret; None or "" for key-only projects.

    Raises:
        ConfigError: when the key is missing or malformed.
    """

    __slots__ = ("_key", "_secret")

    def __init__(self, api_key: str | None, api_secret: str | None = None) -> None:
        key = (api_key or "").strip()
        if not key:
            raise ConfigError(
                "No Wiro API key: pass api_key=... or set WIRO_API_KEY "
                "(or start a local sandbox: `wiro-widgets sandbox`)."
            )
        if any(c.isspace() for c in key) or not key.isprintable():
            raise ConfigError("The Wiro API key contains spaces or control characters.")
        secret = (api_secret or "").strip()
        if secret and (any(c.isspace() for c in secret) or not secret.isprintable()):
            raise ConfigError("The Wiro API secret contains spaces or control characters.")
        self._key = Secret(key)
        self._secret = Secret(secret) if secret else None

    @classmethod
    def from_env(cls, api_key: str | None = None, api_secret: str | None = None) -> Credentials:
        """Arguments first, then ``WIRO_API_KEY`` and ``WIRO_API_SECRET``."""
        key = api_key if api_key is not None else os.environ.get("WIRO_API_KEY")
        secret = api_secret if api_secret is not None else os.environ.get("WIRO_API_SECRET")
        return cls(key, secret)

    @property
    def api_key(self) -> str:
        return self._key.value

    @property
    def signed(self) -> bool:
        """True in signature mode, False in key-only mode."""
        return self._secret is not None

    def headers(self) -> dict[str, str]:
        """Auth headers for one request, with a fresh nonce."""
        if self._secret is None:
            return {"x-api-key": self._key.value}
        nonce = next_nonce()
        return {
            "x-api-key": self._key.value,
            "x-nonce": nonce,
            "x-signature": sign(self._key.value, self._secret.value, nonce),
        }

    def fingerprint(self) -> str:
        """A short, non-reversible tag of the key, safe to log (``key:ab12cd``)."""
        return "key:" + hashlib.sha256(self._key.value.encode()).hexdigest()[:6]

    def __repr__(self) -> str:
        mode = "signature" if self.signed else "key-only"
        return f"Credentials({self.fingerprint()}, {mode})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Credentials are not picklable, so they cannot be saved by accident.")
