"""Detaching a wait on request (``detach_event``): the wait stops at once, nothing is sent to
stop the task, and the task stays pending in the ledger, to be collected later."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from client_helpers import MODEL

from wiro_widgets.errors import TaskTimeout
from wiro_widgets.ledger import Ledger
from wiro_widgets.research import pending

LONG = {"width": 64, "height": 64, "steps": 20}


def test_detach_event_leaves_the_task_running_and_pending(make_sandbox: Any,
                                                          wiro_home: Path) -> None:
    sb = make_sandbox()
    client = sb.client()
    detach = threading.Event()
    with sb.gate("task_output", step=2) as gate:
        task = client.submit(MODEL, prompt="leave me running", **LONG)
        gate.wait_reached(task.id, timeout=30)
        timer = threading.Timer(0.3, detach.set)
        timer.start()
        started = time.monotonic()
        with pytest.raises(TaskTimeout) as info:
            client.wait(task, detach_event=detach, timeout=60)
        took = time.monotonic() - started
        assert info.value.detached
        assert info.value.token == task.token
        assert took < 3.0  # seen within the 100 ms tick
        assert [r.path for r in sb.requests
                if r.path in ("/v1/Task/Cancel", "/v1/Task/Kill")] == []
        (detached,) = [e for e in Ledger(wiro_home).events() if e["event"] == "detached"]
        assert detached["reason"] == "detach"
        assert [t.id for t in pending(client)] == [task.id]
    result = client.wait(task.token, timeout=60)  # collected later, by its token
    assert result.task_id == task.id
    assert pending(client) == []
