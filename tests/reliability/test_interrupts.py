"""Ctrl-C and killed kernels: the task on the server must stop, or be recovered.

- SIGINT to a process blocked in ``client.run``, while the task is queued and while it runs,
  and the Jupyter "interrupt kernel" button on a real ipykernel: the sandbox task ends in
  ``task_cancel`` and the ledger says ``cancelled``.
- A process, and a real ipykernel, killed with SIGKILL mid-run: ``resume()`` in a new process
  downloads the outputs, and nothing is submitted twice.

The sandbox runs in the test process; its environment (``sb.env()``) is passed to the child.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import signal_on_line, wait_for

from wiro_widgets.ledger import Ledger

from . import tally
from .helpers import MODEL

RUNNER = f"""
import sys
from wiro_widgets import WiroClient

client = WiroClient()
try:
    client.run({MODEL!r}, prompt=sys.argv[1], width=64, height=64, steps=30, seed=7,
               on_update=lambda u: print(u.status, flush=True))
except KeyboardInterrupt:
    print("KeyboardInterrupt reached the caller", flush=True)
    raise
raise SystemExit("the run finished before the signal")
"""

RESUMER = """
import json
from wiro_widgets import WiroClient
client = WiroClient()
results = client.resume(timeout=60)
print(json.dumps([{"task_id": r.task_id, "prompt": r.prompt, "size": list(r.image.size),
                   "path": r.outputs[0].path} for r in results]))
print(json.dumps(len(client.resume(timeout=5))))
"""


def _env(sb: Any, home: Path) -> dict[str, str]:
    return {**os.environ, **sb.env(), "WIRO_WIDGETS_HOME": str(home)}


def _signal_at(sb: Any, home: Path, status: str, sig: int, prompt: str
               ) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run RUNNER; send ``sig`` once it reports ``status``; return its output."""
    return signal_on_line([sys.executable, "-c", RUNNER, prompt], _env(sb, home), status, sig)


def _stops(sb: Any) -> list[str]:
    return [r.path for r in sb.requests if r.path in ("/v1/Task/Cancel", "/v1/Task/Kill")]


def _count(name: str, ok: bool) -> None:
    tally.add("interrupts tried")
    tally.add(f"interrupts {name}")
    if ok:
        tally.add("interrupts handled")


@pytest.mark.slow
@pytest.mark.parametrize(("status", "stop"), [
    ("task_queue", "/v1/Task/Cancel"),
    ("task_output", "/v1/Task/Kill"),
], ids=["queued", "running"])
def test_ctrl_c_stops_the_task_on_the_server(make_sandbox: Callable[..., Any], tmp_path: Path,
                                            status: str, stop: str) -> None:
    sb = make_sandbox()
    with sb.gate(status):  # still at that status when the signal lands
        done, _lines = _signal_at(sb, tmp_path, status, signal.SIGINT,
                                  f"ctrl-c while {status}")
    ok = False
    try:
        assert done.returncode != 0
        assert "KeyboardInterrupt reached the caller" in done.stdout
        (task,) = sb.tasks
        wait_for(lambda: sb.tasks[0].status == "task_cancel", 10)
        assert _stops(sb)[0] == stop
        finished = [e for e in Ledger(tmp_path).events() if e["event"] == "finished"]
        assert [e["outcome"] for e in finished] == ["cancelled"]
        assert finished[0]["token"] == task.token
        ok = True
    finally:
        _count("Ctrl-C", ok)


def _resume_in_new_process(sb: Any, home: Path) -> tuple[list[dict[str, Any]], int]:
    done = subprocess.run([sys.executable, "-c", RESUMER], env=_env(sb, home),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-2]), json.loads(lines[-1])


def _check_recovered(sb: Any, home: Path, prompt: str) -> None:
    (task,) = sb.tasks
    entry = Ledger(home).tasks()[task.token]
    assert entry.is_finished is False, "the kill came too late to prove anything"
    results, left = _resume_in_new_process(sb, home)
    assert [(r["task_id"], r["prompt"], r["size"]) for r in results] == [
        (task.id, prompt, [64, 64])]
    assert os.path.isfile(results[0]["path"])
    assert left == 0
    assert len(sb.tasks) == 1  # resume never submits
    assert Ledger(home).tasks()[task.token].outcome == "succeeded"


