"""HTTP answers that go wrong on purpose: the `Faults` that act on a whole response.

Before an endpoint runs: latency, the ``error_rate`` kinds (500, 429, garbled JSON, a dropped
connection, a stall) and redirects to another host. After it ran: a gateway's 504 page for
an accepted Run, and trickling (the body one byte at a time). Endpoint-specific faults (a
lost Run, refused Kills, late listing, hostile outputs ...) live with their endpoint.

Example:
    >>> early = before_answer(request, record, dice, other_host="http://127.0.0.2:5000")
    >>> response = early or endpoint(request)
    >>> if "Task/Detail" in faults.trickle:
    ...     response = trickled(response, 0.5, stopping)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from werkzeug.wrappers import Request, Response

from .answers import RequestRecord, drop, envelope
from .faults import FaultDice

__all__ = ["GATEWAY_TIMEOUT_PAGE", "before_answer", "endpoint_of", "gateway_timeout",
           "trickled"]

#: What a gateway in front of an API answers when the backend is slow: HTML, not an envelope.
GATEWAY_TIMEOUT_PAGE = (
    "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    "<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_GARBLED = '{"result": true, "errors": [], "taskid": "12\x00'
#: Bodies larger than this are never trickled (a 2 GB stream would take weeks).
_MAX_TRICKLE_BYTES = 64 << 20


def endpoint_of(method: str, path: str) -> str | None:
    """The `faults.ENDPOINTS` name of a request, or None (an unknown path).

    Example:
        >>> endpoint_of("POST", "/v1/Run/black-forest-labs/flux-2-flex")
        'Run'
        >>> endpoint_of("GET", "/cdn/ab-cd/0.png")
        'output'
    """
    if method in ("GET", "HEAD"):
        if path.startswith("/cdn/"):
            return "output"
        return "file" if path.startswith("/v1/File/") else None
    segments = path.split("/")
    if len(segments) < 4 or segments[1] != "v1":
        return None
    return "Run" if segments[2] == "Run" else "/".join(segments[2:4])


def before_answer(request: Request, record: RequestRecord, dice: FaultDice, *,
                  other_host: str | None) -> Response | None:
    """The faulty answer that replaces this request's real one, or None to answer it.

    Sleeps for ``latency`` and ``stall`` faults, and raises `answers.Dropped` for ``drop``.
    """
    faults = dice.faults
    if faults.latency:
        time.sleep(faults.latency)
    endpoint = endpoint_of(request.method, request.path)
    if endpoint in faults.redirect and other_host is not None:
        record.fault = "redirect"
        raw = str(request.environ.get("REQUEST_URI") or request.full_path.rstrip("?"))
        response = Response("", status=faults.redirect_status, content_type="text/html")
        response.headers["Location"] = other_host + raw
        return response
    fault = dice.http_fault()
    record.fault = fault
    if fault == "stall":
        time.sleep(faults.stall_seconds)
    elif fault == "drop":
        drop(request.environ)
    elif fault == "500":
        return envelope(0, "Internal server error (sandbox fault injection).", 500)
    elif fault == "429":
        response = envelope(0, "Too many requests (sandbox fault injection).", 429)
        response.headers["Retry-After"] = str(faults.retry_after)
        return response
    elif fault == "garbled":
        return Response(_GARBLED, status=200, content_type="application/json; charset=utf-8")
    return None


def gateway_timeout() -> Response:
    """A gateway's 504 page (HTML, no Wiro envelope)."""
    return Response(GATEWAY_TIMEOUT_PAGE, status=504, content_type="text/html")


def trickled(response: Response, interval: float, stopping: threading.Event) -> Response:
    """The same answer, its body sent one byte every ``interval`` seconds.

    ``Content-Length`` stays exact, so a client waits for every byte. The trickle stops (the
    connection is closed short) when ``stopping`` is set or the client hangs up.
    """
    if response.is_streamed and (response.content_length or 0) > _MAX_TRICKLE_BYTES:
        return response
    response.direct_passthrough = False
    body = response.get_data()
    if len(body) > _MAX_TRICKLE_BYTES:
        return response

    def one_byte_at_a_time() -> Iterator[bytes]:
        for index in range(len(body)):
            if index and stopping.wait(interval):
                return
            yield body[index:index + 1]

    slow = Response(one_byte_at_a_time(), status=response.status_code,
                    headers=response.headers, direct_passthrough=True)
    slow.headers["Content-Length"] = str(len(body))
    return slow
