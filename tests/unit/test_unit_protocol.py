"""The wire facts every part of the package reads from `wiro_widgets.protocol`."""

from __future__ import annotations

import math

import pytest

from wiro_widgets import protocol
from wiro_widgets.backoff import RetryPolicy, backoff_delay


@pytest.mark.parametrize(("value", "expected"), [
    ("4.5", 4.5), (3, 3.0), ("0", 0.0), (" 7 ", 7.0), (None, None), ("", None), ("x", None),
    (True, None), ("nan", None), ("inf", None), (math.inf, None), ([1], None), ("1e400", None),
])
def test_one_lenient_number_parser(value: object, expected: float | None) -> None:
    assert protocol.parse_number(value) == expected


def test_seeds_are_whole_numbers() -> None:
    assert protocol.parse_seed("123") == 123
    assert protocol.parse_seed(7.0) == 7
    assert protocol.parse_seed(2.5) is None
    assert protocol.parse_seed(False) is None


@pytest.mark.parametrize(("url", "loopback"), [
    ("http://127.0.0.1:8000/v1", True), ("http://127.0.0.2:8000/v1", True),
    ("http://127.3.4.5/v1", True), ("http://localhost/v1", True), ("http://[::1]:9/v1", True),
    ("http://sandbox.localhost/v1", True), ("https://api.wiro.ai/v1", False),
    ("http://128.0.0.1/v1", False), ("http://[::1/v1", False), ("not a url", False),
])
def test_one_loopback_rule(url: str, loopback: bool) -> None:
    assert protocol.is_loopback_url(url) is loopback


@pytest.mark.parametrize(("record", "outcome"), [
    ({"status": "task_postprocess_end", "pexit": "0"}, "succeeded"),
    ({"status": "task_postprocess_end", "pexit": 0}, "succeeded"),
    ({"status": "task_postprocess_end", "pexit": "1", "debugerror": "boom"}, "failed"),
    ({"status": "task_postprocess_end", "pexit": "1",
      "debugerror": "Request Moderated: no"}, "moderated"),
    ({"status": "task_postprocess_end", "pexit": ""}, "failed"),
    ({"status": "task_cancel"}, "cancelled"),
    ({"status": "task_error", "pexit": ""}, "error"),
])
def test_success_rule_and_outcomes(record: dict[str, object], outcome: str) -> None:
    assert protocol.outcome_of(record) == outcome
    assert protocol.succeeded(record) is (outcome == "succeeded")
    assert outcome in protocol.OUTCOMES


def test_status_sets_follow_the_documented_order() -> None:
    order = protocol.STATUS_ORDER
    assert order[0] == "task_queue"
    assert order[-1] == "task_postprocess_end"
    assert set(order[:4]) == protocol.CANCELLABLE_STATUSES
    killable = {"task_assign", "task_start", "task_output", "task_output_full"}
    assert killable == protocol.KILLABLE_STATUSES
    assert not protocol.CANCELLABLE_STATUSES & protocol.KILLABLE_STATUSES
    assert protocol.TERMINAL_STATUSES <= protocol.KNOWN_STATUSES
    assert protocol.STATUS_RANK["task_cancel"] > protocol.STATUS_RANK["task_postprocess_end"]


def test_timeline_skips_unset_times() -> None:
    record = {"createtime": "1700000000", "starttime": "0", "endtime": "",
              "canceltime": "1700000009"}
    assert protocol.timeline_of(record) == {"task_queue": 1_700_000_000.0,
                                            "task_cancel": 1_700_000_009.0}


def test_request_keys() -> None:
    assert protocol.detail_key("12", "tok") == {"taskid": "12"}
    assert protocol.detail_key("", "tok") == {"tasktoken": "tok"}
    assert protocol.cancel_body("12", "tok") == {"taskid": "12", "tasktoken": "tok"}
    assert protocol.kill_body("12", "tok") == {"taskid": "12", "socketaccesstoken": "tok"}


def test_backoff_without_jitter_grows_by_its_factor() -> None:
    polls = RetryPolicy(base=0.1, growth=1.5, cap=1.0, jitter=False)
    delays = [backoff_delay(n, polls) for n in range(1, 8)]
    assert delays[:3] == pytest.approx([0.1, 0.15, 0.225])
    assert delays[-1] == 1.0
    assert delays == sorted(delays)
    reconnect = RetryPolicy(base=1.0, cap=4.0, jitter=False)
    assert [backoff_delay(n, reconnect) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 4.0]
