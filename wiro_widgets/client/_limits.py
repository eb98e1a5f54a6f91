"""Bounds on every request: an overall deadline, stop signals that win whatever the socket is
doing, and a size limit on every answer.

requests' read timeout applies to each read of the socket, so a server or CDN that trickles
one byte per second holds a request for as long as it likes. Here each request runs under a
`Watch`: an overall deadline, and the stop events of the calling thread's `bounded` scopes
(a wait's cancel event, the poller being stopped). A watchdog thread checks the watches
every 50 ms and, when one expires, shuts its socket down, which wakes a blocked send or
receive at once; the transport then raises its own error. The socket is known from the
moment the request is sent, through the connection classes the transport's adapter installs
(`WatchedHTTPConnectionPool`, `WatchedHTTPSConnectionPool`).

Answers are read in chunks against a byte limit: a ``Content-Length`` over the limit is
refused before any byte of the body is read, and a running count stops an answer that does
not declare its size.

Example:
    >>> with bounded(stop=cancel_event):          # every request in here ends on the event
    ...     transport.post("/Task/Detail", {"tasktoken": token})
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..redaction import get_logger

__all__ = [
    "STOP_EACH",
    "TICK",
    "Scope",
    "TooLarge",
    "Watch",
    "WatchedHTTPConnectionPool",
    "WatchedHTTPSConnectionPool",
    "bounded",
    "current_scope",
    "read_bounded",
    "watched",
]

log = get_logger("wiro_widgets")

#: How often the watchdog looks at the requests in flight.
TICK = 0.05
#: Seconds each request of a stop (Cancel or Kill, and the reads confirming it) may take
#: once a wait was cancelled or timed out: a server that trickles cannot hold the caller.
STOP_EACH = 2.5
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Scope:
    """What bounds the requests a thread makes (the merge of its nested `bounded` blocks).

    Attributes:
        deadline: ``time.monotonic()`` by which every request must be over.
        stop: events that end a request in flight as soon as one is set.
        each: at most this many seconds per request; a request cut by it, by ``deadline``
            or by ``stop`` is not tried again.
    """

    deadline: float | None = None
    stop: tuple[threading.Event, ...] = ()
    each: float | None = None


_LOCAL = threading.local()


def current_scope() -> Scope:
    """The calling thread's scope (no bounds outside any `bounded` block)."""
    scope: Scope | None = getattr(_LOCAL, "scope", None)
    return scope or Scope()


@contextlib.contextmanager
def bounded(*, deadline: float | None = None, stop: threading.Event | None = None,
            each: float | None = None) -> Iterator[Scope]:
    """Bound every request this thread makes inside the block; nested blocks add up (the
    earliest deadline, every stop event, the shortest ``each``).

    Args:
        deadline: a ``time.monotonic()`` value by which requests must be over.
        stop: an event that ends any request in flight when set (within about 50 ms).
        each: seconds each request may take at most.

    Example:
        >>> with bounded(each=2.5):               # a stop must not hang on a slow server
        ...     stopper.cancel(task, retry)
    """
    outer = current_scope()
    scope = Scope(
        deadline=_earliest(outer.deadline, deadline),
        stop=outer.stop + ((stop,) if stop is not None else ()),
        each=_earliest(outer.each, each))
    _LOCAL.scope = scope
    try:
        yield scope
    finally:
        _LOCAL.scope = outer


