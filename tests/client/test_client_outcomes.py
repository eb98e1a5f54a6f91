"""Every way a task can end, the Result of a success, and the ledger of each outcome."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from client_helpers import MODEL, SMALL
from PIL import Image

from wiro_widgets.errors import (
    Moderated,
    NetworkError,
    TaskCancelled,
    TaskError,
    TaskFailed,
)
from wiro_widgets.ledger import Ledger


def finished_events(home: Path, token: str) -> list[dict[str, Any]]:
    return [e for e in Ledger(home).events() if e.get("token") == token
            and e["event"] == "finished"]


def test_success_fills_the_result(sandbox: Any, wiro_home: Path) -> None:
    client = sandbox.client()
    started = time.time()
    result = client.run(MODEL, prompt="a lighthouse", seed=77, output_format="jpeg",
                        guidance=3.0, **SMALL)
    record = result.record
    assert result.status == "task_postprocess_end"
    assert record["pexit"] == "0"
    (image,) = result.images
    assert isinstance(image, Image.Image)
    assert image.size == (64, 64)
    assert image.format == "JPEG"
    (output,) = result.outputs
    assert output.content_type == "image/jpeg"
    assert output.url == record["outputs"][0]["url"]
    assert output.size == int(record["outputs"][0]["size"]) == Path(output.path).stat().st_size
    assert Path(output.path).is_relative_to(wiro_home)
    assert result.seed == 77
    assert result.params["guidance"] == 3.0
    assert result.params["output_format"] == "jpeg"
    assert result.params["safety_tolerance"] == 2  # defaults included
    assert result.cost == pytest.approx(float(record["totalcost"]))
    assert result.cost > 0
    assert result.elapsed == pytest.approx(float(record["elapsedseconds"]))
    assert 0 < result.wall_time < time.time() - started + 1
    assert result.timeline["task_queue"] <= result.timeline["task_postprocess_end"]
    assert result.sandbox is True
    assert result.task_id == record["id"]
    assert result.token == record["socketaccesstoken"]
    assert client.spent == pytest.approx(result.cost)
    assert "<img" in result._repr_html_()
    assert "SANDBOX" in result._repr_html_()

    events = [e for e in Ledger(wiro_home).events() if e.get("token") == result.token]
    assert [e["event"] for e in events] == ["submitted", "finished"]
    submitted, finished = events
    assert submitted["params"]["seed"] == 77
    assert submitted["estimate"] > 0
    assert submitted["client"]["key"] == client.key_fingerprint
    assert finished["outcome"] == "succeeded"
    assert finished["outputs"][0]["sha256"]
    ledger_text = (wiro_home / "ledger.jsonl").read_text()
    assert sandbox.api_key not in ledger_text
    assert sandbox.api_secret not in ledger_text


def test_outputs_survive_url_expiry(make_sandbox: Any) -> None:
    sb = make_sandbox(output_ttl=0.5)
    result = sb.client().run(MODEL, prompt="keep me", **SMALL)
    deadline = time.monotonic() + 30
    while requests.get(result.outputs[0].url, timeout=10).status_code != 404:
        assert time.monotonic() < deadline, "the output URL never expired"
        time.sleep(0.1)
    assert result.images[0].size == (64, 64)  # read from the local cache


def test_failure_carries_debugerror(sandbox: Any, wiro_home: Path) -> None:
    client = sandbox.client()
    with pytest.raises(TaskFailed) as info:
        client.run(MODEL, prompt="please fail-me", **SMALL)
    err = info.value
    assert type(err) is TaskFailed
    assert err.pexit == "1"
    assert err.debugerror.startswith("Generation failed")
    assert "Generation failed" in str(err)
    assert err.task_id
    assert err.token
    assert err.record["status"] == "task_postprocess_end"
    (finished,) = finished_events(wiro_home, err.token)
    assert finished["outcome"] == "failed"
    assert finished["cost"] == 0.0
    assert client.spent == 0.0


def test_moderation_is_its_own_error(sandbox: Any, wiro_home: Path) -> None:
    with pytest.raises(Moderated) as info:
        sandbox.client().run(MODEL, prompt="nsfw please", safety_tolerance=1, **SMALL)
    assert info.value.debugerror.startswith("Request Moderated")
    assert isinstance(info.value, TaskFailed)
    (finished,) = finished_events(wiro_home, info.value.token)
    assert finished["outcome"] == "moderated"


def test_task_error_ends_the_wait(make_sandbox: Any, wiro_home: Path) -> None:
    # A final Detail status task_error is the sandbox's opt-in fault (Wiro-MCP's reading).
    sandbox = make_sandbox(faults={"task_error_status": True})
    started = time.monotonic()
    with pytest.raises(TaskFailed, match="Output folder creation failed") as info:
        sandbox.client().run(MODEL, prompt="error-me", **SMALL)
    assert info.value.record["status"] == "task_error"
    assert time.monotonic() - started < 10
    (finished,) = finished_events(wiro_home, info.value.token)
    assert finished["outcome"] == "error"


def test_cancelled_elsewhere(make_sandbox: Any, wiro_home: Path) -> None:
    sb = make_sandbox()
    client = sb.client()
    with sb.gate("task_queue"):  # still queued when the other thread cancels
        task = client.submit(MODEL, prompt="cancel me from another thread", **SMALL)
        threading.Timer(0.3, client.cancel, args=(task,)).start()
        with pytest.raises(TaskCancelled) as info:
            client.wait(task, timeout=30)
    assert info.value.token == task.token
    assert sb.tasks[-1].status == "task_cancel"
    assert finished_events(wiro_home, task.token)[-1]["outcome"] == "cancelled"


def test_wait_by_token_and_by_id(sandbox: Any, wiro_home: Path) -> None:
    client = sandbox.client()
    task = client.submit(MODEL, prompt="resume by handle", seed=5, **SMALL)
    by_token = client.wait(task.token, timeout=30)
    by_id = client.wait(task.id, timeout=30)
    for result in (by_token, by_id):
        assert result.task_id == task.id
        assert result.model == MODEL
        assert result.params["seed"] == 5
        assert result.seed == 5
    # A fresh client (a new session, say) learns the model and params from Task/Detail.
    other = sandbox.client(ledger=False)
    again = other.wait(task.id, timeout=30)
    assert again.params["seed"] == 5
    assert again.params["width"] == 64
    assert again.model == MODEL


def test_download_failure_is_reported_with_the_token(make_sandbox: Any) -> None:
    sb = make_sandbox(output_ttl=0.0)
    client = sb.client()
    with pytest.raises(NetworkError, match="could not be downloaded") as info:
        client.run(MODEL, prompt="gone before download", **SMALL)
    assert info.value.task_id == sb.tasks[-1].id


def test_every_task_error_carries_the_task(sandbox: Any) -> None:
    for prompt in ("fail-me", "error-me", "nsfw"):
        with pytest.raises(TaskError) as info:
            sandbox.client().run(MODEL, prompt=prompt, **SMALL)
        assert info.value.task_id
        assert info.value.token
        assert info.value.task_id in str(info.value)
