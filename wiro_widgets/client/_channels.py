"""The two helper threads of live following: the WebSocket reader and the Task/Detail poller.

Both only put events on a queue (``("frame", text)``, ``("socket_up", attempt)``,
``("socket_down", reason)``, ``("detail", record)``, ``("poll_error", error)``); the caller's
thread (`_follow.follow`) takes them off and decides.

Example:
    >>> events = queue.Queue()
    >>> Poller(lambda: client.detail(task), events, interval=0.5).start()
"""

from __future__ import annotations

import contextlib
import inspect
import json
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..backoff import RetryPolicy, backoff_delay
from ..protocol import is_loopback_url
from ._limits import bounded

__all__ = ["Poller", "SocketReader", "SocketTimings", "connect_options"]


class SocketTimings(Protocol):
    """The timings the socket reader needs (`FollowConfig` has them)."""

    @property
    def socket_open_timeout(self) -> float: ...

    @property
    def socket_connects(self) -> int: ...


#: Waits between socket reconnections: 1, 2, then 4 s.
_RECONNECT = RetryPolicy(base=1.0, cap=4.0, jitter=False)


class SocketReader(threading.Thread):
    """Reads the task's frames and puts them on the queue; reconnects after a drop."""

    def __init__(self, url: str, token: str, events: queue.Queue[tuple[str, Any]],
                 config: SocketTimings) -> None:
        super().__init__(name="wiro-socket", daemon=True)
        self.url, self.token, self.events, self.config = url, token, events, config
        self.stopped = threading.Event()
        self._conn: Any = None
        self._lock = threading.Lock()

    def run(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        for attempt in range(1, self.config.socket_connects + 1):
            if self.stopped.is_set():
                return
            try:
                opened = connect(self.url, **connect_options(self.url, self.config))
            except Exception as err:  # refused, DNS, TLS, handshake: all mean "no socket"
                self.events.put(("socket_down", f"cannot connect: {type(err).__name__}"))
                return
            reason = "closed by the server"
            with opened as conn:
                with self._lock:
                    self._conn = conn
                if self.stopped.is_set():
                    return
                try:
                    conn.send(json.dumps({"type": "task_info", "tasktoken": self.token}))
                    self.events.put(("socket_up", attempt))
                    for message in conn:
                        self.events.put(("frame", message))
                except (ConnectionClosed, OSError) as err:
                    reason = f"dropped ({type(err).__name__})"
            if self.stopped.is_set():
                return
            self.events.put(("socket_down", reason))
            if self.stopped.wait(backoff_delay(attempt, _RECONNECT)):
                return

    def stop(self) -> None:
        self.stopped.set()
        with self._lock:
            conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def connect_options(url: str, config: SocketTimings) -> dict[str, Any]:
    """Keyword arguments for ``websockets.sync.client.connect`` on the installed version."""
    from websockets.sync.client import connect

    options: dict[str, Any] = {"open_timeout": config.socket_open_timeout,
                               "max_size": 16 * 1024 * 1024, "close_timeout": 2}
    # websockets >= 15 honours proxy settings from the environment; a local sandbox must
    # never be reached through a proxy. Older versions have no such parameter.
    if "proxy" in inspect.signature(connect).parameters and is_loopback_url(url):
        options["proxy"] = None
    return options


class Poller(threading.Thread):
    """Reads Task/Detail every ``interval`` seconds (or at once after `poke`)."""

    def __init__(self, detail: Callable[[], dict[str, Any]],
                 events: queue.Queue[tuple[str, Any]], interval: float,
                 cleanup: Callable[[], None] | None = None) -> None:
        super().__init__(name="wiro-poller", daemon=True)
        self.detail, self.events, self.cleanup = detail, events, cleanup
        self.interval = interval
        self.stopped = threading.Event()
        self._wake = threading.Event()

    def run(self) -> None:
        # A read in flight when the wait ends (a trickling server, a stalled socket) is cut
        # at once instead of holding this thread and its connection for minutes.
        with bounded(stop=self.stopped):
            try:
                while not self.stopped.is_set():
                    try:
                        self.events.put(("detail", self.detail()))
                    except Exception as err:  # reported to the caller's thread, which decides
                        self.events.put(("poll_error", err))
                    self._wake.wait(self.interval)
                    self._wake.clear()
            finally:
                if self.cleanup is not None:
                    self.cleanup()

    def poke(self, interval: float | None = None) -> None:
        if interval is not None:
            self.interval = interval
        self._wake.set()

    def stop(self) -> None:
        self.stopped.set()
        self._wake.set()
