"""The WebSocket: no frame before a subscription, task_info subscriptions, one frame per
status, progress objects per step, the outputs array on task_postprocess_end, late
subscribers, several tokens per connection, ignored junk, cancel frames and injected drops."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from wiro_widgets.protocol import STATUS_ORDER

from .wire import Api, frames_until

FRAME_KEYS = {"type", "id", "tasktoken", "message", "result"}


def _subscribe(ws: Any, token: str) -> None:
    ws.send(json.dumps({"type": "task_info", "tasktoken": token}))


def _terminal(frame: dict[str, Any]) -> bool:
    # On the socket, task_error is an interim stderr line; only these two end a task.
    return frame["type"] in ("task_postprocess_end", "task_cancel")


def test_no_frame_before_a_subscription(sandbox: Any, api: Api, ws_connect: Any) -> None:
    # The {"type": "connected"} welcome is documented for Wiro's agent socket only; the task
    # socket's first frame is the subscribed task's status.
    ws = ws_connect(sandbox)
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.5)
    answer = api.run_ok(steps=1)
    _subscribe(ws, answer["socketaccesstoken"])
    first = json.loads(ws.recv(timeout=5))
    assert first["type"] != "connected"
    assert set(first) == FRAME_KEYS
    assert first["tasktoken"] == answer["socketaccesstoken"]
    assert sandbox.socket_url.startswith("ws://127.0.0.1:")
    assert sandbox.socket_url.endswith(
        "/v1")


def test_frames_follow_the_lifecycle_with_progress(make_sandbox: Any, ws_connect: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    ws = ws_connect(sb)
    with sb.gate("task_queue") as queued:  # subscribed while queued: every frame is seen
        answer = api.run_ok(steps=4)
        token = answer["socketaccesstoken"]
        queued.wait_reached(answer["taskid"])
        _subscribe(ws, token)
        first = json.loads(ws.recv(timeout=5))
    frames = [first, *frames_until(ws, _terminal)]
    for frame in frames:
        assert set(frame) == FRAME_KEYS
        assert frame["id"] == answer["taskid"]
        assert frame["tasktoken"] == token
        assert frame["result"] is True
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "task_queue"
    order = [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]
    assert order == list(STATUS_ORDER)
    progress = [f["message"] for f in frames if f["type"] == "task_output"]
    assert [p["stepCurrent"] for p in progress] == ["1", "2", "3", "4"]
    assert [p["percentage"] for p in progress] == ["25", "50", "75", "100"]
    for item in progress:
        assert item["type"] == "progressGenerate"
        assert item["task"] == "Generate"
        assert item["stepTotal"] == "4"
        assert item["speedType"] == "it/s"
        assert {"speed", "elapsedTime", "remainingTime"} <= set(item)
        assert all(isinstance(v, str) for v in item.values())
    for kind in ("task_queue", "task_accept", "task_assign", "task_start", "task_end"):
        assert all(f["message"] is None for f in frames if f["type"] == kind)
    full = next(f for f in frames if f["type"] == "task_output_full")
    assert "raw" in full["message"]
    detail = api.detail(tasktoken=token)
    assert frames[-1]["type"] == "task_postprocess_end"
    assert frames[-1]["message"] == detail["outputs"]
    assert detail["outputs"]


def test_late_subscriber_gets_the_terminal_frame_at_once(sandbox: Any, api: Api,
                                                         ws_connect: Any) -> None:
    answer = api.run_ok(steps=1)
    record = api.wait(answer["socketaccesstoken"])
    ws = ws_connect(sandbox)
    _subscribe(ws, answer["socketaccesstoken"])
    frame = json.loads(ws.recv(timeout=5))
    assert frame["type"] == "task_postprocess_end"
    assert frame["message"] == record["outputs"]
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.3)


def test_several_tokens_on_one_connection(sandbox: Any, api: Api, ws_connect: Any) -> None:
    ws = ws_connect(sandbox)
    tokens = {api.run_ok(steps=2)["socketaccesstoken"] for _ in range(2)}
    for token in tokens:
        _subscribe(ws, token)
    done: set[str] = set()

    def both_done(frame: dict[str, Any]) -> bool:
        if _terminal(frame):
            done.add(frame["tasktoken"])
        return done == tokens

    frames = frames_until(ws, both_done)
    assert {f["tasktoken"] for f in frames} == tokens


def test_junk_frames_and_unknown_tokens_are_ignored(sandbox: Any, api: Api,
                                                   ws_connect: Any) -> None:
    ws = ws_connect(sandbox)
    ws.send("not json")
    ws.send(b"\x00\x01binary")
    ws.send(json.dumps({"type": "agent_info", "agenttoken": "x"}))
    ws.send(json.dumps(["task_info"]))
    ws.send(json.dumps({"type": "task_info"}))
    _subscribe(ws, "NoSuchTokenAtAll")
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.3)
    answer = api.run_ok(steps=1)
    _subscribe(ws, answer["socketaccesstoken"])
    frames = frames_until(ws, _terminal)
    assert frames[-1]["type"] == "task_postprocess_end"


def test_cancel_sends_a_terminal_task_cancel_frame(make_sandbox: Any, ws_connect: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    ws = ws_connect(sb)
    with sb.gate("task_queue") as queued:
        answer = api.run_ok()
        queued.wait_reached(answer["taskid"])
        _subscribe(ws, answer["socketaccesstoken"])
        assert json.loads(ws.recv(timeout=5))["type"] == "task_queue"  # the current status
        api.post("/Task/Cancel", json={"taskid": answer["taskid"]})
        frames = frames_until(ws, _terminal)
    assert frames[-1]["type"] == "task_cancel"
    assert frames[-1]["message"] is None


def test_failed_task_sends_error_frames_then_postprocess_end(sandbox: Any, api: Api,
                                                             ws_connect: Any) -> None:
    ws = ws_connect(sandbox)
    answer = api.run_ok(prompt="fail-me", steps=2)
    _subscribe(ws, answer["socketaccesstoken"])
    frames = frames_until(ws, _terminal)
    kinds = [f["type"] for f in frames]
    assert kinds[-1] == "task_postprocess_end"
    assert frames[-1]["message"] == []
    assert "task_error" in kinds
    assert "task_error_full" in kinds
    error = next(f for f in frames if f["type"] == "task_error")
    assert error["message"].startswith("Generation failed:")


def test_error_before_running_sends_a_log_line_then_postprocess_end(
        sandbox: Any, api: Api, ws_connect: Any) -> None:
    ws = ws_connect(sandbox)
    answer = api.run_ok(prompt="error-me")
    _subscribe(ws, answer["socketaccesstoken"])
    frames = frames_until(ws, _terminal)
    kinds = [f["type"] for f in frames]
    error = next(f for f in frames if f["type"] == "task_error")
    assert error["message"] == "Output folder creation failed"
    assert kinds.index("task_error") < kinds.index("task_error_full")
    assert kinds[-1] == "task_postprocess_end"
    assert frames[-1]["message"] == []
    record = api.detail(taskid=answer["taskid"])
    assert (record["status"], record["pexit"]) == ("task_postprocess_end", "1")


def test_error_status_task_ends_with_its_task_error_frame(make_sandbox: Any,
                                                          ws_connect: Any) -> None:
    sb = make_sandbox(faults={"task_error_status": True})
    api = Api(sb)
    ws = ws_connect(sb)
    answer = api.run_ok(prompt="error-me")
    _subscribe(ws, answer["socketaccesstoken"])
    frames = frames_until(ws, lambda f: f["message"] == "Output folder creation failed")
    assert frames[-1]["type"] == "task_error"
    assert api.detail(taskid=answer["taskid"])["status"] == "task_error"
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.3)


def test_socket_drop_rate_closes_abruptly(make_sandbox: Any, ws_connect: Any) -> None:
    sb = make_sandbox(faults={"socket_drop_rate": 1.0})
    api = Api(sb)
    ws = ws_connect(sb)
    _subscribe(ws, api.run_ok(steps=1)["socketaccesstoken"])
    with pytest.raises(ConnectionClosedError) as caught:
        ws.recv(timeout=5)
    assert caught.value.rcvd is None                                 # no close frame


def test_stop_closes_socket_connections(make_sandbox: Any, ws_connect: Any) -> None:
    sb = make_sandbox()
    ws = ws_connect(sb)
    sb.stop()
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=5)
