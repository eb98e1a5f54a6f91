"""Fault mode: interim ``task_error`` log frames in runs that succeed (issue 13 item 12). The
docs call a ``task_error`` frame "an interim log event, not a final failure"; only Task/Detail's
final record decides."""

from __future__ import annotations

import json
from typing import Any

from wiro_widgets.sandbox.modelrun import STDERR_WARNINGS

from .wire import Api, frames_until


def _subscribe(ws: Any, token: str) -> None:
    ws.send(json.dumps({"type": "task_info", "tasktoken": token}))


def _ended(frame: dict[str, Any]) -> bool:
    return frame["type"] in ("task_postprocess_end", "task_cancel")


def _run_and_watch(sb: Any, ws: Any, steps: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    api = Api(sb)
    with sb.gate("task_queue") as queued:  # subscribed before it runs: every frame is seen
        answer = api.run_ok(prompt="warns but succeeds", steps=steps)
        queued.wait_reached(answer["taskid"])
        _subscribe(ws, answer["socketaccesstoken"])
        json.loads(ws.recv(timeout=5))
    frames = frames_until(ws, _ended)
    return api.detail(taskid=answer["taskid"]), frames


def test_interim_task_error_frames_in_a_run_that_succeeds(make_sandbox: Any,
                                                          ws_connect: Any) -> None:
    sb = make_sandbox(faults={"interim_error_rate": 1.0})
    record, frames = _run_and_watch(sb, ws_connect(sb), steps=4)
    kinds = [f["type"] for f in frames]
    errors = [f["message"] for f in frames if f["type"] == "task_error"]
    assert len(errors) == 4                                  # one per step at rate 1
    assert all(line in STDERR_WARNINGS for line in errors)
    # Interleaved with progress: a task_error frame never ends the stream of steps.
    first_error = kinds.index("task_error")
    assert "task_output" in kinds[first_error + 1:]
    full = next(f for f in frames if f["type"] == "task_error_full")
    assert full["message"] == {"raw": "\n".join(errors)}
    # The task succeeds; its debugerror holds the stderr lines anyway.
    assert (record["status"], record["pexit"]) == ("task_postprocess_end", "0")
    assert record["outputs"]
    assert float(record["totalcost"]) > 0
    assert record["debugerror"] == "\n".join(errors)
    assert frames[-1]["message"] == record["outputs"]


def test_ordinary_runs_print_nothing_on_stderr(make_sandbox: Any, ws_connect: Any) -> None:
    sb = make_sandbox()
    record, frames = _run_and_watch(sb, ws_connect(sb), steps=4)
    assert not {"task_error", "task_error_full"} & {f["type"] for f in frames}
    assert record["debugerror"] == ""


def test_interim_errors_replay_with_a_seed(make_sandbox: Any) -> None:
    def debugerrors() -> list[str]:
        sb = make_sandbox(faults={"interim_error_rate": 0.5, "seed": 5},
                          concurrency_limit=None)
        api = Api(sb)
        tokens = [api.run_ok(prompt=f"run {i}", steps=8)["socketaccesstoken"] for i in range(3)]
        return [api.wait(token)["debugerror"] for token in tokens]

    first = debugerrors()
    assert first == debugerrors()
    lines = [len(text.splitlines()) for text in first]
    assert any(0 < count < 8 for count in lines), lines
