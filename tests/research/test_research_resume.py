"""A kernel killed mid-run (SIGKILL), then resume() in a new process recovers the outputs."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wiro_widgets.ledger import ClientInfo, Ledger, Submitted
from wiro_widgets.research import pending

from .conftest import MODEL

RUNNER = f"""
from wiro_widgets import WiroClient
WiroClient().run({MODEL!r}, prompt="a fox that outlives its kernel", seed=77,
                 width=512, height=512)
raise SystemExit("the run finished before the kill")
"""

RESUMER = """
import json
from wiro_widgets import WiroClient
client = WiroClient()
seen = []

def on_update(update):
    seen.append(update.status)
    print("update", update.status, flush=True)

results = client.resume(timeout=60, on_update=on_update)
print(json.dumps(seen))
print(json.dumps([{"task_id": r.task_id, "seed": r.seed, "prompt": r.prompt,
                   "size": list(r.image.size), "path": r.outputs[0].path} for r in results]))
print(json.dumps(len(client.resume(timeout=5))))
"""


def _wait_for_submitted(ledger: Ledger, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = [e for e in ledger.events() if e.get("event") == "submitted"]
        if events:
            return events[0]
        assert proc.poll() is None, "the runner exited before submitting"
        time.sleep(0.01)
    raise AssertionError("no submitted event in the ledger")


def _first_line(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the resumer printed nothing"
    return proc.stdout.readline().strip()


@pytest.mark.parametrize("ended_before_resume", [False, True],
                         ids=["still-running", "ended-meanwhile"])
def test_resume_after_sigkill(make_sandbox: Callable[..., Any], ended_before_resume: bool,
                              tmp_path: Path) -> None:
    sb = make_sandbox()
    errors = tmp_path / "resumer-stderr.txt"
    env = {**os.environ, **sb.env()}  # WIRO_WIDGETS_HOME is shared through the environment
    ledger = Ledger()
    # Held while queued: the kill lands before the task ends, however slow the machine.
    with sb.gate("task_queue") as queued:
        runner = subprocess.Popen([sys.executable, "-c", RUNNER], env=env)
        try:
            submitted = _wait_for_submitted(ledger, runner)
            os.kill(runner.pid, signal.SIGKILL)
            assert runner.wait(timeout=10) == -signal.SIGKILL
        finally:
            if runner.poll() is None:
                runner.kill()
        [task] = sb.tasks
        assert task.id == submitted["task_id"]
        assert task.status == "task_queue"
        assert not ledger.tasks()[submitted["token"]].is_finished
        if ended_before_resume:
            queued.release()
            assert sb.wait_idle(30)
        with errors.open("w") as stderr:
            resumer = subprocess.Popen([sys.executable, "-c", RESUMER], env=env, text=True,
                                       stdout=subprocess.PIPE, stderr=stderr)
        # Still running: released only once the resumer reported the task, so it
        # re-attached to a live task (ended: the first thing it reports is the end).
        first = _first_line(resumer)
    assert resumer.stdout is not None
    out = resumer.stdout.read()  # what readline() buffered too (communicate() would skip it)
    assert resumer.wait(timeout=120) == 0, errors.read_text()[-2000:]
    lines = [first, *out.strip().splitlines()]
    [result] = json.loads(lines[-2])
    assert result["task_id"] == task.id
    assert result["seed"] == 77
    assert result["prompt"] == "a fox that outlives its kernel"
    assert result["size"] == [512, 512]
    assert os.path.isfile(result["path"])
    assert json.loads(lines[-1]) == 0  # nothing left pending afterwards
    statuses = json.loads(lines[-3])
    assert "downloading" in statuses
    if not ended_before_resume:
        # It re-attached to a live task: it saw the task move, not just its end.
        assert set(statuses) - {"task_postprocess_end", "downloading"}, statuses
    assert len(sb.tasks) == 1  # nothing was submitted again
    assert ledger.tasks()[submitted["token"]].outcome == "succeeded"


def test_resume_skips_failures_unknown_tasks_and_other_servers(
        make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox()
    # Submitted and never waited on: what a dead kernel leaves behind.
    first = sb.client()
    good = first.submit(MODEL, prompt="a fox", seed=1, width=256, height=256)
    bad = first.submit(MODEL, prompt="a fail-me fox", seed=2, width=256, height=256)
    ledger = Ledger()
    ledger.write(Submitted(task_id="999999", token="no-such-token", model=MODEL,
                           params={"prompt": "lost"}, client=ClientInfo(base_url=sb.base_url)))
    ledger.write(Submitted(task_id="5", token="elsewhere", model=MODEL,
                           params={"prompt": "another server"},
                           client=ClientInfo(base_url="https://api.wiro.ai/v1")))
    client = sb.client()
    assert [t.id for t in pending(client)] == [good.id, bad.id, "999999"]

    results = client.resume(timeout=30)
    assert [r.task_id for r in results] == [good.id]
    assert results[0].params["seed"] == 1
    tasks = ledger.tasks()
    assert tasks[bad.token].outcome == "failed"
    assert tasks["no-such-token"].is_finished  # unknown to the server: not asked again
    assert not tasks["elsewhere"].is_finished  # another server's task is left alone
    assert [t.id for t in pending(client)] == []
    assert len(sb.tasks) == 2
