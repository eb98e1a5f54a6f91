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
from .redaction import MASK, Secret

__all__ = ["CREDENTIAL_HEADERS", "AuthHeaders", "Credentials", "next_nonce", "sign"]

#: The request headers that carry credentials; they never go to another host.
CREDENTIAL_HEADERS = frozenset({"x-api-key", "x-nonce", "x-signature"})

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


class AuthHeaders(dict[str, str]):
    """Request headers holding credentials; ``repr`` masks every value, so a traceback
    formatted with its frames' locals (``capture_locals=True``) never shows the key.

    Example:
        >>> AuthHeaders({"x-api-key": "abcd1234"})
        AuthHeaders({'x-api-key': '***'})
    """

    def __repr__(self) -> str:
        return f"AuthHeaders({ {name: MASK for name in self}!r})"


def _problem(value: str, what: str) -> str | None:
    """Why ``value`` cannot be sent as an HTTP header value, in words that never echo it."""
    if not value.isascii():
        # A pasted en dash or a non-breaking space would fail later, inside the signing
        # or the HTTP library, with the whole key in the exception's text.
        return (f"The Wiro API {what} contains a character that is not plain ASCII (often a "
                "dash or a space changed by copy and paste); copy it again from the "
                "dashboard.")
    if any(c.isspace() for c in value) or not value.isprintable():
        return f"The Wiro API {what} contains spaces or control characters."
    return None


class Credentials:
    """An API key and optional secret (no secret: key-only project mode).

    Args:
        api_key: the project's API key.
        api_secret: the project's secret; None or "" for key-only projects.

    Raises:
        ConfigError: when the key is missing or malformed (not ASCII, spaces inside,
            control characters); the message never holds the value.
    """

    __slots__ = ("_key", "_secret")

    def __init__(self, api_key: str | None, api_secret: str | None = None) -> None:
        key = Secret((api_key or "").strip())
        secret = Secret((api_secret or "").strip())
        # Only masked holders stay in this frame: a traceback formatted with its locals
        # (``capture_locals=True``) must not show the values it refuses.
        del api_key, api_secret
        if not key.value:
            raise ConfigError(
                "No Wiro API key: pass api_key=... or set WIRO_API_KEY "
                "(or start a local sandbox: `wiro-widgets sandbox`)."
            )
        problem = _problem(key.value, "key") or (
            _problem(secret.value, "secret") if secret.value else None)
        if problem:
            raise ConfigError(problem)
        self._key = key
        self._secret = secret if secret.value else None

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

    def headers(self) -> AuthHeaders:
        """Auth headers for one request, with a fresh nonce (their repr is masked)."""
        if self._secret is None:
            return AuthHeaders({"x-api-key": self._key.value})
        nonce = next_nonce()
        return AuthHeaders({
            "x-api-key": self._key.value,
            "x-nonce": nonce,
            "x-signature": sign(self._key.value, self._secret.value, nonce),
        })

    def fingerprint(self) -> str:
        """A short, non-reversible tag of the key, safe to log (``key:ab12cd``)."""
        return "key:" + hashlib.sha256(self._key.value.encode()).hexdigest()[:6]

    def __repr__(self) -> str:
        mode = "signature" if self.signed else "key-only"
        return f"Credentials({self.fingerprint()}, {mode})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Credentials are not picklable, so they cannot be saved by accident.")
