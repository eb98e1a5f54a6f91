"""HTTP for the client: signed POSTs, redirects, bounded answers and retries.

One `Transport` may be used from many threads: each thread gets its own `requests.Session`
(sessions are not documented as thread-safe). Every request is signed afresh by
`Credentials.headers()`, so two requests never share a nonce.

What an answer means (Wiro's envelope, HTTP statuses, the error hierarchy) is `_envelope`'s
job; how long a request may take and how much it may read is `_limits`'s: every request has
an overall deadline, ends at once when the caller's stop event is set, and reads at most
`MAX_ANSWER_BYTES` (API answers) or `MAX_DOWNLOAD_BYTES` (outputs). Reads (`Transport.post`
with a `RetryPolicy`) retry transport errors, 408/429/5xx, garbled bodies and code 96 with
exponential backoff, full jitter and ``Retry-After``, inside a total time budget.
`Transport.post_once` makes exactly one attempt and reports *how* it failed, so the caller can
tell "never sent" (safe to send again) from "outcome unknown".

Redirects are followed here, not by requests: to the same origin with a fresh signature, never
to another one with credentials (see `_Redirects`). Downloads carry no credentials at all.

Example:
    >>> transport = Transport(Credentials.from_env(), "https://api.wiro.ai/v1")
    >>> envelope = transport.post("/Task/Detail", {"taskid": "2221"}, retry=RetryPolicy())
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.poolmanager import ProxyManager

from .._version import __version__
from ..auth import CREDENTIAL_HEADERS, AuthHeaders, Credentials
from ..backoff import READ_RETRY, RetryPolicy, backoff_delay
from ..errors import ApiError, ConcurrencyLimit, NetworkError, NotFound
from ..redaction import get_logger
from ._envelope import (
    RETRY_STATUSES,
    Transient,
    check_envelope,
    error_for,
    judge,
    parse_retry_after,
)
from ._limits import (
    TICK,
    Scope,
    TooLarge,
    Watch,
    WatchedHTTPConnectionPool,
    WatchedHTTPSConnectionPool,
    current_scope,
    read_bounded,
    watched,
)
from ._redirects import Redirects

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_ANSWER_BYTES",
    "MAX_DOWNLOAD_BYTES",
    "Transient",
    "Transport",
    "check_envelope",
    "error_for",
    "never_sent",
    "parse_retry_after",
]

log = get_logger("wiro_widgets")

#: (connect, read) seconds for one request.
DEFAULT_TIMEOUT = (5.0, 30.0)
#: The largest API answer read: a Task/Detail record with a long log is a few MB at most.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
#: The largest output file downloaded.
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
#: The slowest upload allowed for in a request's overall deadline (bytes per second).
_MIN_UPLOAD_RATE = 32 * 1024
_T = TypeVar("_T")
_Opener = Callable[[], contextlib.AbstractContextManager[tuple[Any, Mapping[str, str]]]]


@dataclass(frozen=True)
class _Answer:
    """One HTTP answer, read whole (within its limit). Its repr leaves out the body and
    the headers: a server may echo what it was sent."""

    status: int
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)
    url: str = field(repr=False)


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


class _Session(requests.Session):
    """A session that never carries credentials to another host. requests drops
    ``Authorization`` on a redirect to another host but not custom headers; the transport
    follows redirects itself, and this holds for any path that lets requests follow."""

    def rebuild_auth(self, prepared_request: requests.PreparedRequest,
                     response: requests.Response) -> None:
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        if self.should_strip_auth(  # type: ignore[no-untyped-call]
                str(response.request.url), str(prepared_request.url)):
            for name in CREDENTIAL_HEADERS:
                prepared_request.headers.pop(name, None)


_WATCHED_POOLS = {"http": WatchedHTTPConnectionPool, "https": WatchedHTTPSConnectionPool}


class _Adapter(HTTPAdapter):
    """Connections a `Watch` can shut down (`_limits`), and streamed bodies sent in 1 MiB
    blocks: urllib3's default 16 KiB blocks made a 100 MB upload of reference images about
    0.3 s slower (BENCHMARKS.md, figure 3)."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        pool_kwargs.setdefault("blocksize", 1 << 20)
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager:  # SOCKS managers keep their own pools
            manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager


class Transport:
    """Signed POSTs to the API and plain GETs of output files, safe across threads.

    Args:
        credentials: the key (and secret) that sign each request.
        base_url: the API root, e.g. ``https://api.wiro.ai/v1``.
        timeout: (connect, read) seconds for each request; their sum (plus time for an
            upload) is also each request's overall deadline, however the server trickles.
    """

    def __init__(self, credentials: Credentials, base_url: str, *,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        self._credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.saw_sandbox = False
        self.max_answer_bytes = MAX_ANSWER_BYTES
        self._local = threading.local()
        self._sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()
        self._sessions_lock = threading.Lock()
        self.user_agent = f"wiro-widgets/{__version__} python-requests/{requests.__version__}"

    # -- sessions -----------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = _Session()
            session.headers["User-Agent"] = self.user_agent
            adapter = _Adapter()
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
                  body: _Opener | None = None, timeout: tuple[float, float] | None = None,
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
            ApiError: the API refused the request (or redirected it to another host).
        """
        opener: _Opener = body if body is not None else (lambda: _json_body(payload or {}))
        answer = Redirects(self.base_url + endpoint, signed=True, what=endpoint).follow(
            lambda url: self._exchange("POST", url, opener, timeout or self.timeout,
                                       limit=self.max_answer_bytes, what=endpoint,
                                       attempt=attempt))
        meaning = judge(answer.status, answer.content, endpoint,
                        parse_retry_after(answer.headers.get("Retry-After")))
        if isinstance(meaning, Exception):
            raise meaning  # from this frame, which shows no answer text (`_Answer`'s repr)
        return meaning

    def post(self, endpoint: str, payload: dict[str, Any] | None = None, *,
             retry: RetryPolicy | None = READ_RETRY,
             timeout: tuple[float, float] | None = None) -> dict[str, Any]:
        """A POST that is safe to repeat (a read, or Cancel/Kill), retried per ``retry``.

        Raises:
            ApiError: the API refused it (or kept failing with an HTTP error / code 96).
            NetworkError: the transport kept failing until the retry budget ran out, or the
                caller's stop event or deadline (`_limits.bounded`) ended it.

        Example:
            >>> transport.post("/Task/Detail", {"tasktoken": token})["tasklist"][0]["status"]
            'task_queue'
        """
        return self._retrying(
            endpoint, lambda attempt: self.post_once(endpoint, payload, timeout=timeout,
                                                     attempt=attempt), retry)

    def download(self, url: str, *, retry: RetryPolicy | None = READ_RETRY,
                 max_bytes: int = MAX_DOWNLOAD_BYTES,
                 check: Callable[[bytes], str | None] | None = None) -> bytes:
        """GET an output file (never with our credentials: it may live on a CDN).

        Args:
            url: the file's URL.
            retry: how failures are retried.
            max_bytes: refuse larger files (a larger ``Content-Length`` before reading).
            check: returns why the bytes are wrong (e.g. not the image announced), or
                None; wrong bytes are retried like a garbled answer.

        Raises:
            NotFound: the file is gone (output URLs expire).
            ApiError: the file is too large, or kept coming back wrong.
            NetworkError: the transport kept failing.
        """
        if not url.lower().startswith(("http://", "https://")):
            raise ApiError(f"refusing to download a non-http(s) output URL: {url[:80]}",
                           endpoint="download")

        def attempt_fn(attempt: int) -> bytes:
            answer = Redirects(url, signed=False, what="download").follow(
                lambda hop: self._exchange("GET", hop, None, self.timeout, limit=max_bytes,
                                           what="output", attempt=attempt))
            data = _downloaded(answer)
            problem = check(data) if check is not None else None
            if problem:
                log.debug("GET output attempt %d: %s", attempt, problem)
                raise Transient(f"bad download ({problem})",
                                error=ApiError(f"the output file is damaged: {problem}",
                                               endpoint="download"))
            return data

        return self._retrying("download", attempt_fn, retry)

    # -- one exchange -------------------------------------------------------------------------
    def _exchange(self, method: str, url: str, opener: _Opener | None,
                  timeout: tuple[float, float], *, limit: int, what: str,
                  attempt: int) -> _Answer:
        """One request and its whole answer, under a `Watch`; no redirect followed."""
        started = time.monotonic()
        failure: Exception | None = None
        answer: _Answer | None = None
        with opener() if opener is not None else _no_body() as (data, content_headers):
            headers = self._credentials.headers() if method == "POST" else AuthHeaders()
            headers.update(content_headers)
            with watched(_overall(timeout, data)) as watch:
                try:
                    answer = self._read(method, url, data, headers, timeout, limit, watch)
                except requests.exceptions.RequestException as err:
                    failure = _transport_failure(err, watch, what)
                except TooLarge as err:
                    failure = Transient(str(err), final=True, error=ApiError(
                        f"refused an answer too large to read: {err}", endpoint=what))
        took = time.monotonic() - started
        # Raised here, outside the except clauses: the transport's own exception (which
        # holds the request and its headers) must not become this error's __context__.
        if failure is not None:
            log.debug("%s %s attempt %d failed after %.2fs: %s", method, what, attempt, took,
                      failure)
            raise failure
        assert answer is not None
        log.debug("%s %s attempt %d -> HTTP %d, %d bytes in %.2fs", method, what, attempt,
                  answer.status, len(answer.content), took)
        return answer

    def _read(self, method: str, url: str, data: Any, headers: AuthHeaders,
              timeout: tuple[float, float], limit: int, watch: Watch) -> _Answer:
        left = watch.time_left()
        response = self._session().request(
            method, url, data=data, headers=headers, stream=True, allow_redirects=False,
            timeout=(min(timeout[0], left), min(timeout[1], left)))
        with response:
            self._note_headers(response)
            redirect = response.is_redirect
            content = b"" if redirect else read_bounded(response, limit, watch)
            watch.release()  # before the connection goes back to the pool
            return _Answer(response.status_code, response.headers, content, url)

    def _retrying(self, what: str, attempt_fn: Callable[[int], _T],
                  retry: RetryPolicy | None) -> _T:
        deadline = time.monotonic() + (retry.budget if retry else 0.0)
        attempt = 0
        while True:
            attempt += 1
            failure: Exception | None = None
            try:
                return attempt_fn(attempt)
            except Transient as fault:
                busy = isinstance(fault.error, ConcurrencyLimit)
                retryable = retry is not None and not fault.final and (retry.busy or not busy)
                delay = backoff_delay(attempt, retry or READ_RETRY, fault.retry_after)
                if (not retryable or time.monotonic() + delay > deadline
                        or not _may_wait(current_scope(), delay)):
                    failure = _final_error(what, fault, attempt)
                else:
                    log.debug("%s: %s; retry %d in %.2fs", what, fault.reason, attempt, delay)
            if failure is not None:
                raise failure  # outside the except clause: no __context__ to carry
            if not _pause(delay, current_scope()):
                raise NetworkError(f"{what}: stopped before trying again")

    def _note_headers(self, response: requests.Response) -> None:
        if response.headers.get("x-wiro-sandbox") == "1":
            self.saw_sandbox = True


def _overall(timeout: tuple[float, float], data: Any) -> float:
    """A request's overall deadline in seconds: connect + read, plus time for its upload."""
    size = len(data) if isinstance(data, (bytes, bytearray)) else getattr(data, "len", 0)
    return timeout[0] + timeout[1] + (size if isinstance(size, int) else 0) / _MIN_UPLOAD_RATE


def _transport_failure(err: requests.exceptions.RequestException, watch: Watch,
                       what: str) -> Transient:
    """Our `Transient` for a requests error (which it never chains: its request holds the
    headers, key included)."""
    sent = not never_sent(err)
    if isinstance(err, requests.exceptions.Timeout):
        watch.check(early=TICK)  # socket timeouts are set to end with the watch's deadline
    if watch.reason == "stopped":
        return Transient("stopped", sent=sent, final=True,
                         error=NetworkError(f"{what}: stopped while waiting for the answer"))
    if watch.reason is not None:
        limit = "the caller's deadline" if watch.reason == "deadline" else "its time limit"
        return Transient(f"no complete answer within {limit}", sent=sent, final=watch.final,
                         error=NetworkError(f"{what}: no complete answer within {limit} "
                                            "(the server is too slow or trickling)"))
    return Transient(type(err).__name__, sent=sent)


def _downloaded(answer: _Answer) -> bytes:
    status, retry_after = answer.status, parse_retry_after(answer.headers.get("Retry-After"))
    if status == 200:
        expected = answer.headers.get("Content-Length", "")
        plain = not answer.headers.get("Content-Encoding")
        if plain and expected.isdigit() and int(expected) != len(answer.content):
            raise Transient("short download", http_status=status)
        return answer.content
    if status in RETRY_STATUSES:
        raise Transient(f"HTTP {status}", retry_after=retry_after, http_status=status,
                        error=ApiError(f"HTTP {status}", http_status=status,
                                       endpoint="download"))
    if status in (404, 410):
        raise NotFound("the output file is gone (output URLs expire)", code=None,
                       http_status=status, endpoint="download")
    raise ApiError(f"HTTP {status}", http_status=status, endpoint="download")


def _may_wait(scope: Scope, delay: float) -> bool:
    return scope.deadline is None or time.monotonic() + delay < scope.deadline


def _pause(delay: float, scope: Scope) -> bool:
    """Sleep ``delay`` seconds; False (at once) when a stop event of the scope is set."""
    end = time.monotonic() + delay
    while True:
        if any(event.is_set() for event in scope.stop):
            return False
        left = end - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(left, 0.05) if scope.stop else left)


def _final_error(what: str, fault: Transient, attempts: int) -> Exception:
    if fault.error is not None:
        return fault.error
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    return NetworkError(f"{what} failed after {tries}: {fault.reason}")


@contextlib.contextmanager
def _json_body(payload: dict[str, Any]) -> Iterator[tuple[bytes, dict[str, str]]]:
    yield json.dumps(payload).encode(), {"Content-Type": "application/json"}


@contextlib.contextmanager
def _no_body() -> Iterator[tuple[None, dict[str, str]]]:
    yield None, {}
