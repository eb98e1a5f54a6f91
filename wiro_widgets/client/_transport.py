"""HTTP for the client: signed POSTs, Wiro's envelope, the error hierarchy and retries.

One `Transport` may be used from many threads: each thread gets its own `requests.Session`
(sessions are not documented as thread-safe). Every request is signed afresh by
`Credentials.headers()`, so two requests never share a nonce.

Wiro answers HTTP 200 with ``{"result": false, "errors": [{"code", "message"}]}`` for most
failures and HTTP 401 for bad credentials. `check_envelope` maps both to `ApiError` and its
subclasses. Reads (`Transport.post` with a `RetryPolicy`) retry transport errors, 408/429/5xx,
garbled bodies and code 96 with exponential backoff, full jitter and ``Retry-After``, inside a
total time budget. `Transport.post_once` makes exactly one attempt and reports *how* it failed,
so the caller can tell "never sent" (safe to send again) from "outcome unknown".

Example:
    >>> transport = Transport(Credentials.from_env(), "https://api.wiro.ai/v1")
    >>> envelope = transport.post("/Task/Detail", {"taskid": "2221"}, retry=RetryPolicy())
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from .._version import __version__
from ..auth import Credentials
from ..backoff import READ_RETRY, RetryPolicy, backoff_delay
from ..errors import (
    ApiError,
    AuthError,
    ConcurrencyLimit,
    InsufficientBalance,
    NetworkError,
    NotFound,
)
from ..protocol import ErrorCode, parse_number
from ..redaction import get_logger, redact

__all__ = [
    "DEFAULT_TIMEOUT",
    "Transient",
    "Transport",
    "check_envelope",
    "error_for",
    "parse_retry_after",
]

log = get_logger("wiro_widgets")

#: (connect, read) seconds for one request.
DEFAULT_TIMEOUT = (5.0, 30.0)
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MAX_DOWNLOAD = 512 * 1024 * 1024
_T = TypeVar("_T")


class Transient(Exception):
    """One attempt failed in a way worth retrying (internal; never leaves the client).

    Attributes:
        reason: a short description (``HTTP 503``, ``garbled body``, ``ReadTimeout``).
        sent: False only when the request provably never reached the server.
        retry_after: the server's ``Retry-After`` in seconds, when given.
        http_status: the status when a response arrived.
        error: the `ApiError` to raise when retries run out, if any.
    """

    def __init__(self, reason: str, *, sent: bool = True, retry_after: float | None = None,
                 http_status: int | None = None, error: ApiError | None = None) -> None:
        self.reason = reason
        self.sent = sent
        self.retry_after = retry_after
        self.http_status = http_status
        self.error = error
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
    """The `ApiError` subclass for a Wiro error code (or HTTP 401).

    Example:
        >>> type(error_for(97, "Insufficient balance", http_status=200, endpoint="/Run/a/b"))
        <class 'wiro_widgets.errors.InsufficientBalance'>
    """
    message = redact(message)
    kind: type[ApiError] = ApiError
    if http_status == 401 or code == ErrorCode.UNAUTHORIZED:
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
        Transient: 408/429/5xx, a garbled body, or code 96 (which is also an `ApiError`).
        ApiError: ``result: false`` or HTTP 401 (`AuthError`, `NotFound`, ...).
    """
    parsed: Any = None
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        parsed = json.loads(body) if body else None
    envelope = parsed if isinstance(parsed, dict) else None
    if status == 401:
        code, message = _first_error(envelope) if envelope else (None, "")
        raise error_for(code, message or "the API refused the credentials",
                        http_status=status, endpoint=endpoint)
    if status in _RETRY_STATUSES:
        error = None
        if envelope is not None and envelope.get("result") is False:
            code, message = _first_error(envelope)
            error = error_for(code, message or f"HTTP {status}", http_status=status,
                              endpoint=endpoint)
        else:
            error = ApiError(f"HTTP {status}", http_status=status, endpoint=endpoint)
        raise Transient(f"HTTP {status}", retry_after=retry_after, http_status=status,
                        error=error)
    if envelope is None or "result" not in envelope:
        raise Transient(f"garbled body (HTTP {status}, {len(body)} bytes)", http_status=status)
    if envelope.get("result") is not True:
        code, message = _first_error(envelope)
        error = error_for(code, message or "the API reported a failure", http_status=status,
                          endpoint=endpoint)
        if isinstance(error, ConcurrencyLimit):
            error.retry_after = retry_after
            raise Transient("code 96 (concurrency limit)", retry_after=retry_after,
                            http_status=status, error=error)
        raise error
    if status >= 400:
        raise ApiError(f"HTTP {status}", http_status=status, endpoint=endpoint)
    return envelope


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


