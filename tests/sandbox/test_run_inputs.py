"""Run bodies (JSON and multipart; every documented way to pass several reference images),
validation from the shared spec with Wiro's wording, uploads, and Tool/Detail."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import requests

from wiro_widgets.specs import FLUX_2_FLEX

from .wire import Api, assert_envelope, png_bytes

RED, GREEN, BLUE = png_bytes(color=(255, 0, 0)), png_bytes(color=(0, 255, 0)), png_bytes(
    80, 60, color=(0, 0, 255), fmt="JPEG")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _task(sb: Any, task_id: str) -> Any:
    return next(t for t in sb.tasks if t.id == task_id)


def test_json_run_parses_strings_and_numbers(sandbox: Any, api: Api) -> None:
    answer = api.run_ok(prompt="a fox", width="512", height=256, guidance="3.5", steps=3,
                        seed="42", outputFormat="JPEG", safetyTolerance=4)
    assert answer["errors"] == []
    assert answer["taskid"].isdigit()
    assert len(answer["socketaccesstoken"]) == 30
    assert answer["socketaccesstoken"].isalnum()
    task = _task(sandbox, answer["taskid"])
    assert task.params == {"prompt": "a fox", "width": 512, "height": 256, "guidance": 3.5,
                           "steps": 3, "seed": 42, "outputFormat": "jpeg",
                           "safetyTolerance": 4}
    assert task.model == "black-forest-labs/flux-2-flex"
    assert task.token == answer["socketaccesstoken"]


def test_defaults_are_filled_from_the_spec(sandbox: Any, api: Api) -> None:
    answer = api.run_ok(prompt="defaults please")
    params = _task(sandbox, answer["taskid"]).params
    for p in FLUX_2_FLEX.params:
        if p.default is not None and not p.is_files and p.name != "steps":
            assert params[p.name] == p.default, p.name


@pytest.mark.parametrize(("body", "message"), [
    ({"steps": 4}, "Request parameter [prompt] required"),
    ({"prompt": "  "}, "Request parameter [prompt] required"),
    ({"prompt": "x", "steps": 80}, "Request parameter [steps] must be between 1 and 50"),
    ({"prompt": "x", "steps": 0}, "Request parameter [steps] must be between 1 and 50"),
    ({"prompt": "x", "width": 1000}, "Request parameter [width] must be multiple of 16"),
    ({"prompt": "x", "height": 4096}, "Request parameter [height] must be between 64 and 2048"),
    ({"prompt": "x", "guidance": "abc"}, "Request parameter [guidance] must be integer or float"),
    ({"prompt": "x", "guidance": 11}, "Request parameter [guidance] must be between 1.5 and 10"),
    ({"prompt": "x", "safetyTolerance": 7},
     "Request parameter [safetyTolerance] must be between 0 and 6"),
    ({"prompt": "x", "seed": 2.5}, "Request parameter [seed] must be integer"),
    ({"prompt": "x", "outputFormat": "bmp"}, "Request parameter [outputFormat] must be one of"),
    ({"prompt": "x", "width": 0}, "Request parameter [width]"),
    ({"prompt": ["a", "b"]}, "Request parameter [prompt] must be a single value"),
    ({"prompt": "x", "inputImage": [f"https://example.com/{i}.png" for i in range(11)]},
     "Request files [inputImage] must be at most 10 files"),
    ({"prompt": "x", "inputImage": [{"url": "https://example.com/a.png"}]},
     "Request files [inputImage]"),
])
def test_validation_errors_use_wiro_wording(sandbox: Any, api: Api, body: dict[str, Any],
                                            message: str) -> None:
    before = len(sandbox.tasks)
    assert_envelope(api.run(json=body), 200, 0, message)
    assert len(sandbox.tasks) == before


def test_unknown_model_is_code_1(api: Api) -> None:
    assert_envelope(api.run("someone/nothing-here", json={"prompt": "x"}), 200, 1)


def test_multipart_repeated_files_and_url_parts_keep_their_order(sandbox: Any,
                                                                 api: Api) -> None:
    url = "https://example.com/photos/beach.jpg"
    files = [
        ("inputImage", ("red.png", RED, "image/png")),
        ("inputImage", (None, url)),
        ("inputImage", ("blue.jpg", BLUE, "image/jpeg")),
        ("inputImageUrl", (None, "")),          # the documented empty companion: ignored
        ("prompt", (None, "put image 1 next to image 3")),
        ("steps", (None, "2")),
        ("width", (None, "0")),
        ("height", (None, "0")),
    ]
    answer = api.run(files=files).json()
    assert answer["result"] is True, answer
    task = _task(sandbox, answer["taskid"])
    assert [(i["source"], i["filename"]) for i in task.inputs] == [
        ("file", "red.png"), ("url", "beach.jpg"), ("file", "blue.jpg")]
    assert [i["sha256"] for i in task.inputs][::2] == [_sha(RED), _sha(BLUE)]
    assert task.inputs[0]["content_type"] == "image/png"
    assert task.inputs[2]["content_type"] == "image/jpeg"
    assert task.inputs[1]["placeholder"] is True
    assert task.inputs[1]["url"] == url
    for item in task.inputs:
        assert set(item) >= {"name", "source", "filename", "content_type", "size", "sha256",
                             "url"}
        assert item["name"] == "inputImage"
    record = api.detail(taskid=answer["taskid"])
    shown = record["parameters"]["inputImage"].split(",")
    assert shown[1] == url
    assert shown[0].startswith(sandbox.base_url + "/File/")
    assert shown[0].endswith(
        "/inputImage-1.png")
    assert shown[2].endswith("/inputImage-3.jpg")
    # The stored upload URLs serve the very bytes that were sent.
    assert requests.get(shown[0], timeout=10).content == RED
    assert requests.get(shown[2], timeout=10).content == BLUE
    # Multipart numbers arrive as text and are shown as sent.
    assert record["parameters"]["steps"] == "2"
    run = next(r for r in reversed(sandbox.requests) if r.path.startswith("/v1/Run/"))
    assert run.parts[:3] == [("inputImage", "red.png", "image/png", len(RED)),
                             ("inputImage", None, None, len(url)),
                             ("inputImage", "blue.jpg", "image/jpeg", len(BLUE))]
    assert run.json is None
    assert run.status == 200


@pytest.mark.parametrize("encoding", ["comma", "array", "url_field", "url_field_commas"])
def test_url_encodings_in_json(sandbox: Any, api: Api, encoding: str) -> None:
    urls = ["https://example.com/a.png", "http://example.org/b.jpg"]
    body: dict[str, Any] = {"prompt": "x", "steps": 1}
    if encoding == "comma":
        body["inputImage"] = " , ".join(urls) + ","
    elif encoding == "array":
        body["inputImage"] = [urls[0], "", urls[1]]
    elif encoding == "url_field":
        body["inputImage"], body["inputImageUrl"] = urls[0], urls[1]
    else:
        body["inputImageUrl"] = ",".join(urls)
    answer = api.run(json=body).json()
    assert answer["result"] is True, answer
    assert [i["url"] for i in _task(sandbox, answer["taskid"]).inputs] == urls


def test_outside_url_placeholder_is_deterministic(sandbox: Any, api: Api) -> None:
    url = "https://cdn.example.com/sample.jpg"
    first = api.run_ok(inputImage=[url])
    second = api.run_ok(inputImage=[url])
    other = api.run_ok(inputImage=["https://cdn.example.com/other.jpg"])
    digests = [_task(sandbox, a["taskid"]).inputs[0]["sha256"] for a in (first, second, other)]
    assert digests[0] == digests[1] != digests[2]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png",
                                 "data:image/png;base64,AAAA", "/etc/passwd"])
def test_non_http_urls_are_refused(sandbox: Any, api: Api, url: str) -> None:
    before = len(sandbox.tasks)
    error = assert_envelope(api.run(json={"prompt": "x", "inputImage": [url]}), 200, 0)
    assert "[inputImage]" in error["message"]
    assert "http(s)" in error["message"]
    assert len(sandbox.tasks) == before


def test_non_image_file_part_is_refused_naming_input_image(sandbox: Any, api: Api) -> None:
    files = [("inputImage", ("notes.txt", b"just some text", "text/plain")),
             ("prompt", (None, "x"))]
    error = assert_envelope(api.run(files=files), 200, 0, "[inputImage]")
    assert "notes.txt" in error["message"]
    assert "not an image" in error["message"]
    truncated = RED[: len(RED) // 2]
    files = [("inputImage", ("cut.png", truncated, "image/png")), ("prompt", (None, "x"))]
    assert_envelope(api.run(files=files), 200, 0, "not a readable image")


def test_upload_then_use_its_url(sandbox: Any, api: Api) -> None:
    response = api.post("/File/Upload", files={"file": ("green.png", GREEN, "image/png")})
    body = response.json()
    assert body["result"] is True, body
    item = body["list"][0]
    assert set(item) >= {"id", "name", "contenttype", "size", "parentid", "url", "addedtime",
                         "accesskey"}
    assert item["contenttype"] == "image/png"
    assert item["size"] == str(len(GREEN))
    assert requests.get(item["url"], timeout=10).content == GREEN
    answer = api.run_ok(inputImage=[item["url"]])
    ref = _task(sandbox, answer["taskid"]).inputs[0]
    assert ref["sha256"] == _sha(GREEN)
    assert ref["placeholder"] is False
    missing = item["url"].rsplit("/", 2)[0] + "/NoSuchToken/green.png"
    assert_envelope(api.run(json={"prompt": "x", "inputImage": missing}), 200, 0,
                    "not a file of this sandbox")


def test_upload_errors(api: Api) -> None:
    assert_envelope(api.post("/File/Upload", files={"other": ("a.png", RED)}), 200, 0,
                    "Request files [file] required")
    assert_envelope(api.post("/File/Upload", files={"file": ("tool.exe", b"MZ...")}), 200, 0,
                    "not supported")


def test_file_over_the_per_file_limit(make_sandbox: Any) -> None:
    sb = make_sandbox()
    sb.max_file_bytes = 10_000
    big = png_bytes(400, 400, color=(10, 20, 30), fmt="BMP")   # > 10 kB, any bytes will do
    assert len(big) > 10_000
    error = assert_envelope(Api(sb).run(files=[("inputImage", ("big.bmp", big)),
                                               ("prompt", (None, "x"))]), 200, 0)
    assert "[inputImage]" in error["message"]
    assert "limit" in error["message"]
    assert sb.tasks == []


@pytest.mark.slow
def test_file_over_100_mb_is_refused(make_sandbox: Any) -> None:
    sb = make_sandbox()
    payload = b"\x89PNG\r\n\x1a\n" + b"\0" * (100 * 1024 * 1024)
    error = assert_envelope(Api(sb).run(files=[("inputImage", ("huge.png", payload)),
                                               ("prompt", (None, "x"))], timeout=60), 200, 0)
    assert "[inputImage]" in error["message"]
    assert "100 MB" in error["message"]


def test_body_over_the_cap_is_413(make_sandbox: Any) -> None:
    sb = make_sandbox(max_body_bytes=50_000)
    api = Api(sb)
    response = api.run(files=[("inputImage", ("a.png", b"x" * 200_000)), ("prompt", (None, "x"))])
    assert_envelope(response, 413, 0, "too large")
    response = api.run(json={"prompt": "x" * 100_000})
    assert_envelope(response, 413, 0)
    assert api.run_ok()["taskid"]


@pytest.mark.parametrize(("content_type", "data"), [
    ("application/json", b'{"prompt": "x",'),
    ("application/json", b'["prompt"]'),
    ("application/json", b"\xff\xfe{}"),
    ("multipart/form-data; boundary=XyZ", b"--XyZ\r\nContent-Disposition: form-data; "
     b'name="prompt"\r\n\r\nhello'),                      # never closed
    ("multipart/form-data; boundary=XyZ", b"--Other\r\n\r\nzzz--Other--\r\n"),
    ("multipart/form-data; boundary=XyZ", b"--XyZ\r\nNo-Disposition: x\r\n\r\nv\r\n--XyZ--\r\n"),
    ("text/plain", b"prompt=hello"),
    ("application/octet-stream", b"\x00\x01\x02"),
    ("image/png", RED),
])
def test_malformed_bodies_are_invalid_parameters(sandbox: Any, api: Api, content_type: str,
                                                 data: bytes) -> None:
    before = len(sandbox.tasks)
    response = api.run(data=data, headers={"Content-Type": content_type})
    assert_envelope(response, 200, 0, "Request parameters are invalid.")
    assert len(sandbox.tasks) == before


def test_json_sent_with_the_model_pages_multipart_header(api: Api) -> None:
    # Wiro's model page sample sends a JSON body labelled multipart/form-data (no boundary).
    body = json.dumps({"prompt": "x", "steps": 1}).encode()
    answer = api.run(data=body, headers={"Content-Type": "multipart/form-data"}).json()
    assert answer["result"] is True, answer


def test_urlencoded_body(api: Api) -> None:
    answer = api.run(data={"prompt": "urlencoded", "steps": "1"}).json()
    assert answer["result"] is True, answer
