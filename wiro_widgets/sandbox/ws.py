"""The sandbox's WebSocket server (``ws://127.0.0.1:<port>/v1``), as Wiro's socket behaves.

A client subscribes with ``{"type": "task_info", "tasktoken": "<socketaccesstoken>"}``
(several tokens per connection are fine, there is no unsubscribe, unknown frame types are
ignored). It then gets one frame ``{type, id, tasktoken, message, result}`` per status
change. On subscribing, the first frame repeats the task's current status (a finished task
sends its terminal frame at once), so late subscribers are never left waiting. Unknown
tokens get no frames. Nothing is sent before a subscription: Wiro documents a
``{"type": "connected", "version": "1.0"}`` welcome only for its agent socket
(agent-websocket.md) and none on websocket.md, the task socket's page, so the sandbox sends
none (a client must not wait for one).

Frames carry no ``pexit``: ``task_postprocess_end`` (outputs array; ``[]`` on failure) and
``task_cancel`` end a task. ``task_error`` frames are stderr lines (``task_error_full``
repeats them all once); only under ``Faults(task_error_status=True)`` does a task end at
Task/Detail status ``task_error``, its last frame a ``task_error``.

Each connection has a sender thread fed by a queue, so a slow client never slows a task.

Example:
    >>> server = SocketServer(engine, "127.0.0.1", 0, lambda: dice)
    >>> server.start(); server.url
    'ws://127.0.0.1:54321/v1'
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from ..redaction import get_logger
from .engine import Engine
from .faults import FaultDice

__all__ = ["SocketServer"]

_log = get_logger("wiro_widgets.sandbox")


class SocketServer:
    """A websockets sync server on its own port, run by a daemon thread."""

    def __init__(self, engine: Engine, host: str, port: int,
                 dice: Callable[[], FaultDice]) -> None:
        self.engine = engine
        self._dice = dice
        self._server = serve(self._handle, host, port, compression=None, max_size=1 << 20,
                             logger=get_logger("wiro_widgets.sandbox.websocket"))
        self.port: int = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="sandbox-websocket")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close every connection (code 1001) and stop accepting; waits for the threads."""
        self._server.shutdown()
        self._thread.join(timeout=5)

    def _handle(self, connection: ServerConnection) -> None:
        outbox: queue.Queue[dict[str, Any] | None] = queue.Queue()

        def listener(frame: dict[str, Any]) -> None:
            outbox.put(frame)

        sender = threading.Thread(target=self._send_loop, args=(connection, outbox),
                                  daemon=True, name="sandbox-websocket-sender")
        sender.start()
        try:
            for message in connection:
                token = _subscription(message)
                if token is not None:
                    self.engine.subscribe(token, listener)
        except ConnectionClosed:
            pass
        finally:
            self.engine.unsubscribe(listener)
            outbox.put(None)
            sender.join(timeout=5)

    def _send_loop(self, connection: ServerConnection,
                   outbox: queue.Queue[dict[str, Any] | None]) -> None:
        while True:
            frame = outbox.get()
            if frame is None:
                return
            if self._dice().drop_socket():
                _abort(connection)
                return
            try:
                connection.send(json.dumps(frame))
            except ConnectionClosed:
                return


def _subscription(message: str | bytes) -> str | None:
    """The token of a ``task_info`` frame; None for anything else (ignored)."""
    if not isinstance(message, str):
        return None
    try:
        data = json.loads(message)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "task_info":
        return None
    token = data.get("tasktoken")
    return token if isinstance(token, str) and token else None


def _abort(connection: ServerConnection) -> None:
    """Drop the TCP connection with no close frame, as a network failure would."""
    with contextlib.suppress(OSError):
        connection.socket.shutdown(socket.SHUT_RDWR)
