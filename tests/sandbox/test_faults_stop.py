"""Fault modes of Cancel and Kill (issue 12): refused with Wiro's code-1 answers, or ignored
(answered as a success while the task goes on). Raw HTTP only; gates make "queued" and
"running" certain."""

from __future__ import annotations

from typing import Any

import pytest

from .wire import Api, assert_envelope

CANCEL_REFUSED = "Task is not in a cancellable state."


def _held(sb: Any, status: str) -> tuple[Api, dict[str, Any], Any]:
    api = Api(sb)
    gate = sb.gate(status)
    answer = api.run_ok(prompt=f"held at {status}", steps=2)
    gate.wait_reached(answer["taskid"], timeout=10)
    return api, answer, gate


@pytest.mark.parametrize("ident", ["taskid", "tasktoken"])
def test_refused_cancel_answers_code_1_and_the_task_goes_on(make_sandbox: Any,
                                                           ident: str) -> None:
    sb = make_sandbox(faults={"cancel": "refuse"})
    api, answer, gate = _held(sb, "task_queue")
    with gate:
        key = answer["taskid"] if ident == "taskid" else answer["socketaccesstoken"]
        response = api.post("/Task/Cancel", json={ident: key})
        error = assert_envelope(response, 200, 1)
        assert error["message"] == CANCEL_REFUSED
        assert api.detail(taskid=answer["taskid"])["status"] == "task_queue"
    record = api.wait(answer["socketaccesstoken"])
    assert (record["status"], record["pexit"]) == ("task_postprocess_end", "0")


def test_refused_kill_answers_code_1_with_a_reason_and_the_task_goes_on(
        make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"kill": "refuse"})
    api, answer, gate = _held(sb, "task_start")
    with gate:
        response = api.post("/Task/Kill", json={"socketaccesstoken": answer["socketaccesstoken"]})
        error = assert_envelope(response, 200, 1)
        assert error["message"].startswith("Task could not be killed: ")
        assert len(error["message"]) > len("Task could not be killed: ")
        assert api.detail(taskid=answer["taskid"])["status"] == "task_start"
    record = api.wait(answer["socketaccesstoken"])
    assert (record["status"], record["pexit"]) == ("task_postprocess_end", "0")


@pytest.mark.parametrize(("endpoint", "status", "knob"), [
    ("/Task/Cancel", "task_queue", "cancel"),
    ("/Task/Kill", "task_start", "kill"),
])
def test_ignored_stop_answers_success_but_the_task_goes_on(make_sandbox: Any, endpoint: str,
                                                           status: str, knob: str) -> None:
    sb = make_sandbox(faults={knob: "ignore"})
    api, answer, gate = _held(sb, status)
    with gate:
        response = api.post(endpoint, json={"taskid": answer["taskid"]})
        body = response.json()
        assert response.status_code == 200
        assert body["result"] is True
        assert body["errors"] == []
        # The answer looks like the documented success (the record as cancelled) ...
        assert body["tasklist"][0]["status"] == "task_cancel"
        assert body["tasklist"][0]["id"] == answer["taskid"]
        # ... but the task was not stopped.
        assert api.detail(taskid=answer["taskid"])["status"] == status
    record = api.wait(answer["socketaccesstoken"])
    assert (record["status"], record["pexit"]) == ("task_postprocess_end", "0")
    assert record["canceltime"] == "0"
    assert "task_cancel" not in [s for s, _ in sb.tasks[-1].history]


def test_cancel_fault_leaves_kill_alone(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"cancel": "refuse"})
    api, answer, gate = _held(sb, "task_start")
    with gate:
        killed = api.post("/Task/Kill", json={"taskid": answer["taskid"]}).json()
        assert killed["result"] is True
    assert api.wait(answer["socketaccesstoken"])["status"] == "task_cancel"


def test_wrong_state_is_refused_as_always_under_ignore(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"cancel": "ignore"})
    api, answer, gate = _held(sb, "task_start")
    with gate:
        response = api.post("/Task/Cancel", json={"taskid": answer["taskid"]})
        assert_envelope(response, 200, 1, CANCEL_REFUSED)


def test_stop_faults_are_checked() -> None:
    from wiro_widgets.sandbox import Faults

    with pytest.raises(ValueError, match=r"Faults\.kill"):
        Faults(kill="shrug")
    assert Faults(cancel="ignore").active
