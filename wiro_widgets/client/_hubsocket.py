"""One WebSocket following many tasks: every token subscribed on the same connection.

Wiro's task socket takes several ``task_info`` subscriptions on one connection and sends
each task's frames with its ``tasktoken``. `MultiSocket` keeps one connection for all the
tasks a `_hub.Hub` follows: a token added while connected is subscribed at once; after a
drop the connection is opened again (1, 2, 4 ... 30 s apart) and every token still followed
is subscribed again (the first frame of a subscription repeats the task's status, so
nothing is missed). It only puts events on the hub's queue: ``("frame", text)``,
``("socket_up", count)``, ``("socket_down", reason)``.

Example:
    >>> sock = MultiSocket("wss://socket.wiro.ai/v1", events, open_timeout=5.0)
    >>> sock.add("token-1"); sock.add("token-2")        # one connection, two tasks
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Callable
from typing import Any

from ..backoff import RetryPolicy, backoff_delay
from ..redaction import get_logger
from ._channels import SocketTimings, connect_options

__all__ = ["MultiSocket"]

log = get_logger("wiro_widgets")

#: Waits between reconnections: 1, 2, 4 ... at most 30 s.
_RECONNECT = RetryPolicy(base=1.0, cap=30.0, jitter=False)


class _Timings:
    def __init__(self, open_timeout: float) -> None:
        self.socket_open_timeout = open_timeout
        self.socket_connects = 1


class MultiSocket:
    """The connection's thread, its subscriptions, and the reconnection loop.

    Args:
        url: the WebSocket URL.
        events: where frames and up/down notes go.
        open_timeout: seconds to open the connection.
        wanted: which frames (their text) go on the queue; the others (step progress, the
            bulk of them) are dropped here, so the hub's dispatcher does not wake for them.
    """

    def __init__(self, url: str, events: queue.Queue[tuple[str, Any]],
                 open_timeout: float = 5.0,
                 wanted: Callable[[str | bytes], bool] | None = None) -> None:
        self.url = url
        self.events = events
        self._wanted = wanted
        self._timings: SocketTimings = _Timings(open_timeout)
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self._conn: Any = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, token: str) -> None:
        """Follow ``token`` (subscribed now when connected, else on connecting)."""
        with self._lock:
            self._tokens.add(token)
            conn = self._conn
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(target=self._run, name="wiro-hub-socket",
                                                daemon=True)
                self._thread.start()
        if conn is not None:
            self._subscribe(conn, [token])

    def discard(self, token: str) -> None:
        """Stop re-subscribing ``token`` after a reconnection (Wiro has no unsubscribe)."""
        with self._lock:
            self._tokens.discard(token)

    def stop(self) -> None:
        """Close the connection and end the thread."""
        self._stopped.set()
        with self._lock:
            conn = self._conn
            thread = self._thread
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        failures = 0
        while not self._stopped.is_set():
            try:
                opened = connect(self.url, **connect_options(self.url, self._timings))
            except Exception as err:  # refused, DNS, TLS, handshake: polling carries on
                failures += 1
                self.events.put(("socket_down", f"cannot connect: {type(err).__name__}"))
                if self._stopped.wait(backoff_delay(failures, _RECONNECT)):
                    return
                continue
            reason = "closed by the server"
            with opened as conn:
                with self._lock:
                    self._conn = conn
                    tokens = list(self._tokens)
                try:
                    self._subscribe(conn, tokens)
                    failures = 0
                    self.events.put(("socket_up", len(tokens)))
                    for message in conn:
                        if self._wanted is None or self._wanted(message):
                            self.events.put(("frame", message))
                except (ConnectionClosed, OSError) as err:
                    reason = f"dropped ({type(err).__name__})"
                finally:
                    with self._lock:
                        self._conn = None
            if self._stopped.is_set():
                return
            failures += 1
            self.events.put(("socket_down", reason))
            if self._stopped.wait(backoff_delay(failures, _RECONNECT)):
                return

    def _subscribe(self, conn: Any, tokens: list[str]) -> None:
        for token in tokens:
            try:
                conn.send(json.dumps({"type": "task_info", "tasktoken": token}))
            except Exception as err:  # the reader sees the drop and reconnects
                log.debug("socket: could not subscribe (%s)", type(err).__name__)
                return
