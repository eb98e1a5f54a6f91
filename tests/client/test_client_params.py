"""Parameters: Python names to API names, every flux-2-flex rule checked before anything is
sent (valid edges accepted by the sandbox too), unknown models passed through, the budget."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from client_helpers import MODEL, SMALL, run_requests
from shared_helpers import encoded

from wiro_widgets.client._prepare import prepare
from wiro_widgets.errors import BudgetExceeded, ModelNotFound, NotFound, ValidationError

INVALID = [
    ("width", 48), ("width", 2064), ("width", 1000), ("width", 1024.5), ("width", "1024"),
    ("height", 63), ("height", 2049), ("height", 1030), ("height", True),
    ("safety_tolerance", -1), ("safety_tolerance", 7), ("safety_tolerance", 2.5),
    ("seed", -1), ("seed", 10_000_000), ("guidance", 1.49), ("guidance", 10.01),
    ("guidance", math.inf), ("steps", 0), ("steps", 51), ("output_format", "gif"),
    ("prompt", ""), ("prompt", "a\x00b"), ("callback_url", 5), ("width", 0),
    ("input_images", ["https://example.com/i.png"] * 11), ("not_a_param", 1),
]


@pytest.mark.parametrize(("name", "value"), INVALID)
def test_invalid_values_never_leave_the_machine(sandbox: Any, name: str, value: Any) -> None:
    client = sandbox.client()
    client.spec(MODEL)  # the model's schema is read once, before anything is checked
    before = len(sandbox.requests)
    params = {"prompt": "edge", **SMALL, name: value}
    with pytest.raises(ValidationError) as info:
        client.submit(MODEL, **params)
    assert info.value.field == name
    assert name in str(info.value)
    assert info.value.rule in str(info.value)
    with pytest.raises(ValidationError):
        client.validate(MODEL, **params)
    assert len(sandbox.requests) == before


VALID = [
    {"width": 64, "height": 64}, {"width": 2048, "height": 64}, {"height": 2048, "width": 64},
    {"safety_tolerance": 0}, {"safety_tolerance": 6}, {"seed": 0}, {"seed": 9_999_999},
    {"guidance": 1.5}, {"guidance": 10}, {"steps": 1}, {"steps": 50},
    {"output_format": "jpeg"}, {"output_format": "png"}, {"output_format": "JPG"},
    {"width": 0, "height": 0, "input_images": ["https://example.com/ref.png"]},
]


def test_valid_edges_are_accepted_by_the_server_too(make_sandbox: Any) -> None:
    sb = make_sandbox(concurrency_limit=None, speed=200.0)
    client = sb.client()
    tasks = [client.submit(MODEL, prompt="edge", **{"width": 64, "height": 64, "steps": 2,
                                                     **case}) for case in VALID]
    assert sb.wait_idle(30)
    by_id = {t.id: t for t in sb.tasks}
    for case, task in zip(VALID, tasks, strict=True):
        sent = by_id[task.id].params
        for name, value in case.items():
            if name == "input_images":
                continue
            wire = client.spec(MODEL).param(name).name  # type: ignore[union-attr]
            expected = "jpeg" if value == "JPG" else value
            assert sent[wire] == expected, (name, value, sent)


def test_python_names_become_api_names_with_defaults(sandbox: Any) -> None:
    client = sandbox.client()
    task = client.submit(MODEL, prompt="names", safety_tolerance=4, output_format="jpeg",
                         guidance=3.25, callback_url="http://127.0.0.1:9/hook", **SMALL)
    sent = run_requests(sandbox)[-1].json
    assert sent == {"prompt": "names", "width": 64, "height": 64, "safetyTolerance": 4,
                    "seed": 123, "guidance": 3.25, "steps": 4, "outputFormat": "jpeg",
                    "callbackUrl": "http://127.0.0.1:9/hook"}
    assert task.params["safety_tolerance"] == 4
    assert task.params["seed"] == 123
    assert task.params["input_images"] == []
    record = client.detail(task)
    assert record["parameters"]["safetyTolerance"] == 4


def test_validate_fills_defaults_without_network(sandbox: Any) -> None:
    client = sandbox.client()
    client.spec(MODEL)  # the model's schema is read once, then cached
    before = len(sandbox.requests)
    params = client.validate(MODEL, prompt="just checking")
    assert params["steps"] == 50
    assert params["guidance"] == 4.5
    assert params["width"] == 1024
    assert len(sandbox.requests) == before


def test_an_unknown_model_is_not_found_with_the_closest_names(sandbox: Any) -> None:
    client = sandbox.client()
    with pytest.raises(ModelNotFound) as info:
        client.validate("google/nano-banan", prompt="x")
    assert info.value.closest[0] == "google/nano-banana"
    assert "google/nano-banana" in str(info.value)
    assert isinstance(info.value, NotFound)
    with pytest.raises(ModelNotFound):
        client.submit("someone/new-model", anyThing=5)
    assert not [r for r in run_requests(sandbox) if r.path == "/v1/Run/someone/new-model"]


def test_models_without_a_spec_pass_parameters_through() -> None:
    # A model described by nothing (the API unreachable, nothing cached, no built-in spec).
    body = prepare("someone/new-model", {"anyThing": 5, "other_name": "x", "listed": [1, 2],
                                         "hd": True, "draft": False}, None).body
    with body.open() as (data, headers):
        assert headers["Content-Type"] == "application/json"
        # Booleans go as the strings Wiro's SDK fixtures send (issue 13, item 6).
        assert json.loads(data) == {"anyThing": 5, "other_name": "x", "listed": [1, 2],
                                    "hd": "true", "draft": "false"}


def test_unknown_models_send_file_like_values_as_parts(sandbox: Any) -> None:
    prepared = prepare("someone/new-model", {"image": encoded(), "text": "hi",
                                             "urls": ["https://example.com/a.png"]}, None)
    assert prepared.body.multipart
    assert [r.source for r in prepared.body.files["image"]] == ["bytes"]
    assert prepared.body.fields == {"text": "hi", "urls": ["https://example.com/a.png"]}
    assert prepared.params["image"][0]["sha256"]


@pytest.mark.parametrize("model", ["", "no-slash", "a/b/c", "../etc/passwd", "owner/ spaced"])
def test_malformed_model_names(sandbox: Any, model: str) -> None:
    with pytest.raises(ValidationError) as info:
        sandbox.client().submit(model, prompt="x")
    assert info.value.field == "model"


def test_estimate_cost(sandbox: Any) -> None:
    client = sandbox.client()
    small = client.estimate_cost(MODEL, prompt="x", width=512, height=512)
    large = client.estimate_cost(MODEL, prompt="x")
    assert small is not None
    assert large is not None
    assert 0 < small < large
    # kling-v3 documents no price: not computable before the run.
    assert client.estimate_cost("klingai/kling-v3", prompt="a kayak") is None


def test_budget_refuses_before_sending(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=200.0)
    client = sb.client(budget=0.0)
    with pytest.raises(BudgetExceeded) as info:
        client.submit(MODEL, prompt="too dear", **SMALL)
    assert info.value.budget == 0.0
    assert info.value.estimate > 0
    assert run_requests(sb) == []


def test_budget_counts_running_estimates_and_spent_cost(make_sandbox: Any) -> None:
    sb = make_sandbox(concurrency_limit=None)
    client = sb.client()
    one = client.estimate_cost(MODEL, prompt="x", **SMALL)
    assert one is not None
    client.budget = one * 2.5
    with sb.gate("task_queue") as queued:  # both stay running until released
        first = client.submit(MODEL, prompt="one", **SMALL)
        client.submit(MODEL, prompt="two", **SMALL)
        with pytest.raises(BudgetExceeded) as info:  # two still running: 3 estimates > 2.5
            client.submit(MODEL, prompt="three", **SMALL)
        assert info.value.spent == 0.0
        queued.release(first.id)
        result = client.wait(first, timeout=30)
    assert client.spent == pytest.approx(result.cost)
    assert len(run_requests(sb)) == 2


def test_tool_detail_reads_the_live_schema(sandbox: Any) -> None:
    tool = sandbox.client().tool_detail(MODEL)
    ids = [item["id"] for group in tool["parameters"] for item in group["items"]]
    assert "inputImage" in ids
    assert "safetyTolerance" in ids
    with pytest.raises(NotFound):
        sandbox.client().tool_detail("someone/unknown")
