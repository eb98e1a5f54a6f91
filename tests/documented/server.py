"""A small scriptable server that answers with Wiro's documented examples, byte for byte.

It is independent of the package's sandbox on purpose: the sandbox misbehaves only in the ways
its authors thought of, and was written by the same hands as the client. This server knows
nothing of tasks; each endpoint answers from a *script*, a list of `Step`s consumed one per
request (the last one repeats). A step serves a documented example (``examples/``) or any
other body, with a status, headers and a delay, or misbehaves as networks and gateways do:
drops the connection after reading the request, trickles the body a byte at a time, or
redirects elsewhere. Every request is recorded, so tests can assert what the client sent.

Unscripted API paths answer HTTP 404 with the documented "Error parsing url." envelope, and a
GET of an output path (the documented ``https://cdn1.wiro.ai/.../0.png``, pointed here) gets a
real PNG of the documented size.

Example:
    >>> with DocumentedServer() as server:
    ...     server.script("/Run/black-forest-labs/flux-2-flex", "run.json")
    ...     server.script("/Task/Detail", Step("task-detail-running.json"),
    ...                   "task-detail-succeeded.json")
    ...     server.socket.script("frame-task-queue.json", "frame-task-postprocess-end.json")
    ...     client = WiroClient("key", "secret", server.base_url, server.socket_url)
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .examples import DOCUMENTED_OUTPUT_SIZE, content_type, padded_png, render
from .socket_server import DocumentedSocket

__all__ = ["DocumentedServer", "RecordedRequest", "Step"]


@dataclass(frozen=True)
class Step:
    """One scripted answer.

    Attributes:
        example: a file of ``examples/`` to serve (output host rewritten to this server).
        status: the HTTP status.
        headers: extra response headers (they win over the defaults).
        body: a literal body instead of an example (a gateway page, an image).
        delay: seconds to wait before answering.
        drop: read the request, then close the connection without a word.
        trickle: send the body one byte every ``trickle`` seconds.
        redirect: answer with this ``Location`` (status 307 unless ``status`` is a 3xx).
        until: serve this step again and again while it returns False; once it returns
            True, move on to the next step.
        chunked: send the body with ``Transfer-Encoding: chunked``, declaring no size.
        length: the ``Content-Length`` to declare instead of the body's real size (a lie:
            the connection is closed after the body).
    """

    example: str | None = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay: float = 0.0
    drop: bool = False
    trickle: float | None = None
    redirect: str | None = None
    until: Callable[[], bool] | None = None
    chunked: bool = False
    length: int | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server read it.

    Attributes:
        method: ``POST`` or ``GET``.
        path: the full path, e.g. ``/v1/Task/Detail``.
        headers: header names in lower case.
        body: the raw body.
        host: the address of the server that received it.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    host: str

    @property
    def endpoint(self) -> str:
        """The path without the ``/v1`` API prefix (``/Task/Detail``)."""
        return self.path[3:] if self.path.startswith("/v1/") else self.path

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class DocumentedServer:
    """HTTP (and, via `socket`, WebSocket) on free ports of a loopback address.

    Args:
        host: the address to listen on; another loopback address (``127.0.0.2``) makes an
            "other host" for redirect tests.
        output_size: bytes of the PNG served for output URLs.
    """

    def __init__(self, host: str = "127.0.0.1", *,
                 output_size: int = DOCUMENTED_OUTPUT_SIZE) -> None:
        self.host = host
        self.png = padded_png(output_size)
        self.stopped = threading.Event()
        self.socket = DocumentedSocket(host, origin=lambda: self.origin)
        self._scripts: dict[str, list[Step]] = {}
        self._positions: dict[str, int] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life -----------------------------------------------------------------------------
    def start(self) -> DocumentedServer:
        self._httpd = _HTTPServer((self.host, 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name="documented-http", daemon=True)
        self._thread.start()
        self.socket.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        self.socket.stop()

    def __enter__(self) -> DocumentedServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        """``http://host:port``."""
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        """The API root, ``http://host:port/v1``."""
        return self.origin + "/v1"

    @property
    def socket_url(self) -> str:
        return self.socket.url

    # -- scripts and records --------------------------------------------------------------
    def script(self, endpoint: str, *steps: Step | str) -> None:
        """Answer ``endpoint`` (``/Task/Detail``, or an output path) with ``steps`` in order;
        a string is ``Step(example=string)``. Replaces any earlier script of the endpoint."""
        if not steps:
            raise ValueError("a script needs at least one step")
        with self._lock:
            self._scripts[endpoint] = [s if isinstance(s, Step) else Step(s) for s in steps]
            self._positions[endpoint] = 0

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        """The requests received for one endpoint (``/Task/Detail``)."""
        return [r for r in self.requests if r.endpoint == endpoint]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_step(self, endpoint: str) -> Step | None:
        with self._lock:
            steps = self._scripts.get(endpoint)
            if not steps:
                return None
            index = self._positions[endpoint]
            while index < len(steps) - 1 and _satisfied(steps[index].until):
                index += 1
            step = steps[index]
            if step.until is None and index < len(steps) - 1:
                index += 1
            self._positions[endpoint] = index
            return step

    def _default_step(self, method: str, path: str) -> Step:
        if path.startswith("/v1/"):
            return Step("error-unknown-endpoint.json", status=404)
        if method == "GET" and path.lower().endswith(".png"):
            return Step(body=self.png, headers={"Content-Type": "image/png"})
        return Step(status=404, body=b"not found", headers={"Content-Type": "text/plain"})


def _satisfied(until: Callable[[], bool] | None) -> bool:
    return until is not None and until()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: DocumentedServer


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, records it and answers with the endpoint's next step."""

    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests read the records instead

    def _answer(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        path = urlsplit(self.path).path
        request = RecordedRequest(self.command, path,
                                  {k.lower(): v for k, v in self.headers.items()},
                                  body, owner.host)
        owner._record(request)
        step = owner._next_step(request.endpoint) or owner._default_step(self.command, path)
        self._perform(step, owner)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass  # trailers, up to the blank line
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _perform(self, step: Step, owner: DocumentedServer) -> None:
        if step.delay and owner.stopped.wait(step.delay):
            step = Step(drop=True)
        if step.drop:
            self._hang_up()
            return
        body, headers = self._content(step, owner)
        status = step.status
        if step.redirect is not None:
            status = status if 300 <= status < 400 else 307
            headers["Location"] = step.redirect
        self.send_response(status)
        if step.chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(len(body) if step.length is None else step.length)
            self.close_connection = self.close_connection or step.length is not None
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if step.chunked:
            self._write_chunked(body)
            return
        if step.trickle is None:
            with contextlib.suppress(OSError):
                self.wfile.write(body)
            return
        for index in range(len(body)):
            if owner.stopped.wait(step.trickle if index else 0.0):
                self._hang_up()
                return
            try:
                self.wfile.write(body[index:index + 1])
                self.wfile.flush()
            except OSError:
                self.close_connection = True
                return

    def _write_chunked(self, body: bytes, size: int = 16 * 1024) -> None:
        try:
            for start in range(0, len(body), size):
                piece = body[start:start + size]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True

    def _content(self, step: Step, owner: DocumentedServer) -> tuple[bytes, dict[str, str]]:
        headers: dict[str, str] = {}
        if step.body is not None:
            body = step.body
        elif step.example is not None:
            body = render(step.example, owner.origin).encode("utf-8")
            headers["Content-Type"] = content_type(step.example)
        else:
            body = b""
        headers.update(step.headers)
        return body, headers

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
