"""Injected faults: every kind on every endpoint, with zero duplicate Runs; lost answers
adopted, unknown outcomes reported, the concurrency limit, Retry-After, refused connections."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from client_helpers import MODEL, SMALL, closed_port, run_requests

from wiro_widgets.backoff import RetryPolicy
from wiro_widgets.client._transport import never_sent
from wiro_widgets.errors import (
    ApiError,
    ConcurrencyLimit,
    NetworkError,
    RunOutcomeUnknown,
)
from wiro_widgets.ledger import Ledger
from wiro_widgets.sandbox import Faults

QUICK_RETRY = RetryPolicy(budget=20.0, base=0.05, cap=0.4)


def faulty_client(sb: Any, **kwargs: Any) -> Any:
    client = sb.client(retry=QUICK_RETRY, **kwargs)
    client.reconcile_window = 0.4
    return client


@pytest.mark.parametrize("kind", ["500", "429", "garbled", "drop",
                                  pytest.param("stall", marks=pytest.mark.slow)])
def test_each_fault_kind_never_duplicates_a_run(make_sandbox: Any, wiro_home: Path,
                                                kind: str) -> None:
    sb = make_sandbox(speed=50.0, concurrency_limit=None, faults=Faults(
        error_rate=0.35, kinds=(kind,), stall_seconds=1.0, retry_after=0, seed=11))
    # For stalls the read timeout is shorter than the stall: the Run's answer is lost
    # while the server goes on to create the task.
    timeout = (2.0, 0.5) if kind == "stall" else (2.0, 5.0)
    client = faulty_client(sb, timeout=timeout)
    returned, failures = [], []
    for i in range(12):
        try:
            returned.append(client.submit(MODEL, prompt=f"{kind} {i}", seed=i, **SMALL))
        except NetworkError as err:
            failures.append(err)
        faulted_runs = [r for r in run_requests(sb) if r.fault == kind]
        if len(faulted_runs) >= 2 and len(returned) >= 2:
            break
    assert len([r for r in run_requests(sb) if r.fault == kind]) >= 2
    results = [client.wait(task, timeout=60) for task in returned]
    assert all(r.images for r in results)
    # Zero duplicates: the sandbox holds exactly the tasks the client handed back.
    assert sorted(t.id for t in sb.tasks) == sorted(t.id for t in returned)
    assert len({t.id for t in returned}) == len(returned)
    runs = run_requests(sb)
    faulted = [r for r in runs if r.fault == kind]
    events = list(Ledger(wiro_home).events())
    adopted = [e for e in events if e["event"] == "submitted" and e["adopted"]]
    unknown = [e for e in events if e["event"] == "run_unknown"]
    if kind == "429":
        # A 429 started nothing: the Run was sent again.
        assert adopted == []
        assert unknown == []
        assert failures == []
        assert len(runs) == len(sb.tasks) + len(faulted)
    elif kind == "stall":
        # A stalled Run still creates its task after the client stopped reading: each
        # one was found and adopted rather than sent again.
        assert len(adopted) == len(faulted)
        assert len(runs) == len(sb.tasks)
    else:
        # The Run may have reached the server (here it struck before a task existed, but
        # the client cannot know that): never sent again, reported as unknown, kept in the
        # ledger. One Run per submit.
        assert adopted == []
        assert len(failures) == len(faulted) == len(unknown)
        assert all(isinstance(err, RunOutcomeUnknown) and err.task_may_exist
                   for err in failures)
        assert len(runs) == len(returned) + len(failures)


def test_lost_run_answers_are_adopted(make_sandbox: Any, wiro_home: Path) -> None:
    sb = make_sandbox(speed=50.0, faults=Faults(lost_run_rate=1.0))
    client = faulty_client(sb)
    tasks = [client.submit(MODEL, prompt=f"lost {i}", seed=i, **SMALL) for i in range(3)]
    assert [r.fault for r in run_requests(sb)] == ["lost_run"] * 3  # one Run each
    assert sorted(t.id for t in sb.tasks) == sorted(t.id for t in tasks)
    submitted = [e for e in Ledger(wiro_home).events() if e["event"] == "submitted"]
    assert all(e["adopted"] for e in submitted)
    assert all(client.wait(t, timeout=30).images for t in tasks)


def test_identical_params_are_told_apart(make_sandbox: Any) -> None:
    # Two lost Runs with the same parameters: each adopts its own task, never the other's.
    sb = make_sandbox(speed=50.0, faults=Faults(lost_run_rate=1.0))
    client = faulty_client(sb)
    first = client.submit(MODEL, prompt="same", **SMALL)
    second = client.submit(MODEL, prompt="same", **SMALL)
    assert first.id != second.id
    assert len(sb.tasks) == 2


def test_unknown_outcome_is_reported_not_guessed(make_sandbox: Any, wiro_home: Path) -> None:
    sb = make_sandbox(faults=Faults(error_rate=1.0, kinds=("500",)))
    client = sb.client(retry=RetryPolicy(budget=0.3, base=0.05, cap=0.1))
    with pytest.raises(RunOutcomeUnknown) as info:
        client.submit(MODEL, prompt="who knows", **SMALL)
    assert info.value.task_may_exist is True
    assert "check client.history()" in str(info.value)
    assert len(run_requests(sb)) == 1  # never re-sent without proof
    events = [e for e in Ledger(wiro_home).events() if e["event"] == "run_unknown"]
    assert events
    assert events[0]["model"] == MODEL
    assert events[0]["params"]["prompt"]


def test_concurrency_limit_fails_fast_or_waits(make_sandbox: Any) -> None:
    sb = make_sandbox(concurrency_limit=1)
    client = sb.client()
    with sb.gate("task_queue") as queued, ThreadPoolExecutor(1) as pool:
        first = client.submit(MODEL, prompt="first", **SMALL)
        with pytest.raises(ConcurrencyLimit) as info:
            client.submit(MODEL, prompt="second", busy_timeout=0, **SMALL)
        assert info.value.code == 96
        assert len(sb.tasks) == 1
        waiting = pool.submit(client.submit, MODEL, prompt="second", busy_timeout=60, **SMALL)
        deadline = time.monotonic() + 30
        while len(run_requests(sb)) < 3:  # refused once more while the first is held
            assert time.monotonic() < deadline, "the waiting submit never tried"
            assert not waiting.done(), waiting.result()
            time.sleep(0.02)
        assert len(sb.tasks) == 1
        queued.release(first.id)
        second = waiting.result(timeout=60)
    assert len(sb.tasks) == 2
    assert sb.tasks[0].terminal  # it waited for the first to finish
    assert client.wait(first).images
    assert client.wait(second).images


def test_reads_retry_and_honour_retry_after(make_sandbox: Any) -> None:
    sb = make_sandbox(faults=Faults(error_rate=1.0, kinds=("429",), retry_after=1))
    client = sb.client(retry=RetryPolicy(budget=2.5))
    started = time.monotonic()
    with pytest.raises(ApiError) as info:
        client.detail("123")
    assert info.value.http_status == 429
    times = [r.time for r in sb.requests if r.path == "/v1/Task/Detail"]
    assert len(times) >= 2
    assert all(b - a >= 0.9 for a, b in itertools.pairwise(times))
    assert time.monotonic() - started < 5


def test_reads_ride_out_mixed_faults(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=50.0)
    client = faulty_client(sb)
    task = client.submit(MODEL, prompt="read me", **SMALL)
    sb.set_faults(Faults(error_rate=0.5, kinds=("500", "garbled", "drop")))
    for _ in range(10):
        assert client.detail(task)["id"] == task.id
    assert any(r.fault for r in sb.requests)


def test_never_sent_tells_refused_from_lost() -> None:
    with pytest.raises(requests.ConnectionError) as refused:
        requests.post(f"http://127.0.0.1:{closed_port()}/v1/Run/a/b", timeout=2)
    assert never_sent(refused.value)


def test_a_read_timeout_may_have_been_sent(make_sandbox: Any) -> None:
    sb = make_sandbox(faults=Faults(error_rate=1.0, kinds=("stall",), stall_seconds=1.0))
    with pytest.raises(requests.ReadTimeout) as lost:
        requests.post(sb.base_url + "/Task/Detail", json={}, timeout=(2, 0.2))
    assert not never_sent(lost.value)


def test_lost_answer_with_a_callback_url_is_still_found(make_sandbox: Any) -> None:
    # The callback URL is not among a task's stored parameters; matching must not need it.
    sb = make_sandbox(speed=50.0, faults=Faults(lost_run_rate=1.0))
    client = faulty_client(sb)
    task = client.submit(MODEL, prompt="with callback", callback_url="http://127.0.0.1:9/cb",
                         **SMALL)
    assert [t.id for t in sb.tasks] == [task.id]
    assert len(run_requests(sb)) == 1
