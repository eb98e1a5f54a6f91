"""The sandbox as a server: many concurrent clients, malformed and oversized bodies, wrong
content types and unknown paths are each answered with the envelope, and it keeps serving
without leaving spooled files behind."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from .wire import Api, assert_envelope, png_bytes

CAP = 200_000


def _request(sb: Any, api: Api, kind: str, index: int) -> tuple[str, requests.Response]:
    if kind == "detail":
        return kind, api.post("/Task/Detail", json={"taskid": str(index)})
    if kind == "bad_json":
        return kind, api.post("/Task/Detail", data=b"{nope",
                              headers={"Content-Type": "application/json"})
    if kind == "wrong_type":
        return kind, api.run(data=b"\x00garbage", headers={"Content-Type": "text/csv"})
    if kind == "unknown_path":
        return kind, api.post(f"/Task/Nothing{index}", json={})
    if kind == "too_big":
        return kind, api.run(files=[("inputImage", ("big.png", b"\0" * (CAP + 1000)))])
    if kind == "bad_multipart":
        return kind, api.run(data=b"--B\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nx",
                             headers={"Content-Type": "multipart/form-data; boundary=B"})
    if kind == "invalid_run":
        return kind, api.run(json={"prompt": "x", "steps": 99})
    if kind == "upload":
        return kind, api.post("/File/Upload", files={"file": ("a.png", png_bytes())})
    if kind == "no_auth":
        return kind, requests.post(sb.base_url + "/Task/Detail", json={}, timeout=15)
    return kind, requests.get(sb.base_url.removesuffix("/v1") + f"/cdn/x{index}/0.png",
                              timeout=15)


EXPECTED = {
    "detail": (200, 1), "bad_json": (200, 0), "wrong_type": (200, 0), "unknown_path": (404, 0),
    "too_big": (413, 0), "bad_multipart": (200, 0), "invalid_run": (200, 0),
    "no_auth": (401, 0), "missing_file": (404, 0),
}
KINDS = [*EXPECTED, "upload"]


def test_200_concurrent_mixed_requests(make_sandbox: Any) -> None:
    sb = make_sandbox(max_body_bytes=CAP)
    api = Api(sb)
    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(lambda i: _request(sb, api, KINDS[i % len(KINDS)], i),
                                range(200)))
    assert len(results) == 200
    for kind, response in results:
        assert response.headers.get("x-wiro-sandbox") == "1", kind
        if kind == "upload":
            assert response.json()["result"] is True
        else:
            status, code = EXPECTED[kind]
            assert_envelope(response, status, code)
    # Still serving normally, and every spooled upload part was cleaned up.
    assert api.run_ok(steps=1)["taskid"]
    assert list(sb.data_dir.joinpath("tmp").iterdir()) == []


def test_chunked_bodies_within_and_over_the_cap(make_sandbox: Any) -> None:
    sb = make_sandbox(max_body_bytes=CAP)
    api = Api(sb)

    def chunks(total: int) -> Any:
        yield b'{"prompt": "chunked", "steps": 1, "pad": "'
        sent = 0
        while sent < total:
            yield b"x" * 10_000
            sent += 10_000
        yield b'"}'

    small = api.run(data=chunks(20_000), headers={"Content-Type": "application/json"})
    assert small.json()["result"] is True
    big = api.run(data=chunks(CAP * 2), headers={"Content-Type": "application/json"})
    assert_envelope(big, 413, 0)


def test_raw_garbage_on_the_socket_does_not_stop_the_server(make_sandbox: Any) -> None:
    sb = make_sandbox()
    host, port = sb.base_url.split("://", 1)[1].split("/", 1)[0].split(":")
    for garbage in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"GET\r\n\r\n",
                    b"POST /v1/Task/Detail HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"ta"):
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(garbage)
            raw.shutdown(socket.SHUT_WR)
            raw.settimeout(5)
            try:
                while raw.recv(65536):
                    pass
            except OSError:
                pass
    assert_envelope(Api(sb).post("/Task/Detail", json={}), 200, 0)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_api_paths_are_404(sandbox: Any, method: str) -> None:
    response = requests.request(method, sandbox.base_url + "/Task/Detail", timeout=10)
    assert_envelope(response, 404, 0, "Error parsing url.")


@pytest.mark.parametrize("path", ["/v1/run/black-forest-labs/flux-2-flex", "/v1/Task/Detail/",
                                  "/v1/Run/black-forest-labs", "/v1/Run//flux-2-flex",
                                  "/Task/Detail", "/v2/Task/Detail"])
def test_unknown_paths_are_404_error_parsing_url(sandbox: Any, path: str) -> None:
    api = Api(sandbox)
    url = sandbox.base_url.removesuffix("/v1") + path
    response = requests.post(url, headers=api.creds.headers(), json={}, timeout=10)
    assert_envelope(response, 404, 0, "Error parsing url.")
