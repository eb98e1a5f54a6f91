"""Cancelling: Cancel while queued, Kill while running, the cancel event, and the overall
timeout (cancel or detach, then resume by token)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from client_helpers import MODEL, SMALL

from wiro_widgets.errors import TaskCancelled, TaskTimeout
from wiro_widgets.ledger import Ledger
from wiro_widgets.results import TaskUpdate

LONG = {"width": 64, "height": 64, "steps": 20}


def stop_paths(sb: Any) -> list[str]:
    return [r.path for r in sb.requests if r.path in ("/v1/Task/Cancel", "/v1/Task/Kill")]


def statuses(sb: Any, task_id: str) -> list[str]:
    return [s for s, _ in next(t for t in sb.tasks if t.id == task_id).history]


def cancel_when(event: threading.Event, status: str) -> tuple[Any, list[float]]:
    """An on_update that sets ``event`` on the first update with ``status``."""
    when: list[float] = []

    def on_update(update: TaskUpdate) -> None:
        if update.status == status and not event.is_set():
            when.append(time.monotonic())
            event.set()
    return on_update, when


def test_cancel_event_while_queued_uses_cancel(make_sandbox: Any, wiro_home: Path) -> None:
    sb = make_sandbox()
    client = sb.client()
    event = threading.Event()
    on_update, when = cancel_when(event, "task_queue")
    with sb.gate("task_queue"), pytest.raises(TaskCancelled) as info:
        client.run(MODEL, prompt="cancel while queued", on_update=on_update,
                   cancel_event=event, timeout=60, **SMALL)
    seen = time.monotonic() - when[0]
    task_id = info.value.task_id
    assert task_id is not None
    assert statuses(sb, task_id)[-1] == "task_cancel"
    assert "task_assign" not in statuses(sb, task_id)
    assert stop_paths(sb) == ["/v1/Task/Cancel"]
    assert info.value.record["status"] == "task_cancel"
    assert seen < 3.0  # generous: seen within 100 ms, then one Cancel and a Detail
    (finished,) = [e for e in Ledger(wiro_home).events() if e["event"] == "finished"]
    assert finished["outcome"] == "cancelled"


def test_cancel_event_while_running_uses_kill(make_sandbox: Any) -> None:
    sb = make_sandbox()
    client = sb.client()
    event = threading.Event()
    on_update, _ = cancel_when(event, "task_output")
    with sb.gate("task_output", step=2), pytest.raises(TaskCancelled) as info:
        client.run(MODEL, prompt="kill while running", on_update=on_update,
                   cancel_event=event, timeout=60, **LONG)
    task_id = info.value.task_id
    assert task_id is not None
    history = statuses(sb, task_id)
    assert "task_output" in history
    assert history[-1] == "task_cancel"
    assert "task_end" not in history
    assert stop_paths(sb) == ["/v1/Task/Kill"]


def test_cancel_event_set_from_another_thread(make_sandbox: Any) -> None:
    sb = make_sandbox()
    client = sb.client()
    event = threading.Event()
    with sb.gate("task_start"):  # it cannot end before the event, however slow the machine
        task = client.submit(MODEL, prompt="stop button", **SMALL)
        threading.Timer(0.5, event.set).start()
        started = time.monotonic()
        with pytest.raises(TaskCancelled):
            client.wait(task, cancel_event=event, timeout=60)
    assert time.monotonic() - started < 5
    assert sb.tasks[-1].status == "task_cancel"


@pytest.mark.parametrize(("status", "endpoint"), [("task_queue", "/v1/Task/Cancel"),
                                                  ("task_output", "/v1/Task/Kill")])
def test_client_cancel_picks_cancel_or_kill(make_sandbox: Any, status: str,
                                            endpoint: str) -> None:
    sb = make_sandbox()
    client = sb.client()
    with sb.gate(status) as gate:
        task = client.submit(MODEL, prompt="cancel me", **LONG)
        gate.wait_reached(task.id)
        record = client.cancel(task)
    assert record["status"] == "task_cancel"
    assert stop_paths(sb)[-1] == endpoint
    assert client.cancel(task)["status"] == "task_cancel"  # repeating is harmless


def test_kill(make_sandbox: Any) -> None:
    sb = make_sandbox()
    client = sb.client()
    with sb.gate("task_start") as gate:
        task = client.submit(MODEL, prompt="kill me", **LONG)
        gate.wait_reached(task.id)
        assert client.kill(task.token)["status"] == "task_cancel"


def test_cancel_of_a_finished_task_returns_its_record(sandbox: Any) -> None:
    client = sandbox.client()
    result = client.run(MODEL, prompt="done already", **SMALL)
    assert client.cancel(result.task)["status"] == "task_postprocess_end"


def test_timeout_cancels_by_default(make_sandbox: Any, wiro_home: Path) -> None:
    sb = make_sandbox()
    client = sb.client()
    with sb.gate("task_queue"), pytest.raises(TaskTimeout) as info:
        client.run(MODEL, prompt="too slow", timeout=1.0, **SMALL)
    assert info.value.detached is False
    assert sb.tasks[-1].status == "task_cancel"
    finished = [e for e in Ledger(wiro_home).events() if e["event"] == "finished"]
    assert finished[-1]["outcome"] == "timeout"


def test_timeout_can_detach_and_resume(make_sandbox: Any, wiro_home: Path) -> None:
    sb = make_sandbox()
    client = sb.client(on_timeout="detach")
    with sb.gate("task_start"):
        with pytest.raises(TaskTimeout) as info:
            client.run(MODEL, prompt="detach me", timeout=0.3, **SMALL)
        assert sb.tasks[-1].status == "task_start"  # still running
    err = info.value
    assert err.detached is True
    assert err.token
    assert f"client.wait({err.token!r})" in str(err)
    assert not Ledger(wiro_home).tasks()[err.token].is_finished  # resumable
    result = client.wait(err.token, timeout=30)
    assert result.images
    assert result.task_id == err.task_id
    assert Ledger(wiro_home).tasks()[err.token].is_finished


def test_per_call_on_timeout_overrides(make_sandbox: Any) -> None:
    sb = make_sandbox()
    client = sb.client()
    with sb.gate("task_start"):
        task = client.submit(MODEL, prompt="detach just this one", **SMALL)
        with pytest.raises(TaskTimeout) as info:
            client.wait(task, timeout=0.2, on_timeout="detach")
    assert info.value.detached
    assert client.wait(task, timeout=30).images
