"""Fault modes of the world around a Run (issue 12): late listing, a server clock that is
off, and a gateway's 504 page after the task was accepted. Raw HTTP only."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest
import requests

from .wire import Api, png_bytes

TASK_TIMES = ("createtime", "accepttime", "preprocessstarttime", "preprocessendtime",
              "assigntime", "starttime", "endtime", "postprocessstarttime",
              "postprocessendtime")


def _listed_ids(api: Api) -> list[str]:
    body = api.post("/Task/List", json={"limit": 20}).json()
    assert body["result"] is True, body
    return [record["id"] for record in body["tasklist"]]


# -- late listing ---------------------------------------------------------------------------

def test_a_new_task_shows_in_task_list_only_after_the_delay(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"list_delay": 1.0})
    api = Api(sb)
    accepted = time.monotonic()
    answer = api.run_ok(prompt="listed late", steps=1)
    assert answer["taskid"] not in _listed_ids(api)
    # Task/Detail knows it at once: only the listing is late.
    assert api.detail(tasktoken=answer["socketaccesstoken"])["id"] == answer["taskid"]
    while answer["taskid"] not in _listed_ids(api):
        assert time.monotonic() - accepted < 10, "never listed"
        time.sleep(0.05)
    assert time.monotonic() - accepted >= 1.0


def test_without_the_delay_a_new_task_is_listed_at_once(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    answer = api.run_ok(prompt="listed at once", steps=1)
    assert answer["taskid"] in _listed_ids(api)


def test_late_listing_hides_only_the_young_tasks(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    old = api.run_ok(prompt="old", steps=1)["taskid"]
    time.sleep(0.6)
    sb.set_faults({"list_delay": 0.5})
    young = api.run_ok(prompt="young", steps=1)["taskid"]
    listed = _listed_ids(api)
    assert old in listed
    assert young not in listed


# -- clock skew -----------------------------------------------------------------------------

@pytest.mark.parametrize("skew", [-3600.0, 5.0])
def test_every_timestamp_is_on_the_skewed_clock(make_sandbox: Any, skew: float) -> None:
    sb = make_sandbox(faults={"clock_skew": skew})
    api = Api(sb)
    before = time.time()
    answer = api.run_ok(prompt="skewed", steps=1)
    record = api.wait(answer["socketaccesstoken"])
    after = time.time()
    assert record["pexit"] == "0"
    stamps = [int(record[name]) for name in TASK_TIMES]
    stamps += [int(record["outputs"][0][name]) for name in ("addedtime", "modifiedtime")]
    for stamp in stamps:
        assert before + skew - 1 <= stamp <= after + skew + 1, (stamps, before, skew)
    upload = api.post("/File/Upload", files={"file": ("a.png", png_bytes(), "image/png")})
    added = int(upload.json()["list"][0]["addedtime"])
    assert before + skew - 1 <= added <= time.time() + skew + 1


def test_the_date_header_is_on_the_skewed_clock(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"clock_skew": -3600.0})
    response = Api(sb).post("/Task/Detail", json={})
    served = email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp()
    assert abs(served - (time.time() - 3600)) < 5
    assert len(response.raw.headers.getlist("Date")) == 1


def test_createtime_follows_the_real_clock_without_skew(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    answer = api.run_ok(prompt="on time", steps=1)
    created = int(api.detail(taskid=answer["taskid"])["createtime"])
    assert abs(created - time.time()) < 3


# -- a gateway's 504 after the task was accepted --------------------------------------------

def test_run_answered_504_by_a_gateway_after_the_task_was_created(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"run_504_rate": 1.0})
    api = Api(sb)
    response = api.run(json={"prompt": "accepted behind a gateway", "steps": 1})
    assert response.status_code == 504
    assert response.headers["Content-Type"].startswith("text/html")
    assert "504 Gateway Time-out" in response.text
    with pytest.raises(ValueError):
        response.json()
    assert len(sb.tasks) == 1
    assert sb.requests[-1].fault == "run_504"
    # The backend goes on: the task runs to its end and is listed.
    assert sb.wait_idle(20)
    (task,) = sb.tasks
    assert (task.status, task.pexit) == ("task_postprocess_end", "0")
    assert _listed_ids(api) == [task.id]


def test_run_504_is_only_for_runs(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"run_504_rate": 1.0})
    response = Api(sb).post("/Task/Detail", json={})
    assert response.status_code == 200
    assert response.json()["result"] is False


def test_a_lost_run_answer_still_drops_the_connection(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"lost_run_rate": 1.0, "run_504_rate": 1.0})
    with pytest.raises(requests.ConnectionError):
        Api(sb).run(json={"prompt": "lost, not 504", "steps": 1})
    assert len(sb.tasks) == 1
    assert sb.requests[-1].fault == "lost_run"


def test_seeded_run_answers_replay(make_sandbox: Any) -> None:
    def pattern() -> list[int]:
        sb = make_sandbox(faults={"run_504_rate": 0.5, "seed": 11}, concurrency_limit=None)
        api = Api(sb)
        return [api.run(json={"prompt": f"p{i}", "steps": 1}).status_code for i in range(12)]

    first = pattern()
    assert first == pattern()
    assert {200, 504} == set(first)