def _earliest(first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    return first if second is None else min(first, second)


class TooLarge(Exception):
    """An answer over its byte limit (internal; the transport says what it means)."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        self.limit = limit
        self.declared = declared
        size = f"declares {declared} bytes" if declared is not None else "is larger"
        super().__init__(f"the answer {size}; at most {limit} bytes are read")


class Watch:
    """One request in flight: its deadlines, its stop events and its socket.

    Attributes:
        reason: why it was cut short (``stopped``, ``deadline`` or ``too slow``), or None.
        final: True when the cut came from the caller's scope (no retry).
    """

    def __init__(self, limit: float, scope: Scope) -> None:
        now = time.monotonic()
        own = now + limit
        if scope.each is not None:
            own = min(own, now + scope.each)
        self.own_deadline = own
        self.scope = scope
        self.reason: str | None = None
        self.final = False
        self._conn: Any = None
        self._sock: Any = None
        self._released = False
        self._lock = threading.Lock()

    def time_left(self) -> float:
        """Seconds until the nearest deadline (never below 0.01, for socket timeouts)."""
        deadline = _earliest(self.scope.deadline, self.own_deadline) or self.own_deadline
        return max(0.01, deadline - time.monotonic())

    def due(self, early: float = 0.0) -> tuple[str, bool] | None:
        """(reason, final) when the request must end now (or within ``early`` seconds),
        else None."""
        if any(event.is_set() for event in self.scope.stop):
            return "stopped", True
        now = time.monotonic() + early
        if self.scope.deadline is not None and now >= self.scope.deadline:
            return "deadline", True
        if now >= self.own_deadline:
            return "too slow", self.scope.each is not None
        return None

    def attach(self, conn: Any) -> None:
        """The connection carrying the request (from the watched connection classes). Its
        socket is kept too: http.client lets go of it (``conn.sock = None``) once a
        response that closes the connection begins, and the body is still read from it."""
        with self._lock:
            if self._released:
                return
            self._conn = conn
            self._sock = getattr(conn, "sock", None) or self._sock
            if self.reason is not None:
                self._shut()

    def release(self) -> None:
        """The request is over: its connection may go back to the pool, never to be shut
        down by this watch again."""
        with self._lock:
            self._released = True
            self._conn = self._sock = None

    def expire(self, reason: str, final: bool) -> None:
        """End the request: remember why and shut its socket down."""
        with self._lock:
            if self.reason is not None or self._released:
                return
            self.reason, self.final = reason, final
            self._shut()

    def _shut(self) -> None:
        """Shut the socket down: a blocked recv or send returns at once. The base class's
        method is used on TLS sockets too, so the TLS object is left to its reader."""
        sock = getattr(self._conn, "sock", None) or self._sock
        if sock is not None and not isinstance(sock, socket.socket):
            sock = getattr(sock, "socket", None)  # TLS inside a TLS proxy: the outer socket
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def check(self, early: float = 0.0) -> None:
        """Expire now if due (called between chunks by the reading thread itself, and after
        a socket timeout, which is set to end with the deadline)."""
        due = self.due(early)
        if due is not None:
            self.expire(*due)


class _Watchdog:
    """One daemon thread that expires the watches whose time is up."""

    def __init__(self) -> None:
        self._watches: set[Watch] = set()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, watch: Watch) -> None:
        with self._cond:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wiro-watchdog",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def discard(self, watch: Watch) -> None:
        with self._cond:
            self._watches.discard(watch)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._watches:
                    self._cond.wait()
                watches = list(self._watches)
            for watch in watches:
                try:
                    watch.check()
                except Exception:  # the watchdog must outlive any one odd connection
                    log.debug("watchdog: could not check a request", exc_info=True)
            time.sleep(TICK)


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def watched(limit: float) -> Iterator[Watch]:
    """Watch the request made inside the block: it may take ``limit`` seconds at most, and
    the calling thread's scope bounds it too.

    Example:
        >>> with watched(35.0) as watch:
        ...     response = session.post(url, timeout=(5, watch.time_left()), stream=True)
    """
    watch = Watch(limit, current_scope())
    previous = getattr(_LOCAL, "watch", None)
    _LOCAL.watch = watch
    _WATCHDOG.add(watch)
    try:
        watch.check()
        yield watch
    finally:
        watch.release()
        _WATCHDOG.discard(watch)
        _LOCAL.watch = previous


def read_bounded(response: requests.Response, limit: int, watch: Watch) -> bytes:
    """The whole body of a streamed response, refusing more than ``limit`` bytes (declared
    or counted) and checking ``watch`` between chunks.

    Raises:
        TooLarge: the answer declares or holds more than ``limit`` bytes.
        requests.RequestException: the transfer failed (or the watch cut it).
    """
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit, int(declared))
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise TooLarge(limit)
        chunks.append(chunk)
        watch.check()
    return b"".join(chunks)


def _note(conn: Any) -> None:
    watch: Watch | None = getattr(_LOCAL, "watch", None)
    if watch is not None:
        watch.attach(conn)


class _WatchedHTTPConnection(HTTPConnection):
    """Tells the calling thread's `Watch` which connection (and socket) carries its
    request: before connecting, once connected, and for each request sent."""

    def connect(self) -> None:
        _note(self)
        super().connect()
        _note(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _note(self)
        super().request(*args, **kwargs)
        _note(self)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """`_WatchedHTTPConnection` for TLS (its hooks wrap `HTTPSConnection`'s, by the MRO)."""


class WatchedHTTPConnectionPool(HTTPConnectionPool):
    """A pool of connections that a `Watch` can shut down."""

    ConnectionCls = _WatchedHTTPConnection


class WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    """`WatchedHTTPConnectionPool` for TLS."""

    ConnectionCls = _WatchedHTTPSConnection
