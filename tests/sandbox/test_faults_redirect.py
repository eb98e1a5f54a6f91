"""Fault mode: an endpoint answers with a redirect to another host (issue 12), and that host
records the headers it receives, so a test can see whether credentials followed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from .wire import MODEL, Api, assert_envelope

AUTH_HEADERS = ("x-api-key", "x-nonce", "x-signature")


def test_no_other_host_without_a_redirect_fault(make_sandbox: Any) -> None:
    assert make_sandbox().other_host is None


def test_run_answers_307_to_another_host_and_creates_nothing(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"redirect": ["Run"]})
    response = Api(sb).run(json={"prompt": "moved", "steps": 1}, allow_redirects=False)
    assert response.status_code == 307
    location = urlsplit(response.headers["Location"])
    assert location.hostname in ("127.0.0.2", "localhost")
    assert location.hostname != urlsplit(sb.base_url).hostname
    assert location.path == f"/v1/Run/{MODEL}"
    assert f"{location.scheme}://{location.netloc}" == sb.other_host.root
    assert sb.tasks == []
    assert sb.requests[-1].fault == "redirect"
    assert sb.other_host.requests == []


def test_a_client_that_follows_with_credentials_leaks_them_there(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"redirect": ["Run"]})
    api = Api(sb)
    # requests keeps custom headers across a redirect to another host: the leak.
    response = api.run(json={"prompt": "followed", "steps": 1})
    assert response.status_code == 200
    (received,) = sb.other_host.requests
    assert received.method == "POST"
    assert received.path == f"/v1/Run/{MODEL}"
    assert received.headers["x-api-key"] == sb.api_key
    assert set(AUTH_HEADERS) <= set(received.headers)
    assert sb.api_key not in repr(received)
    # The other host answers as the sandbox: the Run was accepted there.
    assert [t.id for t in sb.tasks] == [response.json()["taskid"]]
    assert sb.requests[-1].other_host is True


def test_a_client_that_drops_credentials_is_refused_there(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"redirect": ["Task/Detail"]})
    first = Api(sb).post("/Task/Detail", json={"taskid": "1"}, allow_redirects=False)
    assert first.status_code == 307
    second = requests.post(first.headers["Location"], json={"taskid": "1"}, timeout=10)
    assert_envelope(second, 401, 0, "not founded")
    (received,) = sb.other_host.requests
    assert not set(AUTH_HEADERS) & set(received.headers)


def test_302_turns_a_post_into_a_get_at_the_other_host(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"redirect": ["Run"], "redirect_status": 302})
    response = Api(sb).run(json={"prompt": "302", "steps": 1})
    assert response.history[0].status_code == 302
    assert_envelope(response, 404, 0, "Error parsing url.")
    assert sb.other_host.requests[0].method == "GET"
    assert sb.tasks == []


def test_only_the_named_endpoints_are_redirected(make_sandbox: Any) -> None:
    sb = make_sandbox()
    sb.set_faults({"redirect": "Task/Detail"})
    api = Api(sb)
    assert api.run(json={"prompt": "stays", "steps": 1}, allow_redirects=False).status_code == 200
    assert api.post("/Task/List", json={}, allow_redirects=False).status_code == 200
    assert api.post("/Task/Detail", json={}, allow_redirects=False).status_code == 307


def test_output_downloads_can_be_redirected(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    record = api.wait(api.run_ok(prompt="cdn moved", steps=1)["socketaccesstoken"])
    url = record["outputs"][0]["url"]
    sb.set_faults({"redirect": ["output"]})
    moved = requests.get(url, timeout=10, allow_redirects=False)
    assert moved.status_code == 307
    followed = requests.get(url, timeout=10)
    assert followed.status_code == 200
    assert followed.content.startswith(b"\x89PNG")
    assert sb.other_host.requests[-1].path == urlsplit(url).path


def test_redirect_faults_are_checked() -> None:
    from wiro_widgets.sandbox import Faults

    with pytest.raises(ValueError, match="redirect"):
        Faults(redirect=("Task/Nowhere",))
    with pytest.raises(ValueError, match="redirect_status"):
        Faults(redirect_status=200)