def never_sent(error: BaseException) -> bool:
    """True when a requests error happened before any byte of the request left: the TCP
    connection was refused, timed out or the name did not resolve."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (urllib3.exceptions.NewConnectionError,
                             urllib3.exceptions.ConnectTimeoutError)):
            return True
        if isinstance(item, urllib3.exceptions.MaxRetryError):
            stack.append(item.reason)
        stack.extend(a for a in getattr(item, "args", ()) if isinstance(a, BaseException))
        stack.append(item.__cause__)
    return False


class _LargeBlockAdapter(HTTPAdapter):
    """Sends streamed bodies in 1 MiB blocks: urllib3's default 16 KiB blocks made a 100 MB
    upload of reference images about 0.3 s slower (BENCHMARKS.md, figure 3)."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        pool_kwargs.setdefault("blocksize", 1 << 20)
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)


class Transport:
    """Signed POSTs to the API and plain GETs of output files, safe across threads.

    Args:
        credentials: the key (and secret) that sign each request.
        base_url: the API root, e.g. ``https://api.wiro.ai/v1``.
        timeout: (connect, read) seconds for each request.
    """

    def __init__(self, credentials: Credentials, base_url: str, *,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        self._credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.saw_sandbox = False
        self._local = threading.local()
        self._sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()
        self._sessions_lock = threading.Lock()
        self._closed = False
        self.user_agent = f"wiro-widgets/{__version__} python-requests/{requests.__version__}"

    # -- sessions -----------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = self.user_agent
            adapter = _LargeBlockAdapter()
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._local.session = session
            with self._sessions_lock:
                self._sessions.add(session)
        return session

    def release_thread(self) -> None:
        """Close the calling thread's session (for short-lived worker threads)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            return
        self._local.session = None
        with self._sessions_lock:
            self._sessions.discard(session)
        session.close()

    def close(self) -> None:
        """Close every thread's session (their pooled connections)."""
        with self._sessions_lock:
            sessions = list(self._sessions)
            self._sessions = weakref.WeakSet()
        for session in sessions:
            session.close()
        self._local = threading.local()

    # -- API calls ----------------------------------------------------------------------------
    def post_once(self, endpoint: str, payload: dict[str, Any] | None = None, *,
                  body: Callable[[], contextlib.AbstractContextManager[
                      tuple[Any, dict[str, str]]]] | None = None,
                  timeout: tuple[float, float] | None = None,
                  attempt: int = 1) -> dict[str, Any]:
        """One signed POST; returns the envelope.

        Args:
            endpoint: the path under the base URL, e.g. ``/Task/Detail``.
            payload: a JSON body.
            body: instead of ``payload``, a function opening ``(data, headers)`` (a
                streamed multipart body).
            timeout: (connect, read) seconds; the transport's default when None.
            attempt: the attempt number, for the log.

        Raises:
            Transient: a failure worth retrying; ``sent`` tells if the request may have
                reached the server.
            ApiError: the API refused the request.
        """
        url = self.base_url + endpoint
        started = time.monotonic()
        opener = body if body is not None else (lambda: _json_body(payload or {}))
        try:
            with opener() as (data, headers):
                request_headers = {**headers, **self._credentials.headers()}
                response = self._session().post(url, data=data, headers=request_headers,
                                                 timeout=timeout or self.timeout)
                content = response.content
        except requests.exceptions.RequestException as err:
            sent = not never_sent(err)
            reason = type(err).__name__
            log.debug("POST %s attempt %d failed after %.2fs: %s (sent=%s)", endpoint, attempt,
                      time.monotonic() - started, reason, sent)
            raise Transient(reason, sent=sent) from None
        self._note_headers(response)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        log.debug("POST %s attempt %d -> HTTP %d in %.2fs", endpoint, attempt,
                  response.status_code, time.monotonic() - started)
        return check_envelope(response.status_code, content, endpoint, retry_after)

    def post(self, endpoint: str, payload: dict[str, Any] | None = None, *,
             retry: RetryPolicy | None = READ_RETRY,
             timeout: tuple[float, float] | None = None) -> dict[str, Any]:
        """A POST that is safe to repeat (a read, or Cancel/Kill), retried per ``retry``.

        Raises:
            ApiError: the API refused it (or kept failing with an HTTP error / code 96).
            NetworkError: the transport kept failing until the retry budget ran out.

        Example:
            >>> transport.post("/Task/Detail", {"tasktoken": token})["tasklist"][0]["status"]
            'task_queue'
        """
        return self._retrying(
            endpoint, lambda attempt: self.post_once(endpoint, payload, timeout=timeout,
                                                     attempt=attempt), retry)

    def download(self, url: str, *, retry: RetryPolicy | None = READ_RETRY,
                 max_bytes: int = _MAX_DOWNLOAD,
                 check: Callable[[bytes], str | None] | None = None) -> bytes:
        """GET an output file (never with our credentials: it may live on a CDN).

        Args:
            url: the file's URL.
            retry: how failures are retried.
            max_bytes: refuse larger files.
            check: returns why the bytes are wrong (e.g. not the image announced), or
                None; wrong bytes are retried like a garbled answer.

        Raises:
            NotFound: the file is gone (output URLs expire).
            NetworkError: the transport kept failing.
        """
        if not url.lower().startswith(("http://", "https://")):
            raise ApiError(f"refusing to download a non-http(s) output URL: {url[:80]}",
                           endpoint="download")
        def attempt_fn(attempt: int) -> bytes:
            data = self._get_once(url, max_bytes, attempt)
            problem = check(data) if check is not None else None
            if problem:
                log.debug("GET output attempt %d: %s", attempt, problem)
                raise Transient(f"bad download ({problem})",
                                error=ApiError(f"the output file is damaged: {problem}",
                                               endpoint="download"))
            return data

        return self._retrying("download", attempt_fn, retry)

    def _get_once(self, url: str, max_bytes: int, attempt: int) -> bytes:
        started = time.monotonic()
        try:
            with self._session().get(url, timeout=self.timeout, stream=True) as response:
                self._note_headers(response)
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if status == 200:
                    chunks, total = [], 0
                    for chunk in response.iter_content(256 * 1024):
                        total += len(chunk)
                        if total > max_bytes:
                            raise ApiError(f"output larger than {max_bytes} bytes",
                                           endpoint="download")
                        chunks.append(chunk)
                    data = b"".join(chunks)
                    expected = response.headers.get("Content-Length")
                    if expected and expected.isdigit() and int(expected) != len(data):
                        raise Transient("short download", http_status=status)
                else:
                    data = response.content
        except requests.exceptions.RequestException as err:
            log.debug("GET output attempt %d failed: %s", attempt, type(err).__name__)
            raise Transient(type(err).__name__, sent=not never_sent(err)) from None
        log.debug("GET output attempt %d -> HTTP %d, %d bytes in %.2fs", attempt, status,
                  len(data), time.monotonic() - started)
        if status == 200:
            return data
        if status in _RETRY_STATUSES:
            raise Transient(f"HTTP {status}", retry_after=retry_after, http_status=status,
                            error=ApiError(f"HTTP {status}", http_status=status,
                                           endpoint="download"))
        if status in (404, 410):
            raise NotFound("the output file is gone (output URLs expire)", code=None,
                           http_status=status, endpoint="download")
        raise ApiError(f"HTTP {status}", http_status=status, endpoint="download")

    def _retrying(self, what: str, attempt_fn: Callable[[int], _T],
                  retry: RetryPolicy | None) -> _T:
        deadline = time.monotonic() + (retry.budget if retry else 0.0)
        attempt = 0
        while True:
            attempt += 1
            try:
                return attempt_fn(attempt)
            except Transient as fault:
                busy = isinstance(fault.error, ConcurrencyLimit)
                retryable = retry is not None and (retry.busy or not busy)
                delay = backoff_delay(attempt, retry or READ_RETRY, fault.retry_after)
                if not retryable or time.monotonic() + delay > deadline:
                    raise _final_error(what, fault, attempt) from None
                log.debug("%s: %s; retry %d in %.2fs", what, fault.reason, attempt, delay)
                time.sleep(delay)

    def _note_headers(self, response: requests.Response) -> None:
        if response.headers.get("x-wiro-sandbox") == "1":
            self.saw_sandbox = True


def _final_error(what: str, fault: Transient, attempts: int) -> Exception:
    if fault.error is not None:
        return fault.error
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    return NetworkError(f"{what} failed after {tries}: {fault.reason}")


@contextlib.contextmanager
def _json_body(payload: dict[str, Any]) -> Iterator[tuple[bytes, dict[str, str]]]:
    yield json.dumps(payload).encode(), {"Content-Type": "application/json"}
