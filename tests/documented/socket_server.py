"""The WebSocket side of the documented-examples server: plays a scripted list of frames.

A client connects, subscribes with ``{"type": "task_info", "tasktoken": ...}``, and receives
the scripted frames in order, each one the text of a documented frame (see
``examples.render`` and ``examples.expand_token`` for the only rewrites). The connection is
then held open until the client leaves, as a real server would between tasks.

Example:
    >>> sock = DocumentedSocket("127.0.0.1", origin=lambda: "http://127.0.0.1:8000").start()
    >>> sock.script("frame-task-queue.json", Frame("frame-task-end.json", delay=0.5))
    >>> sock.url
    'ws://127.0.0.1:40123/v1'
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from .examples import expand_token, render

__all__ = ["DocumentedSocket", "Frame"]


@dataclass(frozen=True)
class Frame:
    """One scripted frame.

    Attributes:
        example: a file of ``examples/`` (a documented frame).
        delay: seconds to wait before sending it.
    """

    example: str
    delay: float = 0.05


class DocumentedSocket:
    """A WebSocket server on a free port that plays scripted frames to each subscriber.

    Args:
        host: the loopback address to listen on.
        origin: gives the HTTP server's origin (where output URLs are pointed).

    Attributes:
        played: set once a subscriber has received every scripted frame.
    """

    def __init__(self, host: str, origin: Callable[[], str]) -> None:
        self.host = host
        self._origin = origin
        self._frames: tuple[Frame, ...] = ()
        self._messages: list[Any] = []
        self._connections: set[ServerConnection] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.played = threading.Event()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``ws://host:port/v1``."""
        if self._server is None:
            raise RuntimeError("the socket server is not started")
        return f"ws://{self.host}:{self._server.socket.getsockname()[1]}/v1"

    @property
    def messages(self) -> list[Any]:
        """Every message a client sent, parsed as JSON where it could be."""
        with self._lock:
            return list(self._messages)

    def script(self, *frames: Frame | str) -> None:
        """Frames to play to each subscriber from now on (a string is ``Frame(string)``)."""
        with self._lock:
            self._frames = tuple(f if isinstance(f, Frame) else Frame(f) for f in frames)
        self.played.clear()

    def start(self) -> DocumentedSocket:
        self._server = serve(self._handle, self.host, 0)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="documented-socket", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(Exception):
                connection.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _handle(self, connection: ServerConnection) -> None:
        with self._lock:
            self._connections.add(connection)
        try:
            token = self._subscription(connection)
            if token is None:
                return
            with self._lock:
                frames = self._frames
            for frame in frames:
                if self._stopped.wait(frame.delay):
                    return
                connection.send(expand_token(render(frame.example, self._origin()), token))
            self.played.set()
            for message in connection:  # held open until the client leaves
                self._note(message)
        except ConnectionClosed:
            return
        finally:
            with self._lock:
                self._connections.discard(connection)

    def _subscription(self, connection: ServerConnection) -> str | None:
        """Read messages until a ``task_info`` subscription; its token (None if closed)."""
        for message in connection:
            parsed = self._note(message)
            if isinstance(parsed, dict) and parsed.get("type") == "task_info":
                return str(parsed.get("tasktoken") or "")
        return None

    def _note(self, message: str | bytes) -> Any:
        try:
            parsed: Any = json.loads(message)
        except ValueError:
            parsed = message
        with self._lock:
            self._messages.append(parsed)
        return parsed
