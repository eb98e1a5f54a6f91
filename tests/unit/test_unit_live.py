"""Following logic with a scripted Task/Detail (no socket): progress parsing, terminal and
unknown states, grace periods, cancel and deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from wiro_widgets.client._follow import (
    FollowConfig,
    FollowStopped,
    Progress,
    UnknownStatus,
    follow,
    parse_frame,
    parse_progress,
)
from wiro_widgets.errors import AuthError, NetworkError, NotFound
from wiro_widgets.protocol import is_loopback_url
from wiro_widgets.results import TaskUpdate

FAST = FollowConfig(first_interval=0.02, max_interval=0.05, final_interval=0.02,
                    unknown_grace=0.3, not_found_grace=0.3, pexit_grace=0.3)


def script(*steps: Any) -> Callable[[], dict[str, Any]]:
    """A Task/Detail stand-in returning (or raising) each step in turn, then the last."""
    items = list(steps)

    def detail() -> dict[str, Any]:
        item = items.pop(0) if len(items) > 1 else items[0]
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, str):
            return {"id": "1", "status": item, "pexit": "0" if item == "task_postprocess_end"
                    else ""}
        return dict(item)
    return detail


def run(detail: Callable[[], dict[str, Any]], **kwargs: Any) -> tuple[dict[str, Any],
                                                                      list[TaskUpdate]]:
    updates: list[TaskUpdate] = []
    record = follow(detail=detail, token="tok", task_id="1", socket_url=None,
                    started_at=time.time(), on_update=updates.append,
                    config=kwargs.pop("config", FAST), **kwargs)
    return record, updates


@pytest.mark.parametrize(("message", "expected"), [
    ({"type": "progressGenerate", "stepCurrent": "6", "stepTotal": "10", "percentage": "60"},
     Progress(6, 10, 60.0)),
    ('{"type": "progressGenerate", "stepCurrent": "30", "stepTotal": "50"}',
     Progress(30, 50, 60.0)),
    ({"stepCurrent": 2, "stepTotal": 4}, Progress(2, 4, 50.0)),
    ({"percentage": "12.5"}, Progress(None, None, 12.5)),
    (" 60%|██████    | 30/50 [00:05<00:03, 6.1it/s]", Progress(30, 50, 60.0)),
    ("loading weights", None),
    ('{"type": "log", "text": "x"}', None),
    ("{not json", None),
    ({"type": "progressGenerate"}, None),
    (None, None),
    (42, None),
])
def test_parse_progress(message: Any, expected: Progress | None) -> None:
    assert parse_progress(message) == expected


def test_parse_frame() -> None:
    assert parse_frame('{"type": "task_start", "id": "1"}') == {"type": "task_start", "id": "1"}
    assert parse_frame(b'{"type": "connected"}') == {"type": "connected"}
    for raw in ("nope", "[1]", '{"message": 1}', b"\xff", '{"type": 3}'):
        assert parse_frame(raw) is None


@pytest.mark.parametrize(("url", "loopback"), [
    ("http://127.0.0.1:8000/v1", True), ("ws://localhost:1/v1", True),
    ("http://[::1]:80/", True), ("https://api.wiro.ai/v1", False),
    ("http://10.0.0.1/", False),
])
def test_loopback(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_follows_to_success_with_one_update_per_change() -> None:
    caller = threading.get_ident()
    seen_threads: set[int] = set()
    detail = script("task_queue", "task_queue", "task_start", "task_start", "task_output",
                    "task_postprocess_end")
    updates: list[TaskUpdate] = []

    def on_update(update: TaskUpdate) -> None:
        seen_threads.add(threading.get_ident())
        updates.append(update)

    record = follow(detail=detail, token="tok", task_id="1", socket_url=None,
                    started_at=time.time(), on_update=on_update, config=FAST)
    assert record["status"] == "task_postprocess_end"
    assert [u.status for u in updates] == ["task_queue", "task_start", "task_output",
                                           "task_postprocess_end"]
    assert [u.label for u in updates] == ["queued", "starting", "generating", "done"]
    assert all(u.source == "poll" and u.task_id == "1" and u.elapsed >= 0 for u in updates)
    assert seen_threads == {caller}


@pytest.mark.parametrize("status", ["task_cancel", "task_error"])
def test_other_terminal_states_end_the_wait(status: str) -> None:
    record, updates = run(script("task_queue", status))
    assert record["status"] == status
    assert updates[-1].status == status


def test_unknown_status_is_surfaced_then_ends_the_wait() -> None:
    started = time.monotonic()
    with pytest.raises(UnknownStatus, match="task_teleporting") as info:
        run(script("task_queue", "task_teleporting"))
    assert info.value.status == "task_teleporting"
    assert time.monotonic() - started < 5


def test_unknown_status_that_passes_is_forgiven() -> None:
    _, updates = run(script("task_queue", "task_blip", "task_start", "task_postprocess_end"))
    assert [u.status for u in updates] == ["task_queue", "task_blip", "task_start",
                                           "task_postprocess_end"]


def test_missing_exit_code_gets_a_short_grace() -> None:
    ended_early = {"id": "1", "status": "task_postprocess_end", "pexit": ""}
    ended = {"id": "1", "status": "task_postprocess_end", "pexit": "0"}
    record, _ = run(script("task_start", ended_early, ended_early, ended))
    assert record["pexit"] == "0"
    record, _ = run(script(ended_early))  # never gets one: returned after the grace
    assert record["pexit"] == ""


def test_cancel_event_is_seen_within_100ms() -> None:
    event = threading.Event()
    threading.Timer(0.2, event.set).start()
    with pytest.raises(FollowStopped) as info:
        run(script("task_queue", "task_start"), cancel_event=event)
    assert info.value.reason == "cancel"
    assert info.value.status == "task_start"


def test_cancel_is_seen_even_while_detail_is_stuck() -> None:
    def stuck() -> dict[str, Any]:
        time.sleep(5)
        return {"status": "task_queue"}

    event = threading.Event()
    threading.Timer(0.1, event.set).start()
    started = time.monotonic()
    with pytest.raises(FollowStopped):
        run(stuck, cancel_event=event)
    assert time.monotonic() - started < 1.5


def test_deadline() -> None:
    with pytest.raises(FollowStopped) as info:
        run(script("task_queue"), deadline=time.monotonic() + 0.2)
    assert info.value.reason == "timeout"
    assert info.value.status == "task_queue"


def test_not_found_is_tolerated_only_just_after_submit() -> None:
    record, _ = run(script(NotFound("There is no task yet.", code=1), "task_postprocess_end"))
    assert record["status"] == "task_postprocess_end"
    with pytest.raises(NotFound):
        run(script(NotFound("There is no task yet.", code=1)))


def test_transient_poll_errors_are_retried_and_auth_errors_are_not() -> None:
    record, _ = run(script(NetworkError("boom"), "task_postprocess_end"))
    assert record["status"] == "task_postprocess_end"
    with pytest.raises(AuthError):
        run(script(AuthError("bad key", code=0, http_status=401)))


def test_a_raising_callback_does_not_end_the_wait() -> None:
    def bad(update: TaskUpdate) -> None:
        raise RuntimeError("callback bug")

    record = follow(detail=script("task_queue", "task_postprocess_end"), token="t",
                    task_id="1", socket_url=None, started_at=time.time(), on_update=bad,
                    config=FAST)
    assert record["status"] == "task_postprocess_end"
