"""The "other host" a redirect fault points to: a second HTTP server on another loopback
address, which records every request's headers, then answers as the sandbox would.

A client that follows a redirect to another host with its ``x-api-key``, ``x-nonce`` and
``x-signature`` leaks them; the record shows whether it did. Answering as the sandbox (the
same project, the same tasks) lets a client that follows the redirect see the consequence:
with credentials a Run is accepted there, without them it is refused with 401.

It listens on ``127.0.0.2`` (all of ``127/8`` is loopback on Linux). Where that address
cannot be bound (macOS by default), it listens on ``127.0.0.1`` and is named ``localhost`` in
its URL: still another host name to any client.

Example:
    >>> sb.set_faults({"redirect": ["Run"]})
    >>> client.run(...)                          # answered 307 -> sb.other_host.root
    >>> sb.other_host.requests[0].headers.get("x-api-key")   # None when nothing leaked
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = ["OTHER_HOST_FLAG", "OtherHost", "OtherHostRequest"]

#: Set in the WSGI environ of requests received by the other host, so the sandbox's app
#: answers them without redirecting again.
OTHER_HOST_FLAG = "wiro_widgets.sandbox.other_host"
_MAX_RECORDS = 500

WsgiApp = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class OtherHostRequest:
    """One request the other host received.

    Attributes:
        method, path: as received (path without the query string).
        host: the ``Host`` header.
        headers: every header, lower-case names (kept out of the repr: they may hold the
            sandbox project's key and signature).
        time: Unix time received.
    """

    method: str
    path: str
    host: str
    headers: dict[str, str] = field(repr=False)
    time: float


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class OtherHost:
    """A second loopback server in front of the sandbox's app, recording what it receives.

    Args:
        app: the sandbox's WSGI app (answers every request the other host records).
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._records: list[OtherHostRequest] = []
        self._server, name = _bind(self._wsgi)
        self.root = f"http://{name}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name="sandbox-other-host")
        self._thread.start()

    @property
    def requests(self) -> list[OtherHostRequest]:
        """What it received, oldest first (the last 500 requests)."""
        with self._lock:
            return list(self._records)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        headers = {key[5:].replace("_", "-").lower(): str(value)
                   for key, value in environ.items() if key.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = str(environ[key])
        record = OtherHostRequest(str(environ.get("REQUEST_METHOD", "")),
                                  str(environ.get("PATH_INFO", "")),
                                  headers.get("host", ""), headers, time.time())
        with self._lock:
            self._records.append(record)
            del self._records[:-_MAX_RECORDS]
        environ[OTHER_HOST_FLAG] = True
        return self._app(environ, start_response)


def _bind(app: WsgiApp) -> tuple[BaseWSGIServer, str]:
    try:
        return make_server("127.0.0.2", 0, app, threaded=True, request_handler=_Quiet), \
            "127.0.0.2"
    except OSError:
        return make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet), \
            "localhost"
