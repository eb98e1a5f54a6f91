"""What the client already does right over HTTP, held against Wiro's documented examples:
the signature, the bodies it sends, and how it reads the documented envelopes and errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable

import pytest

from wiro_widgets import (
    AuthError,
    ConcurrencyLimit,
    InsufficientBalance,
    NotFound,
    WiroClient,
)

from .examples import example_text, render
from .helpers import KEY, MODEL, RUN, SECRET, TOKEN
from .server import DocumentedServer, Step

ClientFactory = Callable[..., WiroClient]


def test_requests_carry_the_documented_signature(documented: DocumentedServer,
                                                 make_client: ClientFactory) -> None:
    documented.script("/Task/Detail", "task-detail-succeeded.json")
    make_client().detail("534574")
    (request,) = documented.requests_to("/Task/Detail")
    nonce = request.headers["x-nonce"]
    assert request.headers["x-api-key"] == KEY
    assert nonce.isdigit()  # "Unix timestamp or random integer"
    # authentication.md: hex(HMAC-SHA256(key=API key, message=API secret + nonce)), lower case
    expected = hmac.new(KEY.encode(), (SECRET + nonce).encode(), hashlib.sha256).hexdigest()
    assert request.headers["x-signature"] == expected
    assert re.fullmatch(r"[0-9a-f]{64}", request.headers["x-signature"])


@pytest.mark.parametrize(("handle", "body"), [
    ("534574", {"taskid": "534574"}),
    (TOKEN, {"tasktoken": TOKEN}),
], ids=["by-taskid", "by-tasktoken"])
def test_task_detail_asks_by_taskid_or_tasktoken(documented: DocumentedServer,
                                                 make_client: ClientFactory, handle: str,
                                                 body: dict[str, str]) -> None:
    documented.script("/Task/Detail", "task-detail-succeeded.json")
    record = make_client().detail(handle)
    (request,) = documented.requests_to("/Task/Detail")
    assert request.json == body
    assert request.headers["content-type"] == "application/json"
    documented_record = json.loads(render("task-detail-succeeded.json", documented.origin))
    assert record == documented_record["tasklist"][0]  # the record, unchanged


def test_run_sends_text_parameters_as_a_json_body(documented: DocumentedServer,
                                                  make_client: ClientFactory) -> None:
    documented.script(RUN, "run.json")
    task = make_client().submit(MODEL, prompt="a lighthouse at dusk", seed=7, steps=28,
                                guidance=3.5, output_format="jpeg")
    (request,) = documented.requests_to(RUN)
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    body = request.json
    assert body["prompt"] == "a lighthouse at dusk"
    # The docs' own Run samples send numbers as JSON numbers ("width": 1024, "seed": 123).
    assert (body["seed"], body["steps"], body["guidance"]) == (7, 28, 3.5)
    assert body["outputFormat"] == "jpeg"  # the API's names, not the Python ones
    assert not {"output_format", "input_images", "safety_tolerance"} & set(body)
    assert (task.id, task.token) == ("2221", TOKEN)  # read from the documented answer


@pytest.mark.parametrize("example", [
    "error-auth-not-founded.json",
    "error-auth-signature-required.json",
    "error-auth-not-valid.json",
    "error-auth-ip.json",
])
def test_documented_401_bodies_raise_auth_error(documented: DocumentedServer,
                                                make_client: ClientFactory,
                                                example: str) -> None:
    documented.script("/Task/Detail", Step(example, status=401))
    with pytest.raises(AuthError) as caught:
        make_client().detail("534574")
    message = json.loads(example_text(example))["errors"][0]["message"]
    assert caught.value.http_status == 401
    assert message in str(caught.value)
    assert len(documented.requests_to("/Task/Detail")) == 1  # not retried


def test_a_401_on_run_raises_auth_error_without_a_second_run(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    documented.script(RUN, Step("error-auth-not-valid.json", status=401))
    with pytest.raises(AuthError):
        make_client().submit(MODEL, prompt="a fox")
    assert len(documented.requests_to(RUN)) == 1


def test_code_96_is_a_concurrency_limit(documented: DocumentedServer,
                                        make_client: ClientFactory) -> None:
    documented.script(RUN, "error-concurrency-96.json")
    with pytest.raises(ConcurrencyLimit) as caught:
        make_client().submit(MODEL, prompt="a fox", busy_timeout=0)
    assert caught.value.code == 96
    assert "concurrent task limit" in str(caught.value)
    assert len(documented.requests_to(RUN)) == 1


def test_code_96_means_nothing_started_so_run_may_be_sent_again(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    documented.script(RUN, "error-concurrency-96.json", "run.json")
    task = make_client().submit(MODEL, prompt="a fox", busy_timeout=10)
    assert task.token == TOKEN
    assert len(documented.requests_to(RUN)) == 2


def test_code_97_is_insufficient_balance(documented: DocumentedServer,
                                         make_client: ClientFactory) -> None:
    documented.script(RUN, "error-balance-97.json")
    with pytest.raises(InsufficientBalance) as caught:
        make_client().submit(MODEL, prompt="a fox")
    assert (caught.value.code, caught.value.message) == (97, "Insufficient balance")
    assert len(documented.requests_to(RUN)) == 1


def test_no_task_yet_is_not_found(documented: DocumentedServer,
                                  make_client: ClientFactory) -> None:
    documented.script("/Task/Detail", "error-no-task.json")
    with pytest.raises(NotFound, match="There is no task yet"):
        make_client().detail("999999")


def test_tool_detail_returns_the_documented_record(documented: DocumentedServer,
                                                   make_client: ClientFactory) -> None:
    documented.script("/Tool/Detail", "tool-detail.json")
    tool = make_client().tool_detail("wiro/virtual-try-on")
    (request,) = documented.requests_to("/Tool/Detail")
    assert request.json == {"slugowner": "wiro", "slugproject": "virtual-try-on"}
    assert tool == json.loads(example_text("tool-detail.json"))["tool"][0]
    assert tool["parameters"] is None  # as documented; the client must not choke on it


def test_cancel_of_a_queued_task_confirms_task_cancel(documented: DocumentedServer,
                                                      make_client: ClientFactory) -> None:
    documented.script(RUN, "run.json")
    documented.script("/Task/Detail", "task-detail-queued.json", "task-detail-cancelled.json")
    documented.script("/Task/Cancel", "task-cancel.json")
    client = make_client()
    record = client.cancel(client.submit(MODEL, prompt="a fox"))
    assert record["status"] == "task_cancel"
    (request,) = documented.requests_to("/Task/Cancel")
    assert request.json.get("taskid") == "2221" or request.json.get("tasktoken") == TOKEN
    assert documented.requests_to("/Task/Kill") == []


def test_kill_of_a_running_task_confirms_task_cancel(documented: DocumentedServer,
                                                     make_client: ClientFactory) -> None:
    documented.script(RUN, "run.json")
    documented.script("/Task/Detail", "task-detail-running.json",
                      "task-detail-cancelled.json")
    documented.script("/Task/Kill", "task-kill.json")
    client = make_client()
    record = client.kill(client.submit(MODEL, prompt="a fox"))
    assert record["status"] == "task_cancel"
    (request,) = documented.requests_to("/Task/Kill")[:1]
    identifies = {request.json.get(k) for k in ("taskid", "tasktoken", "socketaccesstoken")}
    assert identifies & {"2221", TOKEN}

