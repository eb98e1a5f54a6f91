"""Redirects and oversized answers (issue 12, "Keys" and "Hangs and hostile answers"): the
client follows a redirect to its own origin with a fresh signature, refuses one to another
origin, never sends credentials with a download, and reads no answer past its limit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from wiro_widgets import ApiError, NetworkError, WiroClient
from wiro_widgets.client._transport import MAX_ANSWER_BYTES, _Session
from wiro_widgets.ledger import Ledger

from .helpers import MODEL, RUN, TOKEN, finish_within, script_run
from .server import DocumentedServer, Step

ClientFactory = Callable[..., WiroClient]
CREDENTIALS = frozenset({"x-api-key", "x-nonce", "x-signature"})
#: The documented output URL, pointed at the local server.
OUTPUT = "/.../0.png"


def test_a_redirect_to_the_same_origin_is_followed_with_a_fresh_signature(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    documented.script("/Task/Detail", Step(redirect=documented.base_url + "/Task/Detail"),
                      Step(redirect="/v1/Task/Detail", status=308), "task-detail-succeeded.json")
    record = make_client().detail("534574")
    assert record["status"] == "task_postprocess_end"
    sent = documented.requests_to("/Task/Detail")
    assert [r.method for r in sent] == ["POST"] * 3
    assert all(r.json == {"taskid": "534574"} for r in sent)  # the same POST each time
    nonces = [r.headers["x-nonce"] for r in sent]
    assert len(set(nonces)) == 3  # signed afresh per hop, never replayed


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_refused_and_names_it(
        documented: DocumentedServer, other_host: DocumentedServer,
        make_client: ClientFactory, status: int) -> None:
    documented.script(RUN, Step(redirect=other_host.base_url + RUN, status=status))
    with pytest.raises(ApiError, match="another host") as caught:
        finish_within(10, make_client().submit, MODEL, prompt="a fox")
    assert caught.value.http_status == status
    assert "127.0.0.2" in str(caught.value)
    assert "base_url" in str(caught.value)
    assert other_host.requests == []
    assert len(documented.requests_to(RUN)) == 1


def test_another_port_or_scheme_is_another_origin(documented: DocumentedServer,
                                                  make_client: ClientFactory) -> None:
    with DocumentedServer() as elsewhere:  # the same host, another port
        elsewhere.script("/Task/Detail", "task-detail-succeeded.json")
        documented.script("/Task/Detail", Step(redirect=elsewhere.base_url + "/Task/Detail"))
        with pytest.raises(ApiError, match="another host"):
            finish_within(10, make_client().detail, "534574")
        assert elsewhere.requests == []
    https = documented.base_url.replace("http://", "https://") + "/Task/Detail"
    documented.script("/Task/Detail", Step(redirect=https))
    with pytest.raises(ApiError, match="another host"):
        finish_within(10, make_client().detail, "534574")


def test_a_download_follows_a_redirect_anywhere_without_credentials(
        documented: DocumentedServer, other_host: DocumentedServer,
        make_client: ClientFactory) -> None:
    script_run(documented)
    documented.script(OUTPUT, Step(redirect=other_host.origin + OUTPUT, status=302))
    result = finish_within(30, make_client().run, MODEL, prompt="Hello, world!", timeout=20)
    assert result.image.size == (64, 48)
    (fetched,) = other_host.requests
    assert fetched.method == "GET"
    assert not CREDENTIALS & set(fetched.headers)
    assert all(not CREDENTIALS & set(r.headers) for r in documented.requests_to(OUTPUT))


def test_the_session_strips_credentials_on_any_redirect_it_follows(
        documented: DocumentedServer, other_host: DocumentedServer) -> None:
    """Defence in depth: requests keeps custom headers on a redirect to another host; the
    client's session drops the credential headers even where requests follows."""
    other_host.script("/Task/Detail", "task-detail-succeeded.json")
    documented.script("/Task/Detail", Step(redirect=other_host.base_url + "/Task/Detail"))
    with _Session() as session:
        session.post(documented.base_url + "/Task/Detail", json={},
                     headers={"x-api-key": "k", "x-nonce": "1", "x-signature": "s"},
                     timeout=5)
    (followed,) = other_host.requests
    assert followed.method == "POST"
    assert not CREDENTIALS & set(followed.headers)  # plain requests keeps them (test_server)


def test_an_oversized_api_answer_is_refused_from_its_declared_size(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    huge = b'{"result": true, "errors": [], "tasklist": [' + b" " * MAX_ANSWER_BYTES + b"]}"
    documented.script("/Task/Detail", Step(body=huge, trickle=0.5))  # the body never comes
    with pytest.raises(ApiError, match="too large") as caught:
        finish_within(10, make_client().detail, "534574")
    assert str(MAX_ANSWER_BYTES) in str(caught.value)
    assert len(documented.requests_to("/Task/Detail")) == 1  # not asked again


def test_an_oversized_answer_without_a_size_is_cut_by_the_running_count(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    client = make_client()
    client._transport.max_answer_bytes = 64 * 1024
    body = b'{"result": true, "errors": [], "pad": "' + b"x" * (1 << 20) + b'"}'
    documented.script("/Task/Detail", Step(body=body, chunked=True))
    with pytest.raises(ApiError, match="too large"):
        finish_within(10, client.detail, "534574")


@pytest.mark.parametrize("answer", ["redirect", "oversized"])
def test_a_task_followed_through_an_unusable_answer_is_named_not_lost(
        documented: DocumentedServer, other_host: DocumentedServer,
        make_client: ClientFactory, wiro_home: Path, answer: str) -> None:
    documented.script(RUN, "run.json")
    if answer == "redirect":
        documented.script("/Task/Detail", Step(redirect=other_host.base_url + "/Task/Detail"))
    else:
        documented.script("/Task/Detail", Step(body=b"{" + b" " * MAX_ANSWER_BYTES + b"}"))
    with pytest.raises(NetworkError, match=r"another host|too large") as caught:
        finish_within(10, make_client(use_socket=False).run, MODEL, prompt="a fox")
    assert caught.value.task_id == "2221"  # it exists: never "press Generate again"
    assert f"client.wait({TOKEN!r})" in str(caught.value)
    assert not Ledger(wiro_home).tasks()[TOKEN].is_finished  # resume() collects it
    assert other_host.requests == []
