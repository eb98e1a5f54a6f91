"""The sandbox as a server under abuse: malformed multipart, wrong content types, oversized
bodies, path traversal in file URLs (several encodings), and a flood of 200 concurrent
requests. Each gets Wiro's envelope (``{"result": false, "errors": [{"code", "message"}]}``
with the documented status: 200, 401, 404 or 413; never a 500 or a dropped connection), no
file outside the sandbox's store is ever served, and the server keeps serving: a normal run
succeeds afterwards.

Requests are signed, so each probe reaches the body parser rather than stopping at the auth
check; traversal paths go out raw through ``http.client`` (``requests`` would normalize them).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from shared_helpers import encoded

from wiro_widgets.auth import Credentials
from wiro_widgets.sandbox import Sandbox

from . import tally
from .helpers import MODEL, SMALL

CAP = 300_000
SECRET_TEXT = "server-side secret file: must never be served"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("sandbox-root")
    # Files a traversal would reach: beside and above the sandbox's store.
    (root / "secret.txt").write_text(SECRET_TEXT)
    (root / "data" / "files").mkdir(parents=True)
    (root / "data" / "secret.txt").write_text(SECRET_TEXT)
    with Sandbox(speed=40.0, max_body_bytes=CAP, data_dir=root / "data",
                 concurrency_limit=None) as sb:
        yield sb


def _post(sb: Sandbox, path: str, *, data: Any = None, content_type: str | None = None,
          json_body: Any = None, files: Any = None, auth: bool = True) -> requests.Response:
    headers = dict(Credentials(sb.api_key, sb.api_secret).headers()) if auth else {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return requests.post(sb.base_url + path, data=data, json=json_body, files=files,
                         headers=headers, timeout=20)


def _envelope(status: int, body: bytes, headers: Any, expected: tuple[int, ...]) -> dict[str, Any]:
    """The documented failure envelope with one of the ``expected`` statuses."""
    assert status in expected, (status, body[:300])
    assert headers.get("x-wiro-sandbox") == "1"
    parsed = json.loads(body)
    assert parsed["result"] is False, parsed
    (error,) = parsed["errors"]
    assert set(error) == {"code", "message"}
    assert isinstance(error["code"], int)
    assert isinstance(error["message"], str)
    assert error["message"]
    return dict(error)


def _count(kind: str) -> None:
    tally.add("server probes")
    tally.add(f"server probes {kind}")


def _multipart(*parts: bytes, boundary: bytes = b"XyZ") -> bytes:
    return b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts) + \
        b"--" + boundary + b"--\r\n"


def _field(name: str, value: bytes) -> bytes:
    return b'Content-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + value


PNG = encoded()
MULTIPART = "multipart/form-data; boundary=XyZ"

#: name -> (data, content type, expected statuses)
MALFORMED: dict[str, tuple[bytes, str, tuple[int, ...]]] = {
    "no boundary parameter": (_multipart(_field("prompt", b"x")), "multipart/form-data",
                              (200,)),
    "boundary that never appears": (_multipart(_field("prompt", b"x"), boundary=b"Other"),
                                    MULTIPART, (200,)),
    "no closing boundary": (b"--XyZ\r\n" + _field("prompt", b"a fox"), MULTIPART, (200,)),
    "garbage bytes": (bytes(range(256)) * 4, MULTIPART, (200,)),
    "part without headers": (b"--XyZ\r\n\r\nvalue\r\n--XyZ--\r\n", MULTIPART, (200,)),
    "header line without a colon": (b"--XyZ\r\nContent-Disposition form-data\r\n\r\nx\r\n"
                                    b"--XyZ--\r\n", MULTIPART, (200,)),
    "part without a name": (_multipart(b"Content-Disposition: form-data\r\n\r\nx"), MULTIPART,
                            (200,)),
    "file part, not an image": (_multipart(
        b'Content-Disposition: form-data; name="inputImage"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n%PDF-1.7 not an image", _field("prompt", b"x")),
        MULTIPART, (200,)),
    "1001 parts": (_multipart(*[_field(f"f{i}", b"v") for i in range(1001)]), MULTIPART,
                   (200, 413)),
    "number fields that are not numbers": (_multipart(_field("prompt", b"x"),
                                                      _field("steps", b"1e999"),
                                                      _field("width", b"0x40")), MULTIPART,
                                           (200,)),
}

WRONG_TYPES: dict[str, tuple[bytes, str]] = {
    "XML": (b"<run><prompt>x</prompt></run>", "application/xml"),
    "CSV": (b"prompt,steps\nx,2\n", "text/csv"),
    "octet-stream": (b"\x00\x01\x02", "application/octet-stream"),
    "a PNG as the whole body": (PNG, "image/png"),
    "JSON that is an array": (b'[{"prompt": "x"}]', "application/json"),
    "JSON that is a string": (b'"prompt"', "application/json"),
    "invalid JSON": (b'{"prompt": "x",', "application/json"),
    "JSON in UTF-16": ('{"prompt": "x"}'.encode("utf-16"), "application/json"),
    "urlencoded, bad percent escapes": (b"prompt=%zz&steps=%", "application/x-www-form-urlencoded"),
    "a content type with odd parameters": (b'{"prompt": ', "application/json; charset=klingon"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_multipart(server: Sandbox, name: str) -> None:
    data, content_type, expected = MALFORMED[name]
    response = _post(server, f"/Run/{MODEL}", data=data, content_type=content_type)
    _envelope(response.status_code, response.content, response.headers, expected)
    _count("malformed multipart")


def test_invalid_utf8_in_a_text_part_is_replaced_not_fatal(server: Sandbox) -> None:
    """Like a lenient server: the bytes become U+FFFD and the Run is accepted."""
    data = _multipart(_field("prompt", b"a fox \xff\xfe\xc0\xaf"), _field("steps", b"2"),
                      _field("width", b"64"), _field("height", b"64"))
    response = _post(server, f"/Run/{MODEL}", data=data, content_type=MULTIPART)
    body = response.json()
    assert body["result"] is True, body
    (task,) = [t for t in server.tasks if t.id == body["taskid"]]
    assert task.params["prompt"].startswith("a fox \ufffd")
    _count("malformed multipart")


@pytest.mark.parametrize("name", list(WRONG_TYPES))
@pytest.mark.parametrize("path", [f"/Run/{MODEL}", "/Task/Detail", "/File/Upload"])
def test_wrong_content_types(server: Sandbox, name: str, path: str) -> None:
    data, content_type = WRONG_TYPES[name]
    response = _post(server, path, data=data, content_type=content_type)
    _envelope(response.status_code, response.content, response.headers, (200,))
    _count("wrong content type")


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"prompt": "chunked", "pad": "'
    for _ in range(total // 50_000):
        yield b"x" * 50_000
    yield b'"}'


OVERSIZED: dict[str, dict[str, Any]] = {
    "JSON over the cap": {"data": b'{"prompt": "' + b"x" * (CAP + 10) + b'"}',
                          "content_type": "application/json"},
    "chunked JSON over the cap": {"data": _chunks(CAP * 3), "content_type": "application/json"},
    "a file over the cap": {"files": [("inputImage", ("big.png", PNG + b"\0" * CAP))],
                            "data": {"prompt": "x"}},
    "many files over the cap together": {
        "files": [("inputImage", (f"{i}.png", PNG + b"\0" * (CAP // 8))) for i in range(10)],
        "data": {"prompt": "x"}},
    "an upload over the cap": {"files": [("file", ("big.png", PNG + b"\0" * CAP))]},
}


@pytest.mark.parametrize("name", list(OVERSIZED))
def test_oversized_bodies(server: Sandbox, name: str) -> None:
    kwargs = dict(OVERSIZED[name])
    path = "/File/Upload" if name.startswith("an upload") else f"/Run/{MODEL}"
    if name.startswith("chunked"):
        kwargs["data"] = _chunks(CAP * 3)
    response = _post(server, path, **kwargs)
    _envelope(response.status_code, response.content, response.headers, (413,))
    _count("oversized body")


def test_content_length_larger_than_the_body(server: Sandbox) -> None:
    """A body that stops short of its Content-Length: an envelope, or the connection closed
    after the read times out; never a hang, and the server goes on."""
    host, port = server.base_url.split("://", 1)[1].split("/", 1)[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    headers = dict(Credentials(server.api_key, server.api_secret).headers())
    conn.putrequest("POST", f"/v1/Run/{MODEL}")
    for key, value in {**headers, "Content-Type": "application/json",
                       "Content-Length": "5000"}.items():
        conn.putheader(key, value)
    conn.endheaders(b'{"prompt": "short"}')
    conn.sock.shutdown(1)  # type: ignore[union-attr]  # nothing more will come
    response = conn.getresponse()
    _envelope(response.status, response.read(), response.headers, (200,))
    conn.close()
    _count("oversized body")


def _get_raw(sb: Sandbox, path: str) -> tuple[int, bytes, Any]:
    host, port = sb.base_url.split("://", 1)[1].split("/", 1)[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read(), response.headers
    finally:
        conn.close()


TRAVERSALS = [
    "/v1/File/{token}/../../secret.txt",
    "/v1/File/{token}/../../../secret.txt",
    "/v1/File/{token}/%2e%2e/%2e%2e/secret.txt",
    "/v1/File/{token}/%2E%2E%2F%2E%2E%2Fsecret.txt",
    "/v1/File/{token}/..%2f..%2fsecret.txt",
    "/v1/File/{token}/%252e%252e/%252e%252e/secret.txt",
    "/v1/File/{token}/..%5c..%5csecret.txt",
    "/v1/File/{token}/..\\..\\secret.txt",
    "/v1/File/{token}/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt",
    "/v1/File/{token}/%ef%bc%8e%ef%bc%8e/secret.txt",
    "/v1/File/{token}/{name}%00.txt",
    "/v1/File/{token}/.%2e/.%2e/secret.txt",
    "/v1/File/{token}//../secret.txt",
    "/v1/File/{token}/./{name}",
    "/v1/File/{token}/{name}/..",
    "/v1/File/..;/..;/secret.txt",
    "/v1/File/%2fetc%2fpasswd",
    "/v1/File//etc/passwd",
    "/cdn/../../secret.txt",
    "/cdn/%2e%2e/%2e%2e/secret.txt",
    "/cdn/..%252f..%252fsecret.txt",
    "//etc/passwd",
    "/v1/File/{token}/../../data/secret.txt",
    "/v1/File/{token}/{upper}",
]


@pytest.fixture(scope="module")
def uploaded(server: Sandbox) -> tuple[str, str]:
    response = _post(server, "/File/Upload", files={"file": ("ref.png", PNG)})
    url = response.json()["list"][0]["url"]
    token, name = url.rsplit("/", 2)[-2:]
    status, body, _headers = _get_raw(server, f"/v1/File/{token}/{name}")
    assert (status, body) == (200, PNG)  # the real file is served
    return token, name


@pytest.mark.parametrize("template", TRAVERSALS)
def test_path_traversal_in_file_urls(server: Sandbox, uploaded: tuple[str, str],
                                     template: str) -> None:
    token, name = uploaded
    path = template.format(token=token, name=name, upper=name.upper())
    status, body, headers = _get_raw(server, path)
    assert SECRET_TEXT.encode() not in body
    assert b"root:" not in body
    _envelope(status, body, headers, (404,))
    _count("path traversal")


def _flood_one(sb: Sandbox, index: int, start: threading.Barrier) -> tuple[str, int, bytes, Any]:
    kinds = ("detail", "run", "bad_json", "unknown_path", "no_auth", "tool", "upload",
             "missing_file", "invalid_run", "multipart")
    kind = kinds[index % len(kinds)]
    start.wait(timeout=30)
    if kind == "detail":
        r = _post(sb, "/Task/Detail", json_body={"taskid": str(10**9 + index)})
    elif kind == "run":
        r = _post(sb, f"/Run/{MODEL}", json_body={"prompt": f"flood {index}", **SMALL})
    elif kind == "bad_json":
        r = _post(sb, "/Task/Detail", data=b"{nope", content_type="application/json")
    elif kind == "unknown_path":
        r = _post(sb, f"/Task/Nothing{index}", json_body={})
    elif kind == "no_auth":
        r = _post(sb, "/Task/List", json_body={}, auth=False)
    elif kind == "tool":
        r = _post(sb, "/Tool/Detail", json_body={"slugowner": "black-forest-labs",
                                                 "slugproject": "flux-2-flex"})
    elif kind == "upload":
        r = _post(sb, "/File/Upload", files={"file": (f"{index}.png", PNG)})
    elif kind == "missing_file":
        r = requests.get(sb.base_url.removesuffix("/v1") + f"/cdn/x{index}/0.png", timeout=20)
    elif kind == "invalid_run":
        r = _post(sb, f"/Run/{MODEL}", json_body={"prompt": "x", "steps": 99})
    else:
        r = _post(sb, f"/Run/{MODEL}", data=MALFORMED["no closing boundary"][0],
                  content_type=MULTIPART)
    return kind, r.status_code, r.content, r.headers


FLOOD_EXPECTED = {"detail": 200, "bad_json": 200, "unknown_path": 404, "no_auth": 401,
                  "missing_file": 404, "invalid_run": 200, "multipart": 200}


@pytest.mark.slow
def test_a_flood_of_200_concurrent_requests(server: Sandbox) -> None:
    count = 200
    start = threading.Barrier(count)
    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(lambda i: _flood_one(server, i, start), range(count)))
    assert len(answers) == count
    for kind, status, body, headers in answers:
        assert headers.get("x-wiro-sandbox") == "1", kind
        if kind in FLOOD_EXPECTED:
            _envelope(status, body, headers, (FLOOD_EXPECTED[kind],))
        else:
            parsed = json.loads(body)
            assert status == 200, (kind, body[:200])
            assert parsed["result"] is True
            assert parsed["errors"] == []
    tally.add("server probes", count)
    tally.add("server probes flood", count)
    assert server.wait_idle(30)


def test_still_serving_afterwards(server: Sandbox) -> None:
    """Runs last in this module: after all of the above, a normal run works and no spooled
    part was left behind."""
    result = server.client().run(MODEL, prompt="after the abuse", input_images=[PNG], **SMALL)
    assert result.images[0].size == (64, 64)
    assert server.data_dir is not None
    assert list((server.data_dir / "tmp").iterdir()) == []
    tally.add("server still serving", 1)
