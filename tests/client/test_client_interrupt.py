"""Ctrl-C during a blocking run, in a real subprocess: SIGINT while queued cancels, while
running kills, and with ``detach_on_interrupt`` leaves the task running; each time the
KeyboardInterrupt reaches the caller."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from shared_helpers import signal_on_line

from wiro_widgets.ledger import Ledger

CHILD = r"""
import logging, sys
from wiro_widgets import WiroClient

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
client = WiroClient()
try:
    client.run("black-forest-labs/flux-2-flex", prompt="interrupt me", width=64, height=64,
               steps=20, detach_on_interrupt=sys.argv[1] == "detach",
               on_update=lambda u: print(u.status, flush=True))
except KeyboardInterrupt:
    print("KeyboardInterrupt reached the caller", flush=True)
    raise
"""


def interrupt_when(sb: Any, home: Path, status: str, mode: str = "cancel"
                   ) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    env = {**os.environ, **sb.env(), "WIRO_WIDGETS_HOME": str(home)}
    return signal_on_line([sys.executable, "-c", CHILD, mode], env, status, signal.SIGINT)


def stops(sb: Any) -> list[str]:
    return [r.path for r in sb.requests if r.path in ("/v1/Task/Cancel", "/v1/Task/Kill")]


def test_sigint_while_queued_cancels(make_sandbox: Any, tmp_path: Path) -> None:
    sb = make_sandbox()
    with sb.gate("task_queue"):  # still queued when the signal lands
        done, _lines = interrupt_when(sb, tmp_path, "task_queue")
    assert done.returncode != 0
    assert "KeyboardInterrupt reached the caller" in done.stdout
    assert "Interrupted: task" in done.stderr
    assert "stopped on the server (task_cancel)" in done.stderr
    (task,) = sb.tasks
    assert task.status == "task_cancel"
    assert "task_assign" not in [s for s, _ in task.history]
    assert stops(sb) == ["/v1/Task/Cancel"]
    finished = [e for e in Ledger(tmp_path).events() if e["event"] == "finished"]
    assert finished[-1]["outcome"] == "cancelled"
    assert sb.api_secret not in done.stderr


def test_sigint_while_running_kills(make_sandbox: Any, tmp_path: Path) -> None:
    sb = make_sandbox()
    with sb.gate("task_output"):  # still generating when the signal lands
        done, _lines = interrupt_when(sb, tmp_path, "task_output")
    assert done.returncode != 0
    assert "KeyboardInterrupt reached the caller" in done.stdout
    (task,) = sb.tasks
    assert task.status == "task_cancel"
    assert "task_output" in [s for s, _ in task.history]
    assert stops(sb) == ["/v1/Task/Kill"]


def test_sigint_with_detach_leaves_the_task_running(make_sandbox: Any, tmp_path: Path) -> None:
    sb = make_sandbox()
    with sb.gate("task_output"):  # still generating when the signal lands
        done, _lines = interrupt_when(sb, tmp_path, "task_output", mode="detach")
    assert done.returncode != 0
    assert "keeps running" in done.stderr
    assert stops(sb) == []
    assert sb.wait_idle(30)
    assert sb.tasks[0].status == "task_postprocess_end"
    entry = Ledger(tmp_path).tasks()[sb.tasks[0].token]
    assert entry.is_finished is False  # left for resume()
