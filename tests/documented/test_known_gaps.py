"""Known gaps (issues 12 and 13): each test states the right behaviour against the documented
examples or a misbehaving server. A gap still open is marked as a strict expected failure;
when a fix makes one pass, pytest reports it as a failure until the fix also removes its mark,
and the test stays here as the fix's proof.

Calls that today hang or retry for long run through `finish_within`, so an expected failure
costs seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from wiro_widgets import (
    ApiError,
    AuthError,
    NetworkError,
    RunOutcomeUnknown,
    TaskCancelled,
    WiroClient,
    WiroError,
)

from .helpers import FULL_RUN_FRAMES, MODEL, RUN, Updates, finish_within, script_run
from .server import DocumentedServer, Step

ClientFactory = Callable[..., WiroClient]
CREDENTIAL_HEADERS = frozenset({"x-api-key", "x-nonce", "x-signature"})


def _script_running_task(server: DocumentedServer, kill: str = "error-kill-refused.json") -> None:
    server.script(RUN, "run.json")
    server.script("/Task/Detail", "task-detail-running.json")
    server.script("/Task/Kill", kill)


def test_a_task_error_frame_mid_run_keeps_progress_moving(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    frames = list(FULL_RUN_FRAMES)
    frames.insert(frames.index("frame-task-output-progress.json"), "frame-task-error.json")
    script_run(documented, frames)
    updates = Updates()
    result = make_client().run(MODEL, prompt="Hello, world!", on_update=updates, timeout=30)
    assert result.image.size == (64, 48)
    assert "failed" not in updates.labels  # a stderr line is a log line, not a verdict
    assert (6, 10, 60.0) in updates.steps  # the progress frame after it still counts


def test_a_refused_kill_raises_at_once(documented: DocumentedServer,
                                       make_client: ClientFactory) -> None:
    _script_running_task(documented)
    client = make_client(use_socket=False)
    task = client.submit(MODEL, prompt="a fox")
    with pytest.raises(ApiError, match="Task could not be killed") as caught:
        finish_within(5, client.kill, task)
    assert caught.value.code == 1


def test_a_refused_kill_is_never_reported_as_cancelled(documented: DocumentedServer,
                                                       make_client: ClientFactory) -> None:
    _script_running_task(documented)
    client = make_client(use_socket=False)
    task = client.submit(MODEL, prompt="a fox")
    stop, updates = threading.Event(), Updates()
    stop.set()
    with pytest.raises(WiroError) as caught:
        finish_within(6, client.wait, task, cancel_event=stop, on_update=updates)
    assert not isinstance(caught.value, TaskCancelled)
    assert "Task could not be killed" in str(caught.value)  # the server's refusal, surfaced
    assert "cancelled" not in updates.labels


def test_http_403_is_an_auth_error(documented: DocumentedServer,
                                   make_client: ClientFactory) -> None:
    documented.script("/Task/Detail", Step("error-permission.json", status=403))
    with pytest.raises(AuthError) as caught:
        finish_within(5, make_client().detail, "534574")
    assert caught.value.http_status == 403


def _submit(client: WiroClient) -> Any:
    return client.submit(MODEL, prompt="a fox")


def _detail(client: WiroClient) -> Any:
    return client.detail("534574")


@pytest.mark.parametrize(("endpoint", "call", "page", "status", "expected"), [
    (RUN, _submit, "gateway-forbidden.json", 403, AuthError),
    (RUN, _submit, "gateway-413.html", 413, ApiError),
    ("/Task/Detail", _detail, "gateway-forbidden.json", 403, AuthError),
], ids=["run-403-json", "run-413-html", "detail-403-json"])
def test_a_4xx_without_the_envelope_raises_at_once(
        documented: DocumentedServer, make_client: ClientFactory, endpoint: str,
        call: Callable[[WiroClient], Any], page: str, status: int,
        expected: type[ApiError]) -> None:
    documented.script(endpoint, Step(page, status=status))
    with pytest.raises(expected) as caught:
        finish_within(5, call, make_client())
    assert caught.value.http_status == status
    assert not isinstance(caught.value, NetworkError)  # an answer came: nothing was lost
    assert len(documented.requests_to(endpoint)) == 1


@pytest.mark.parametrize("lost", [
    Step(drop=True),
    Step("gateway-504.html", status=504),
], ids=["dropped-after-read", "gateway-504"])
def test_a_run_whose_answer_is_lost_is_never_sent_twice(
        documented: DocumentedServer, make_client: ClientFactory, lost: Step) -> None:
    documented.script(RUN, lost, "run.json")
    documented.script("/Task/List", "task-list-empty.json")  # the task is not listed yet
    with pytest.raises(RunOutcomeUnknown):
        finish_within(15, _submit, make_client())
    assert len(documented.requests_to(RUN)) == 1


@pytest.mark.parametrize(("endpoint", "call", "answer"), [
    (RUN, _submit, "run.json"),
    ("/Task/Detail", _detail, "task-detail-succeeded.json"),
], ids=["run", "detail"])
def test_a_redirect_to_another_host_carries_no_credentials(
        documented: DocumentedServer, other_host: DocumentedServer,
        make_client: ClientFactory, endpoint: str, call: Callable[[WiroClient], Any],
        answer: str) -> None:
    documented.script(endpoint, Step(redirect=other_host.base_url + endpoint))
    other_host.script(endpoint, answer)
    with contextlib.suppress(WiroError):  # refusing the redirect is right too
        finish_within(10, call, make_client())
    assert len(documented.requests_to(endpoint)) == 1
    leaked = [r.path for r in other_host.requests if CREDENTIAL_HEADERS & set(r.headers)]
    assert leaked == []


def test_a_trickling_answer_does_not_hold_run_past_its_timeout(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    documented.script(RUN, "run.json")
    documented.script("/Task/Detail", Step("task-detail-running.json", trickle=1.0))
    started = time.monotonic()
    with pytest.raises(WiroError):
        finish_within(10, make_client(use_socket=False).run, MODEL, prompt="a fox",
                      timeout=4)
    assert time.monotonic() - started < 10
