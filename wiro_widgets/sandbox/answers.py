"""What the sandbox's HTTP side answers with: Wiro's envelopes, refusals, a hung-up connection,
and the record it keeps of each request.

Example:
    >>> envelope(1, "There is no task yet.").get_json()
    {'result': False, 'errors': [{'code': 1, 'message': 'There is no task yet.'}]}
    >>> ok(taskid="2221").get_json()["taskid"]
    '2221'
"""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass, field
from typing import Any, NoReturn

from werkzeug.wrappers import Response

__all__ = ["ApiFailure", "Dropped", "RequestRecord", "drop", "envelope", "json_response", "ok"]


@dataclass
class RequestRecord:
    """One HTTP request the sandbox received (never its auth headers).

    Attributes:
        method, path: as received (path without the query string).
        content_type: the ``Content-Type`` header.
        parts: multipart or urlencoded fields: ``(name, filename | None, content_type |
            None, size)``.
        json: the parsed JSON body, when there was one.
        time: Unix time received.
        status: the HTTP status answered (None: connection dropped, or still running).
        fault: the injected fault kind (``500``, ``429``, ``garbled``, ``drop``, ``stall``,
            ``lost_run``, ``run_504``, ``redirect``, ``trickle``), if any.
        other_host: received by the other host a redirect pointed to (``sb.other_host``).
    """

    method: str
    path: str
    content_type: str
    parts: list[tuple[str, str | None, str | None, int]] = field(default_factory=list)
    json: dict[str, Any] | None = None
    time: float = 0.0
    status: int | None = None
    fault: str | None = None
    other_host: bool = False

    def copy(self) -> RequestRecord:
        """A deep copy (the sandbox keeps filling in its own record)."""
        data = json.loads(json.dumps(self.json)) if self.json is not None else None
        return RequestRecord(self.method, self.path, self.content_type, list(self.parts),
                             data, self.time, self.status, self.fault, self.other_host)


class ApiFailure(Exception):
    """An answer with ``result: false``: Wiro's error code and message, and HTTP status."""

    def __init__(self, code: int, message: str, *, http_status: int = 200,
                 headers: dict[str, str] | None = None) -> None:
        self.code, self.message, self.http_status = code, message, http_status
        self.headers = headers or {}
        super().__init__(message)


class Dropped(ConnectionAbortedError):
    """Raised to make werkzeug give up the connection without writing a response."""


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    """A JSON answer."""
    return Response(json.dumps(payload), status=status,
                    content_type="application/json; charset=utf-8")


def envelope(code: int, message: str, status: int = 200) -> Response:
    """Wiro's failure envelope."""
    return json_response({"result": False, "errors": [{"code": code, "message": message}]},
                         status)


def ok(**payload: Any) -> Response:
    """Wiro's success envelope with ``payload`` at the top level."""
    return json_response({"result": True, "errors": [], **payload})


def drop(environ: dict[str, Any]) -> NoReturn:
    """Close the client's connection with no HTTP response at all."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise Dropped("sandbox fault: connection dropped")
