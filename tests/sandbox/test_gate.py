"""Gates hold tasks at a chosen status until released: at each kind of status, under Cancel
and Kill, on close and on stop, with many tasks at once, and never without an open gate."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from wiro_widgets.protocol import STATUS_ORDER
from wiro_widgets.sandbox import Gate

from .wire import Api

#: So fast that a task nobody holds ends within milliseconds.
FAST = 1000.0


def _statuses(sb: Any, task_id: str) -> list[str]:
    task = next(t for t in sb.tasks if t.id == task_id)
    return [s for s, _ in task.history]


def _lifecycle_thread(task_id: str) -> threading.Thread | None:
    return next((t for t in threading.enumerate() if t.name == f"sandbox-task-{task_id}"),
                None)


@pytest.mark.parametrize("status", ["task_queue", "task_preprocess_end", "task_start",
                                    "task_output", "task_end", "task_postprocess_start"])
def test_a_task_is_held_at_the_status_until_released(make_sandbox: Any, status: str) -> None:
    sb = make_sandbox(speed=FAST)
    api = Api(sb)
    with sb.gate(status) as gate:
        answer = api.run_ok(steps=3)
        task_id = answer["taskid"]
        assert gate.wait_reached(task_id, timeout=10) == task_id
        assert not sb.wait_idle(0.5)  # a free task would have ended ~100 times over
        assert api.detail(taskid=task_id)["status"] == status
        assert _statuses(sb, task_id)[-1] == status
        assert gate.held == [task_id]
        gate.release(task_id)
        assert sb.wait_idle(10)
        assert gate.held == []
        assert gate.reached == [task_id]
    record = api.detail(taskid=task_id)
    assert record["status"] == "task_postprocess_end"
    assert record["pexit"] == "0"
    history = _statuses(sb, task_id)
    assert [s for i, s in enumerate(history) if i == 0 or history[i - 1] != s] == list(
        STATUS_ORDER)


def test_task_output_step_holds_at_that_progress_frame(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=FAST)
    api = Api(sb)
    with sb.gate("task_output", step=3) as gate:
        task_id = api.run_ok(steps=5)["taskid"]
        gate.wait_reached(task_id)
        assert _statuses(sb, task_id).count("task_output") == 3
        record = api.detail(taskid=task_id)
        assert record["status"] == "task_output"
        assert record["pexit"] == ""
    assert sb.wait_idle(10)
    assert _statuses(sb, task_id).count("task_output") == 5


def test_without_a_step_task_output_holds_once_at_the_first_frame(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=FAST)
    api = Api(sb)
    with sb.gate("task_output") as gate:
        task_id = api.run_ok(steps=4)["taskid"]
        gate.wait_reached(task_id)
        assert _statuses(sb, task_id).count("task_output") == 1
        gate.release(task_id)
        assert sb.wait_idle(10)  # not held again at steps 2..4 by the same gate
    assert _statuses(sb, task_id).count("task_output") == 4


def test_cancel_and_kill_end_a_hold(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=FAST, concurrency_limit=None)
    api = Api(sb)
    with sb.gate("task_queue") as queued, sb.gate("task_start") as running:
        first = api.run_ok()["taskid"]
        queued.wait_reached(first)
        queued.release(first)
        running.wait_reached(first)
        second = api.run_ok()["taskid"]
        queued.wait_reached(second)
        assert running.held == [first]
        assert queued.held == [second]
        cancelled = api.post("/Task/Cancel", json={"taskid": second}).json()
        killed = api.post("/Task/Kill", json={"taskid": first}).json()
        assert cancelled["tasklist"][0]["status"] == "task_cancel"
        assert killed["tasklist"][0]["status"] == "task_cancel"
        for task_id in (first, second):
            thread = _lifecycle_thread(task_id)
            if thread is not None:
                thread.join(10)
                assert not thread.is_alive(), "a cancelled task's thread stayed held"
        assert queued.held == running.held == []
    assert _statuses(sb, first)[-2:] == ["task_start", "task_cancel"]
    assert _statuses(sb, second) == ["task_queue", "task_cancel"]


def test_leaving_the_with_block_releases_every_held_task(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=FAST, concurrency_limit=None)
    api = Api(sb)
    with sb.gate("task_assign") as gate:
        ids = [api.run_ok(steps=2)["taskid"] for _ in range(8)]
        for task_id in ids:
            gate.wait_reached(task_id)
        assert sorted(gate.held) == sorted(ids)
    assert sb.wait_idle(10)
    assert all(t.pexit == "0" for t in sb.tasks)
    # A closed gate holds nothing new.
    api.run_ok(steps=1)
    assert sb.wait_idle(10)
    assert sorted(gate.reached) == sorted(ids)


def test_release_without_an_id_lets_all_go_but_the_gate_stays_open(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=FAST, concurrency_limit=None)
    api = Api(sb)
    with sb.gate("task_queue") as gate:
        first = api.run_ok(steps=1)["taskid"]
        assert gate.wait_reached() == first  # any task: the first to arrive
        gate.release()
        assert sb.wait_idle(10)
        later = api.run_ok(steps=1)["taskid"]
        gate.wait_reached(later)
        assert gate.held == [later]
    assert sb.wait_idle(10)


def test_stop_releases_held_tasks_at_once(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=FAST)
    api = Api(sb)
    gate = sb.gate("task_start")
    task_id = api.run_ok()["taskid"]
    gate.wait_reached(task_id)
    thread = _lifecycle_thread(task_id)
    assert thread is not None
    started = time.monotonic()
    sb.stop()
    assert time.monotonic() - started < 4  # stop waits up to 5 s for a thread that hangs
    assert not thread.is_alive()
    with pytest.raises(RuntimeError):
        sb.gate("task_queue")


def test_wait_reached_fails_clearly(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=FAST, faults={"task_error_status": True})
    api = Api(sb)
    with sb.gate("task_start") as gate:
        with pytest.raises(TimeoutError, match="no task reached the gate at task_start"):
            gate.wait_reached(timeout=0.2)
        # error-me stops while preprocessing: it can never reach task_start.
        task_id = api.run_ok(prompt="error-me")["taskid"]
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"ended \(task_error\)"):
            gate.wait_reached(task_id, timeout=30)
        assert time.monotonic() - started < 10  # told when it ended, not at the timeout


def test_bad_gates_are_refused(make_sandbox: Any) -> None:
    sb = make_sandbox()
    for status in ("task_postprocess_end", "task_cancel", "task_error", "queued"):
        with pytest.raises(ValueError, match="cannot be held"):
            sb.gate(status)
    with pytest.raises(ValueError, match="task_output only"):
        sb.gate("task_start", step=2)
    with pytest.raises(ValueError, match="task_output only"):
        sb.gate("task_output", step=0)
    assert isinstance(sb.gate("task_output", step=1), Gate)


def test_the_websocket_shows_the_held_status(make_sandbox: Any, ws_connect: Any) -> None:
    import json

    sb = make_sandbox(speed=FAST)
    api = Api(sb)
    ws = ws_connect(sb)
    with sb.gate("task_queue") as gate:
        answer = api.run_ok(steps=1)
        gate.wait_reached(answer["taskid"])
        ws.send(json.dumps({"type": "task_info", "tasktoken": answer["socketaccesstoken"]}))
        assert json.loads(ws.recv(timeout=5))["type"] == "task_queue"
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)  # nothing moves while held
    assert json.loads(ws.recv(timeout=5))["type"] == "task_accept"