@pytest.mark.slow
def test_process_killed_mid_run_is_resumed(make_sandbox: Callable[..., Any],
                                           tmp_path: Path) -> None:
    sb = make_sandbox()
    prompt = "a process killed mid-run"
    ok = False
    try:
        with sb.gate("task_output"):  # still generating when the kill lands
            done, _lines = _signal_at(sb, tmp_path, "task_output", signal.SIGKILL, prompt)
        assert done.returncode == -signal.SIGKILL
        _check_recovered(sb, tmp_path, prompt)
        ok = True
    finally:
        _count("SIGKILL", ok)


# -- a real ipykernel --------------------------------------------------------------------------


@pytest.fixture
def kernel(make_sandbox: Callable[..., Any], tmp_path: Path) -> Any:
    from jupyter_client import KernelManager

    sb = make_sandbox()
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=_env(sb, tmp_path), cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield sb, km, kc
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def _start_run_in(kc: Any, prompt: str) -> str:
    code = (
        "from wiro_widgets import WiroClient\n"
        "outcome = None\n"
        "try:\n"
        f"    WiroClient().run({MODEL!r}, prompt={prompt!r}, width=64, height=64, steps=50,\n"
        "                     on_update=lambda u: print(u.status, flush=True))\n"
        "    outcome = 'finished'\n"
        "except KeyboardInterrupt:\n"
        "    outcome = 'interrupted'\n"
    )
    return str(kc.execute(code))


def _running(sb: Any, home: Path) -> bool:
    tasks = sb.tasks
    submitted = [e for e in Ledger(home).events() if e["event"] == "submitted"]
    return bool(tasks and submitted and tasks[0].status == "task_output")


def _wait_for_printed(kc: Any, text: str, timeout: float = 60.0) -> None:
    """Read the kernel's output until a line ``text`` is printed (from inside ``run``)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the kernel never printed {text!r}"
        msg = kc.get_iopub_msg(timeout=remaining)
        if msg["msg_type"] == "stream" and text in msg["content"]["text"].split():
            return


def _user_expression(kc: Any, expression: str) -> str:
    reply = kc.execute_interactive("", user_expressions={"x": expression}, timeout=30,
                                   output_hook=lambda _msg: None)
    return str(reply["content"]["user_expressions"]["x"]["data"]["text/plain"])


@pytest.mark.slow
@pytest.mark.notebook
def test_kernel_interrupt_button_stops_the_task(kernel: Any, tmp_path: Path) -> None:
    sb, km, kc = kernel
    ok = False
    try:
        with sb.gate("task_output"):  # generating until the interrupt has landed
            _start_run_in(kc, "interrupted from the notebook toolbar")
            _wait_for_printed(kc, "task_output")  # an update: inside the wait
            km.interrupt_kernel()
            wait_for(lambda: sb.tasks[0].status == "task_cancel", 20)
        assert _user_expression(kc, "outcome") == "'interrupted'"
        finished = [e for e in Ledger(tmp_path).events() if e["event"] == "finished"]
        assert [e["outcome"] for e in finished] == ["cancelled"]
        assert _stops(sb)[0] == "/v1/Task/Kill"
        ok = True
    finally:
        _count("kernel interrupt", ok)


@pytest.mark.slow
@pytest.mark.notebook
def test_kernel_killed_mid_run_is_resumed(kernel: Any, tmp_path: Path) -> None:
    sb, km, kc = kernel
    prompt = "a kernel killed mid-run"
    ok = False
    try:
        with sb.gate("task_output"):  # generating until the kill has landed
            _start_run_in(kc, prompt)
            wait_for(lambda: _running(sb, tmp_path), 60)
            km.signal_kernel(signal.SIGKILL)
            wait_for(lambda: not km.is_alive(), 10)
            assert sb.tasks[0].status == "task_output"
        _check_recovered(sb, tmp_path, prompt)
        ok = True
    finally:
        _count("kernel killed", ok)
