"""Fault mode: an answer (API or output file) sent one byte per N ms (issue 12). A per-read
socket timeout never fires against it, since a byte always arrives in time."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from .wire import Api


def _byte_times(response: requests.Response) -> tuple[bytes, list[float]]:
    body, times = b"", []
    for byte in response.iter_content(chunk_size=1):
        body += byte
        times.append(time.monotonic())
    return body, times


def test_an_api_answer_arrives_one_byte_at_a_time(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"trickle": ["Task/Detail"], "trickle_ms": 10})
    response = Api(sb).post("/Task/Detail", json={}, stream=True)
    body, times = _byte_times(response)
    assert int(response.headers["Content-Length"]) == len(body)
    assert json.loads(body)["errors"][0]["message"] == "taskid or socketaccesstoken is required"
    assert len(body) > 50
    assert times[-1] - times[0] >= 0.8 * 0.010 * (len(body) - 1)
    assert sb.requests[-1].fault == "trickle"


def test_a_read_timeout_never_fires_against_a_trickle(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"trickle": ["Task/List"], "trickle_ms": 40})
    started = time.monotonic()
    response = Api(sb).post("/Task/List", json={}, timeout=0.5)   # 0.5 s per read
    took = time.monotonic() - started
    assert response.json()["result"] is True
    assert took >= 0.9 * 0.040 * (len(response.content) - 1) > 1.0


def test_an_output_file_trickles(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    record = api.wait(api.run_ok(prompt="slow cdn", steps=1, width=64, height=64)[
        "socketaccesstoken"])
    url = record["outputs"][0]["url"]
    sb.set_faults({"trickle": ["output"], "trickle_ms": 20})
    started = time.monotonic()
    with requests.get(url, stream=True, timeout=5) as response:
        assert int(response.headers["Content-Length"]) == int(record["outputs"][0]["size"])
        head = response.raw.read(16)
    assert head.startswith(b"\x89PNG")
    assert time.monotonic() - started >= 0.8 * 0.020 * 15


def test_other_endpoints_answer_at_once(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"trickle": ["output"], "trickle_ms": 1000})
    started = time.monotonic()
    assert Api(sb).post("/Task/Detail", json={}).json()["result"] is False
    assert time.monotonic() - started < 1.0


def test_stop_cuts_a_trickle_short(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"trickle": ["Task/Detail"], "trickle_ms": 1000})
    parts = urlsplit(sb.base_url)
    received = bytearray()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        api = Api(sb)
        headers = "".join(f"{k}: {v}\r\n" for k, v in api.creds.headers().items())
        conn.sendall(f"POST /v1/Task/Detail HTTP/1.1\r\nHost: {parts.netloc}\r\n{headers}"
                     "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".encode())
        while b"\r\n\r\n" not in received:
            received += conn.recv(1)
        threading.Timer(0.3, sb.stop).start()
        started = time.monotonic()
        while chunk := conn.recv(1024):
            received += chunk
        assert time.monotonic() - started < 3.0
    assert len(received.split(b"\r\n\r\n", 1)[1]) < 10
