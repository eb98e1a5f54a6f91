"""What an API answer means: Wiro's envelope, HTTP statuses, and the error hierarchy.

Wiro answers HTTP 200 with ``{"result": false, "errors": [{"code", "message"}]}`` for most
failures and HTTP 401 for bad credentials. `check_envelope` maps every answer to the envelope
(success), an `ApiError` subclass (a refusal: raised at once), or `Transient` (worth asking
again: 408/429/5xx, a garbled 2xx body, code 96).

Example:
    >>> check_envelope(200, b'{"result": true, "errors": []}', "/Task/Detail")
    {'result': True, 'errors': []}
    >>> check_envelope(403, b'{"message": "Forbidden"}', "/Task/Detail")
    Traceback (most recent call last):
    wiro_widgets.errors.AuthError: Forbidden from /Task/Detail (HTTP 403)
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import json
import re
import time
from typing import Any

from ..errors import ApiError, AuthError, ConcurrencyLimit, InsufficientBalance, NotFound
from ..protocol import ErrorCode, parse_number
from ..redaction import redact

__all__ = [
    "AUTH_STATUSES",
    "RETRY_STATUSES",
    "Transient",
    "check_envelope",
    "error_for",
    "excerpt",
    "judge",
    "parse_retry_after",
]

#: Statuses worth asking again (a read; a Run only for 429): timeouts, rate limits, gateways.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Authentication refusals. wirokit and the Kotlin SDK map both to their auth error; the
#: docs list 403 as "signature mismatch or insufficient permissions" (client reference §2).
AUTH_STATUSES = frozenset({401, 403})
_EXCERPT_CHARS = 160
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


class Transient(Exception):
    """One attempt failed in a way worth retrying (internal; never leaves the client).

    Attributes:
        reason: a short description (``HTTP 503``, ``garbled body``, ``ReadTimeout``).
        sent: False only when the request provably never reached the server.
        retry_after: the server's ``Retry-After`` in seconds, when given.
        http_status: the status when a response arrived.
        error: the `ApiError` to raise when retries run out, if any.
        final: do not try again (the caller's stop signal or deadline ended it).
    """

    def __init__(self, reason: str, *, sent: bool = True, retry_after: float | None = None,
                 http_status: int | None = None, error: Exception | None = None,
                 final: bool = False) -> None:
        self.reason = reason
        self.sent = sent
        self.retry_after = retry_after
        self.http_status = http_status
        self.error = error
        self.final = final
        super().__init__(reason)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP date.

    Example:
        >>> parse_retry_after("3")
        3.0
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_for(code: int | None, message: str, *, http_status: int | None,
              endpoint: str) -> ApiError:
    """The `ApiError` subclass for a Wiro error code (or HTTP 401/403).

    Example:
        >>> type(error_for(97, "Insufficient balance", http_status=200, endpoint="/Run/a/b"))
        <class 'wiro_widgets.errors.InsufficientBalance'>
    """
    message = redact(message)
    kind: type[ApiError] = ApiError
    if http_status in AUTH_STATUSES or code == ErrorCode.UNAUTHORIZED:
        kind = AuthError
    elif code == ErrorCode.CONCURRENCY_LIMIT:
        kind = ConcurrencyLimit
    elif code == ErrorCode.INSUFFICIENT_BALANCE:
        kind = InsufficientBalance
    elif code == ErrorCode.NOT_FOUND:
        kind = NotFound
    return kind(message, code=code, http_status=http_status, endpoint=endpoint)


def check_envelope(status: int, body: bytes, endpoint: str,
                   retry_after: float | None = None) -> dict[str, Any]:
    """Parse a response body and raise what it means; return the envelope on success.

    Raises:
        Transient: 408/429/5xx, a garbled 2xx body, or code 96 (also an `ApiError`).
        ApiError: ``result: false``, HTTP 401/403 (`AuthError`), or any other 4xx, with
            Wiro's envelope or without it (a proxy's page).
    """
    outcome = judge(status, body, endpoint, retry_after)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def judge(status: int, body: bytes, endpoint: str,
          retry_after: float | None = None) -> dict[str, Any] | Exception:
    """What an answer means: its envelope, or the exception to raise (see `check_envelope`).

    It returns the exception rather than raising it, so that no frame the exception carries
    holds the answer's text: a server that echoes the key would otherwise put it in the
    locals a traceback shows (``capture_locals=True``, IPython's verbose mode).
    """
    parsed: Any = None
    with contextlib.suppress(ValueError, UnicodeDecodeError, RecursionError):
        parsed = json.loads(body) if body else None
    envelope = parsed if isinstance(parsed, dict) and "result" in parsed else None
    if status in AUTH_STATUSES:
        code, message = _first_error(envelope) if envelope else (None, excerpt(body, parsed))
        return error_for(code, message or "the API refused the credentials",
                         http_status=status, endpoint=endpoint)
    if status in RETRY_STATUSES:
        error = None
        if envelope is not None and envelope.get("result") is False:
            code, message = _first_error(envelope)
            error = error_for(code, message or f"HTTP {status}", http_status=status,
                              endpoint=endpoint)
        else:
            error = ApiError(f"HTTP {status}", http_status=status, endpoint=endpoint)
        return Transient(f"HTTP {status}", retry_after=retry_after, http_status=status,
                         error=error)
    if envelope is None and 400 <= status < 500:
        # An answer came, so nothing was lost: a proxy's or gateway's page (or a bare
        # {"message": ...}) is a refusal, raised at once as the official SDKs do. It stays
        # an ApiError for 400/422 too: our ValidationError promises a field, a value and a
        # rule checked before sending, which a page from a proxy cannot give.
        text = excerpt(body, parsed)
        return ApiError(f"HTTP {status}" + (f": {text}" if text else ""), http_status=status,
                        endpoint=endpoint)
    if envelope is None:
        return Transient(f"garbled body (HTTP {status}, {len(body)} bytes)",
                         http_status=status)
    if envelope.get("result") is not True:
        code, message = _first_error(envelope)
        error = error_for(code, message or "the API reported a failure", http_status=status,
                          endpoint=endpoint)
        if isinstance(error, ConcurrencyLimit):
            error.retry_after = retry_after
            return Transient("code 96 (concurrency limit)", retry_after=retry_after,
                             http_status=status, error=error)
        return error
    if status >= 400:
        return ApiError(f"HTTP {status}", http_status=status, endpoint=endpoint)
    return dict(envelope)


def excerpt(body: bytes, parsed: Any = None, limit: int = _EXCERPT_CHARS) -> str:
    """A short, one-line, redacted excerpt of an answer that is not Wiro's envelope: its
    ``message`` field, an HTML page's title, or its text.

    Example:
        >>> excerpt(b"<html><head><title>413 Request Entity Too Large</title></head></html>")
        '413 Request Entity Too Large'
    """
    text = ""
    if isinstance(parsed, dict):
        for name in ("message", "error", "detail"):
            if isinstance(parsed.get(name), str):
                text = parsed[name]
                break
    if not text:
        raw = body[: 16 * 1024].decode("utf-8", "replace")
        title = _TITLE.search(raw)
        text = html.unescape(title[1] if title else _TAG.sub(" ", raw))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return redact(text)


def _first_error(envelope: dict[str, Any]) -> tuple[int | None, str]:
    errors = envelope.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    if isinstance(first, dict):
        code_raw, message = first.get("code"), first.get("message")
    elif isinstance(first, str):
        code_raw, message = None, first
    else:
        code_raw, message = None, None
    number = parse_number(code_raw)
    code = int(number) if number is not None and number.is_integer() else None
    return code, str(message) if message is not None else ""
