"""The documented-examples server itself, checked with plain `requests` and `websockets`.

The client tests (and above all the strict expected failures) are only as good as this
server: a misbehaviour that silently did not happen would turn an expected failure into a
failure for the wrong reason. So each scripted behaviour is checked here on its own.
"""

from __future__ import annotations

import io
import json
import time

import pytest
import requests
from PIL import Image
from websockets.sync.client import connect

from .examples import CDN_PLACEHOLDER, DOCUMENTED_OUTPUT_SIZE, example_text
from .helpers import TOKEN
from .server import DocumentedServer, Step

# A bare session that never goes through a proxy from the environment.
_session = requests.Session()
_session.trust_env = False


def test_an_example_is_served_byte_for_byte(documented: DocumentedServer) -> None:
    documented.script("/Task/Kill", "task-kill.json")
    response = _session.post(documented.base_url + "/Task/Kill", json={"taskid": "534574"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    served = response.content.decode()
    assert served.replace(documented.origin + "/", CDN_PLACEHOLDER) == example_text(
        "task-kill.json")
    assert CDN_PLACEHOLDER not in served  # only the output host was rewritten


def test_output_urls_give_a_real_png_of_the_documented_size(
        documented: DocumentedServer) -> None:
    documented.script("/Task/Detail", "task-detail-succeeded.json")
    record = _session.post(documented.base_url + "/Task/Detail", json={}).json()
    url = record["tasklist"][0]["outputs"][0]["url"]
    assert url == documented.origin + "/.../0.png"
    image = _session.get(url)
    assert len(image.content) == DOCUMENTED_OUTPUT_SIZE == 202472
    assert Image.open(io.BytesIO(image.content)).size == (64, 48)


def test_steps_are_used_in_order_and_the_last_repeats(documented: DocumentedServer) -> None:
    documented.script("/Task/Detail", "task-detail-queued.json", "task-detail-running.json")
    statuses = [_session.post(documented.base_url + "/Task/Detail").json()["tasklist"][0]
                ["status"] for _ in range(3)]
    assert statuses == ["task_queue", "task_start", "task_start"]


def test_a_step_with_until_repeats_until_it_holds(documented: DocumentedServer) -> None:
    gate = {"open": False}
    documented.script("/Task/Detail", Step("task-detail-running.json",
                                           until=lambda: gate["open"]),
                      "task-detail-succeeded.json")

    def status() -> str:
        return str(_session.post(documented.base_url + "/Task/Detail")
                   .json()["tasklist"][0]["status"])

    assert [status(), status()] == ["task_start", "task_start"]
    gate["open"] = True
    assert status() == "task_postprocess_end"


def test_every_request_is_recorded(documented: DocumentedServer) -> None:
    documented.script("/Task/Detail", "task-detail-running.json")
    _session.post(documented.base_url + "/Task/Detail", json={"taskid": "534574"},
                  headers={"x-api-key": "k"})
    (request,) = documented.requests_to("/Task/Detail")
    assert (request.method, request.path, request.host) == ("POST", "/v1/Task/Detail",
                                                            "127.0.0.1")
    assert request.headers["x-api-key"] == "k"
    assert request.json == {"taskid": "534574"}


def test_unscripted_api_paths_get_the_documented_404(documented: DocumentedServer) -> None:
    response = _session.post(documented.base_url + "/Task/List", json={})
    assert response.status_code == 404
    assert response.json() == {"result": False,
                               "errors": [{"code": 0, "message": "Error parsing url."}]}


def test_status_headers_and_literal_bodies(documented: DocumentedServer) -> None:
    documented.script("/Run/a/b", Step(status=403, body=b'{"message":"Forbidden"}',
                                       headers={"Content-Type": "application/json",
                                                "Retry-After": "2"}))
    response = _session.post(documented.base_url + "/Run/a/b", json={})
    assert response.status_code == 403
    assert response.content == b'{"message":"Forbidden"}'
    assert response.headers["Retry-After"] == "2"


def test_drop_reads_the_request_and_hangs_up(documented: DocumentedServer) -> None:
    documented.script("/Run/a/b", Step(drop=True))
    with pytest.raises(requests.ConnectionError):
        _session.post(documented.base_url + "/Run/a/b", json={"prompt": "x" * 5000})
    (request,) = documented.requests_to("/Run/a/b")
    assert request.json == {"prompt": "x" * 5000}  # read in full before the hang-up


def test_trickle_sends_one_byte_at_a_time(documented: DocumentedServer) -> None:
    documented.script("/Task/Detail", Step(body=b"abcdef", trickle=0.2))
    started = time.monotonic()
    response = _session.post(documented.base_url + "/Task/Detail", stream=True)
    arrivals = [time.monotonic() - started for _ in response.iter_content(1)]
    assert len(arrivals) == 6
    assert arrivals[-1] - arrivals[0] >= 0.9  # five gaps of 0.2 s


def test_chunked_declares_no_size(documented: DocumentedServer) -> None:
    documented.script("/Task/Detail", Step(body=b"x" * 40000, chunked=True))
    response = _session.post(documented.base_url + "/Task/Detail")
    assert "Content-Length" not in response.headers
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.content == b"x" * 40000


def test_length_declares_a_false_size(documented: DocumentedServer) -> None:
    documented.script("/Task/Detail", Step(body=b"tiny", length=2 * 1024 ** 3))
    response = _session.post(documented.base_url + "/Task/Detail", stream=True)
    assert response.headers["Content-Length"] == str(2 * 1024 ** 3)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        response.content  # noqa: B018 - four bytes, then the server hangs up


def test_delay_holds_the_answer(documented: DocumentedServer) -> None:
    documented.script("/Task/Detail", Step("task-detail-running.json", delay=0.5))
    started = time.monotonic()
    assert _session.post(documented.base_url + "/Task/Detail").status_code == 200
    assert time.monotonic() - started >= 0.5


def test_redirect_to_another_host(documented: DocumentedServer,
                                  other_host: DocumentedServer) -> None:
    target = other_host.base_url + "/Task/Detail"
    documented.script("/Task/Detail", Step(redirect=target))
    other_host.script("/Task/Detail", "task-detail-running.json")
    response = _session.post(documented.base_url + "/Task/Detail", allow_redirects=False)
    assert (response.status_code, response.headers["Location"]) == (307, target)
    followed = _session.post(documented.base_url + "/Task/Detail", json={"taskid": "1"},
                             headers={"x-api-key": "k"})
    assert followed.json()["tasklist"][0]["status"] == "task_start"
    (seen,) = other_host.requests_to("/Task/Detail")
    assert seen.host == "127.0.0.2"
    assert seen.headers["x-api-key"] == "k"  # requests keeps custom headers on redirects


def test_the_socket_plays_the_scripted_frames(documented: DocumentedServer) -> None:
    documented.socket.script("frame-task-queue.json", "frame-task-postprocess-end.json")
    with connect(documented.socket_url, proxy=None) as connection:
        connection.send(json.dumps({"type": "task_info", "tasktoken": TOKEN}))
        first, last = (json.loads(connection.recv(timeout=5)) for _ in range(2))
    assert first == {"type": "task_queue", "tasktoken": TOKEN}  # "eDcCm5yy..." expanded
    assert last["message"][0]["url"] == documented.origin + "/.../0.png"
    assert documented.socket.played.wait(5)
    assert documented.socket.messages == [{"type": "task_info", "tasktoken": TOKEN}]
