"""Which task records a lost Run may adopt (pure logic on prepared submissions)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from wiro_widgets import WiroClient

MODEL = "black-forest-labs/flux-2-flex"


@pytest.fixture
def client() -> WiroClient:
    return WiroClient(api_key="unit-key-123", base_url="http://127.0.0.1:1/v1", ledger=False)


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "500", "socketaccesstoken": "tok", "modelslugowner": "black-forest-labs",
        "modelslugproject": "flux-2-flex", "createtime": str(int(time.time())),
        "parameters": {"prompt": "fox", "width": "64", "height": "64", "steps": "4",
                       "seed": "123", "guidance": "4.5", "safetyTolerance": "2",
                       "outputFormat": "png"},
    }
    base.update(overrides)
    return base


def prepare(client: WiroClient, **params: Any) -> Any:
    return client._prepare(MODEL, {"prompt": "fox", "width": 64, "height": 64, "steps": 4,
                                   **params})


def test_matching_record_is_claimed_once(client: WiroClient) -> None:
    prepared, started = prepare(client), time.time() - 1
    assert client._claim(record(), prepared, started) is True
    assert client._claim(record(), prepared, started) is False  # already ours


@pytest.mark.parametrize("change", [
    {"parameters": {"prompt": "other"}},
    {"modelslugproject": "flux-2-pro"},
    {"createtime": str(int(time.time()) - 3600)},
    {"socketaccesstoken": ""},
])
def test_other_tasks_are_not_claimed(client: WiroClient, change: dict[str, Any]) -> None:
    rec = record(**change)
    if "parameters" in change:
        rec["parameters"] = {**record()["parameters"], **change["parameters"]}
    assert client._claim(rec, prepare(client), time.time() - 1) is False


def test_numbers_compare_as_numbers(client: WiroClient) -> None:
    rec = record()
    rec["parameters"]["guidance"] = 4.5
    rec["parameters"]["steps"] = "4.0"
    assert client._claim(rec, prepare(client), time.time() - 1) is True


def test_a_record_without_parameters_is_uncertain(client: WiroClient) -> None:
    assert client._claim(record(parameters={}), prepare(client), time.time() - 1) is None
    assert client._claim(record(parameters=None), prepare(client), time.time() - 1) is None


def test_callback_url_is_not_compared(client: WiroClient) -> None:
    prepared = prepare(client, callback_url="http://127.0.0.1:9/cb")
    assert prepared.body.fields["callbackUrl"] == "http://127.0.0.1:9/cb"
    assert client._claim(record(), prepared, time.time() - 1) is True
