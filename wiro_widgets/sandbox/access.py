"""Who may call the sandbox: Wiro's project-key check, its signature and its nonces.

Signature projects send ``x-api-key``, ``x-nonce`` and ``x-signature`` (lowercase hex
HMAC-SHA256 keyed by the API key over secret + nonce); key-only projects send the key alone.
Failures answer HTTP 401 with Wiro's messages.

Example:
    >>> check = Access("key", "secret")
    >>> check.authorize(key, nonce, signature)     # raises ApiFailure (401) when refused
    >>> Access("key", "secret", strict_nonces=True)   # a repeated nonce is refused
"""

from __future__ import annotations

import hmac
import threading

from ..auth import sign
from ..protocol import ErrorCode
from .answers import ApiFailure

__all__ = ["AUTH_INVALID", "AUTH_NEEDS_SIGNATURE", "AUTH_NOT_FOUND", "AUTH_REPLAY", "Access"]

AUTH_NOT_FOUND = "Project authorization is not founded."
AUTH_NEEDS_SIGNATURE = (
    "Project requires signature authentication. x-signature and x-nonce headers are required."
)
AUTH_INVALID = "Project authorization is not valid."
AUTH_REPLAY = "Project authorization is not valid. Nonce was already used."
_MAX_NONCE_DIGITS = 32


class Access:
    """The auth check of one sandbox project (thread-safe).

    Args:
        api_key: the project's key.
        api_secret: its secret; None for a key-only project.
        strict_nonces: refuse a nonce seen before (off by default, see `authorize`).
    """

    def __init__(self, api_key: str, api_secret: str | None, *,
                 strict_nonces: bool = False) -> None:
        self._api_key = api_key
        self._api_secret = api_secret
        self.strict_nonces = strict_nonces
        self._nonces: set[str] = set()
        self._lock = threading.Lock()

    def authorize(self, key: str, nonce: str, signature: str) -> None:
        """Check a request's ``x-api-key``, ``x-nonce`` and ``x-signature`` (empty: absent).

        Nonces: the docs say "Unix timestamp or random integer" and nothing of uniqueness,
        and the official clients disagree on the unit (official-clients.md sections 6 and
        9): the docs' samples, the model page and n8n send seconds; Wiro-MCP, Kotlin, Dart
        and Swift wall-clock milliseconds, which repeat under parallel calls (only wirokit
        keeps them strictly increasing). We follow what all of them can live with: any
        integer string, repeats accepted. ``strict_nonces`` keeps the stricter reading of
        the docs' "Replay protection: Yes (via nonce)", for a client that wants to prove it
        never repeats one.

        Raises:
            ApiFailure: HTTP 401 with Wiro's code 0 and message.
        """
        if not key or not hmac.compare_digest(key.encode(), self._api_key.encode()):
            raise ApiFailure(ErrorCode.VALIDATION, AUTH_NOT_FOUND, http_status=401)
        if self._api_secret is None:
            return
        if not nonce or not signature:
            raise ApiFailure(ErrorCode.VALIDATION, AUTH_NEEDS_SIGNATURE, http_status=401)
        if not (nonce.isascii() and nonce.isdigit()) or len(nonce) > _MAX_NONCE_DIGITS:
            raise ApiFailure(ErrorCode.VALIDATION, AUTH_INVALID, http_status=401)
        expected = sign(self._api_key, self._api_secret, nonce)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise ApiFailure(ErrorCode.VALIDATION, AUTH_INVALID, http_status=401)
        if self.strict_nonces:
            with self._lock:
                if nonce in self._nonces:
                    raise ApiFailure(ErrorCode.VALIDATION, AUTH_REPLAY, http_status=401)
                self._nonces.add(nonce)
