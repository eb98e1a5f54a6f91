"""Fault injection: 500, 429 with Retry-After, garbled JSON, dropped connections, stalls,
latency, lost Run answers, seeded replay and runtime changes."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from wiro_widgets.sandbox import FAULT_KINDS, Faults

from .wire import Api, assert_envelope

DETAIL = "/Task/Detail"


def _only(kind: str, **extra: Any) -> dict[str, Any]:
    return {"error_rate": 1.0, "kinds": (kind,), **extra}


def test_500_fault_happens_before_any_task(make_sandbox: Any) -> None:
    sb = make_sandbox(faults=_only("500"))
    api = Api(sb)
    assert_envelope(api.run(json={"prompt": "x"}), 500, 0, "sandbox fault")
    assert sb.tasks == []
    assert sb.requests[-1].fault == "500"
    assert sb.requests[-1].status == 500


def test_429_fault_carries_retry_after(make_sandbox: Any) -> None:
    sb = make_sandbox(faults=_only("429", retry_after=3))
    response = Api(sb).post(DETAIL, json={})
    assert_envelope(response, 429, 0)
    assert response.headers["Retry-After"] == "3"


def test_garbled_fault_is_not_json(make_sandbox: Any) -> None:
    sb = make_sandbox(faults=_only("garbled"))
    response = Api(sb).post(DETAIL, json={})
    assert response.status_code == 200
    assert response.headers["x-wiro-sandbox"] == "1"
    with pytest.raises(ValueError):
        response.json()


def test_drop_fault_closes_without_a_response(make_sandbox: Any) -> None:
    sb = make_sandbox(faults=_only("drop"))
    with pytest.raises(requests.ConnectionError):
        Api(sb).run(json={"prompt": "x"})
    assert sb.tasks == []
    last = sb.requests[-1]
    assert last.fault == "drop"
    assert last.status is None


def test_stall_fault_holds_then_answers(make_sandbox: Any) -> None:
    sb = make_sandbox(faults=_only("stall", stall_seconds=0.3))
    started = time.monotonic()
    assert_envelope(Api(sb).post(DETAIL, json={}), 200, 0, "required")
    assert time.monotonic() - started >= 0.3


def test_stall_can_outlast_a_client_timeout_and_the_run_still_happens(make_sandbox: Any) -> None:
    sb = make_sandbox(faults=_only("stall", stall_seconds=0.5))
    with pytest.raises(requests.Timeout):
        Api(sb).run(json={"prompt": "slow"}, timeout=0.2)
    deadline = time.monotonic() + 5
    while not sb.tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sb.tasks) == 1


def test_latency_is_added(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"latency": 0.25})
    started = time.monotonic()
    assert_envelope(Api(sb).post(DETAIL, json={}), 200, 0)
    assert time.monotonic() - started >= 0.25


def test_lost_run_creates_the_task_but_drops_the_answer(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"lost_run_rate": 1.0})
    api = Api(sb)
    with pytest.raises(requests.ConnectionError):
        api.run(json={"prompt": "lost", "steps": 1})
    assert len(sb.tasks) == 1
    assert sb.requests[-1].fault == "lost_run"
    # Reads still work under lost_run_rate: the client can find the task again.
    listed = api.post("/Task/List", json={"limit": 5}).json()
    assert [t["id"] for t in listed["tasklist"]] == [sb.tasks[0].id]
    assert listed["tasklist"][0]["parameters"]["prompt"] == "lost"


def _pattern(sb: Any, count: int = 24) -> list[int]:
    api = Api(sb)
    return [api.post(DETAIL, json={}).status_code for _ in range(count)]


def test_seed_replays_the_same_pattern(make_sandbox: Any) -> None:
    faults = Faults(error_rate=0.5, kinds=("500", "429"), seed=42)
    first = _pattern(make_sandbox(faults=faults))
    second = _pattern(make_sandbox(faults=faults))
    assert first == second
    assert {200, 500, 429} <= set(first)
    third = _pattern(make_sandbox(faults=Faults(error_rate=0.5, kinds=("500", "429"), seed=43)))
    assert third != first


def test_error_rate_is_roughly_the_fraction(make_sandbox: Any) -> None:
    statuses = _pattern(make_sandbox(faults={"error_rate": 0.25, "kinds": ["500"], "seed": 1}),
                        count=80)
    assert 8 <= statuses.count(500) <= 32


def test_set_faults_at_runtime(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    assert_envelope(api.post(DETAIL, json={}), 200, 0)
    sb.set_faults(Faults(error_rate=1.0, kinds=("500",)))
    assert sb.faults.error_rate == 1.0
    assert_envelope(api.post(DETAIL, json={}), 500, 0)
    sb.set_faults(None)
    assert_envelope(api.post(DETAIL, json={}), 200, 0)


def test_faults_reject_bad_settings() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=1.5)
    with pytest.raises(ValueError, match="kinds"):
        Faults(kinds=("teapot",))
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.coerce({"errors": 0.1})
    with pytest.raises(ValueError, match="latency"):
        Faults(latency=-1)
    assert Faults.coerce({"kinds": "429"}).kinds == ("429",)
    assert Faults.coerce(None) == Faults()
    assert set(Faults().kinds) == set(FAULT_KINDS)
    assert not Faults().active
    assert Faults(latency=0.1).active
