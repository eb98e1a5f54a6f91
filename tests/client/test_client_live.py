"""Live status: the WebSocket path, polling when the socket is refused or disabled, and a
socket that drops mid-task (the final state always read from Task/Detail)."""

from __future__ import annotations

import contextlib
import itertools
import logging
from typing import Any

import pytest
from client_helpers import MODEL, closed_port

from wiro_widgets import WiroClient
from wiro_widgets.client import FollowConfig
from wiro_widgets.errors import TaskTimeout
from wiro_widgets.protocol import STATUS_ORDER
from wiro_widgets.results import TaskUpdate


def run_with_updates(client: WiroClient, **params: Any) -> tuple[Any, list[TaskUpdate]]:
    updates: list[TaskUpdate] = []
    result = client.run(MODEL, on_update=updates.append, timeout=60,
                        **{"prompt": "live", "width": 64, "height": 64, "steps": 8, **params})
    return result, updates


def run_polled_stage_by_stage(sb: Any, client: WiroClient) -> tuple[Any, list[TaskUpdate]]:
    """Run with the task held at three stages, each released once the client reported it,
    so a poller sees at least those three however the machine's load shifts the timing."""
    updates: list[TaskUpdate] = []
    with contextlib.ExitStack() as stack:
        gates = {status: stack.enter_context(sb.gate(status))
                 for status in ("task_queue", "task_start", "task_output")}

        def on_update(update: TaskUpdate) -> None:
            updates.append(update)
            if update.status in gates:
                gates[update.status].release()

        result = client.run(MODEL, on_update=on_update, timeout=60, prompt="live", width=64,
                            height=64, steps=8)
    return result, updates


def assert_in_order(updates: list[TaskUpdate]) -> None:
    ranks = [STATUS_ORDER.index(u.status) for u in updates if u.status in STATUS_ORDER]
    assert ranks == sorted(ranks), [u.status for u in updates]


def test_socket_path_reports_every_step(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=10.0)
    result, updates = run_with_updates(sb.client())
    assert result.images
    steps = [u for u in updates if u.status == "task_output"]
    assert [(u.step, u.total_steps) for u in steps] == [(i, 8) for i in range(1, 9)]
    assert all(u.source == "socket" for u in steps)
    assert [u.label for u in steps][-1] == "generating 8/8"
    assert steps[-1].percentage == 100.0
    assert steps[-1].fraction == 1.0
    assert updates[0].status == "submitting"
    assert updates[-1].status == "downloading"
    assert "task_postprocess_end" in [u.status for u in updates]
    assert_in_order(updates)
    assert all(b.elapsed >= a.elapsed for a, b in itertools.pairwise(updates))
    # No update repeats the one before it.
    keys = [(u.status, u.step) for u in updates]
    assert all(a != b for a, b in itertools.pairwise(keys))


def test_refused_socket_falls_back_to_polling(make_sandbox: Any) -> None:
    sb = make_sandbox()
    client = WiroClient(api_key=sb.api_key, api_secret=sb.api_secret, base_url=sb.base_url,
                        socket_url=f"ws://127.0.0.1:{closed_port()}/v1")
    result, updates = run_polled_stage_by_stage(sb, client)
    assert result.images
    followed = [u for u in updates if u.source not in ("client",)]
    assert followed
    assert all(u.source == "poll" for u in followed)
    assert len({u.status for u in followed}) >= 3
    assert_in_order(updates)


def test_polling_only_when_the_socket_is_off(make_sandbox: Any) -> None:
    sb = make_sandbox()
    result, updates = run_polled_stage_by_stage(sb, sb.client(use_socket=False))
    assert result.images
    assert all(u.source in ("poll", "client") for u in updates)
    details = [r for r in sb.requests if r.path == "/v1/Task/Detail"]
    assert len(details) >= 3


def test_polling_interval_backs_off(make_sandbox: Any) -> None:
    # A task that sits queued: polls start around 0.2 s apart, then space out.
    sb = make_sandbox()
    cfg = FollowConfig(first_interval=0.2, max_interval=1.0, growth=2.0)
    client = sb.client(use_socket=False, follow_config=cfg)
    with sb.gate("task_queue"):
        task = client.submit(MODEL, prompt="slow", width=64, height=64, steps=2)
        with pytest.raises(TaskTimeout):
            client.wait(task, timeout=2.5, on_timeout="cancel")
    times = [r.time for r in sb.requests if r.path == "/v1/Task/Detail"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] < 0.5
    assert max(gaps) > 0.7


def test_socket_dropped_mid_task(make_sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    from wiro_widgets.sandbox import Faults

    sb = make_sandbox(speed=5.0, faults=Faults(socket_drop_rate=0.3, seed=3))
    client = sb.client(follow_config=FollowConfig(socket_connects=2))
    with caplog.at_level(logging.DEBUG, logger="wiro_widgets"):
        results = [run_with_updates(client, seed=i) for i in range(3)]
    drops = [r for r in caplog.records if "socket dropped" in r.getMessage()]
    assert len(drops) >= 2  # ~15 frames a task at 30 % each: every task loses its socket
    for result, updates in results:
        assert result.images
        assert result.record["status"] == "task_postprocess_end"
        assert result.record["pexit"] == "0"
        assert_in_order(updates)


def test_final_state_comes_from_task_detail(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=10.0)
    client = sb.client()
    result, _ = run_with_updates(client)
    details = [r for r in sb.requests if r.path == "/v1/Task/Detail"]
    assert details  # even with a live socket, Task/Detail was read
    assert result.record["pexit"] == "0"
    assert details[-1].time >= next(t for s, t in sb.tasks[-1].history
                                    if s == "task_postprocess_end")
