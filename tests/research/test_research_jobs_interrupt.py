"""A sweep and a batch interrupted at a random moment, then run again: every cell is done
once, and the sandbox made exactly one task per cell.

Each case runs the job in a child process (its environment points at a sandbox in this
process and at this test's ledger), interrupts it at a moment drawn at random (an exception
raised from ``on_progress`` after a random number of events, SIGINT or SIGKILL after a
random delay), then runs the same job again here, uninterrupted. The seed is in every
assertion message; ``WIRO_JOB_SEED=<seed>`` replays a draw.

Two moments random draws rarely hit are forced: the Run in flight when the process dies
(the sandbox slows every answer, so the kill lands between the ``sending`` line and the
``submitted`` one while the server makes the task), and a ``sending`` line whose Run never
left (written as a crash right before sending leaves it).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wiro_widgets.ledger import ClientInfo, Ledger, NotSent, Sending, Submitted
from wiro_widgets.research import read_job
from wiro_widgets.sandbox import Faults

from .conftest import MODEL

pytestmark = pytest.mark.slow

CELLS = 10
SMALL = {"width": 64, "height": 64, "steps": 6}
NAME = "interrupted"

CHILD = f"""
import json, sys
from wiro_widgets import WiroClient

kind, trigger, rows = sys.argv[1], sys.argv[2], sys.argv[3]
client = WiroClient()
events = 0

def progress(p):
    global events
    print("EVENT", p.event, p.done, flush=True)
    if p.event in ("submitted", "finished"):
        events += 1
        if trigger.startswith("raise:") and events >= int(trigger[6:]):
            raise RuntimeError("a bug in the caller's callback")

if kind == "sweep":
    job = client.sweep({MODEL!r}, prompt="an interrupted sweep", seed=list(range({CELLS})),
                       name={NAME!r}, max_concurrency=4, on_progress=progress,
                       progress=False, **{SMALL!r})
else:
    job = client.batch(rows, model={MODEL!r}, name={NAME!r}, max_concurrency=4,
                       on_progress=progress, progress=False, **{SMALL!r})
print("DONE", flush=True)
"""


def _seed() -> int:
    return int(os.environ.get("WIRO_JOB_SEED") or random.SystemRandom().randrange(1 << 30))


def _rows(tmp_path: Path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"row {i}", "seed": 100 + i}) + "\n"
                            for i in range(CELLS)), encoding="utf-8")
    return path


def _child(sb: Any, home: Path, kind: str, trigger: str, rows: Path) -> subprocess.Popen[str]:
    env = {**os.environ, **sb.env(), "WIRO_WIDGETS_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-c", CHILD, kind, trigger, str(rows)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _interrupt(child: subprocess.Popen[str], sig: int | None, delay: float) -> list[str]:
    """Read the child's lines; ``delay`` seconds after its job started, send ``sig``."""
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.append(line.strip())
            if line.startswith("EVENT start"):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if sig is not None:
        assert started.wait(60), "the child's job never started"
        time.sleep(delay)
        if child.poll() is None:
            child.send_signal(sig)
    child.wait(120)
    reader.join(10)
    return lines


def _run_again(sb: Any, kind: str, rows: Path) -> Any:
    client = sb.client()
    client.unknown_settle = 1.5
    if kind == "sweep":
        return client.sweep(MODEL, prompt="an interrupted sweep", seed=list(range(CELLS)),
                            name=NAME, max_concurrency=4, progress=False, **SMALL)
    return client.batch(rows, model=MODEL, name=NAME, max_concurrency=4, progress=False,
                        **SMALL)


def _check_once(sb: Any, home: Path, kind: str, job: Any, why: str) -> None:
    assert sb.wait_idle(30), why
    seeds = Counter(int(t.params["seed"]) for t in sb.tasks)
    expected = set(range(CELLS)) if kind == "sweep" else {100 + i for i in range(CELLS)}
    assert set(seeds) == expected, why
    assert [s for s, n in seeds.items() if n > 1] == [], f"duplicate tasks; {why}"
    assert len(sb.tasks) == CELLS, why
    assert {t.status for t in sb.tasks} == {"task_postprocess_end"}, why
    status = job.status()
    assert (status.done, status.running, status.to_do, status.failed) == (CELLS, 0, 0, 0), why
    record = read_job(Ledger(home), NAME)
    assert sorted(c.token for c in record.cells.values()) == sorted(t.token for t in sb.tasks)


CASES = [(kind, how) for kind in ("sweep", "batch") for how in ("raise", "SIGINT", "SIGKILL")]


@pytest.mark.parametrize(("kind", "how"), CASES, ids=[f"{k}-{h}" for k, h in CASES])
def test_interrupted_at_a_random_moment_then_run_again(
        make_sandbox: Callable[..., Any], wiro_home: Path, tmp_path: Path, kind: str,
        how: str) -> None:
    seed = _seed()
    draw = random.Random(seed)
    sb = make_sandbox(speed=2.0)  # about 3.4 s for the whole job
    rows = _rows(tmp_path)
    trigger, sig, delay = "none", None, 0.0
    if how == "raise":
        trigger = f"raise:{draw.randint(1, 2 * CELLS - 1)}"
    else:
        sig = signal.SIGINT if how == "SIGINT" else signal.SIGKILL
        delay = draw.uniform(0.0, 3.0)
    why = f"{kind} {how} (trigger {trigger}, delay {delay:.2f}s, WIRO_JOB_SEED={seed})"
    lines = _interrupt(_child(sb, wiro_home, kind, trigger, rows), sig, delay)
    if "DONE" in lines:
        pytest.skip(f"the job ended before the interruption: {why}")
    before = len(sb.tasks)
    job = _run_again(sb, kind, rows)
    _check_once(sb, wiro_home, kind, job, why)
    assert len(sb.tasks) - before <= CELLS, why


def test_killed_while_its_runs_are_in_flight(make_sandbox: Callable[..., Any],
                                            wiro_home: Path, tmp_path: Path) -> None:
    # Every answer takes a second: the kill lands after the `sending` lines, while the
    # server makes the tasks and before any `submitted` line.
    sb = make_sandbox(speed=8.0, faults=Faults(latency=1.0))
    rows = _rows(tmp_path)
    child = _child(sb, wiro_home, "batch", "none", rows)
    deadline = time.monotonic() + 60
    while not any(e.get("event") == "sending" for e in Ledger(wiro_home).events()):
        assert time.monotonic() < deadline, "no Run was ever about to be sent"
        time.sleep(0.02)
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    events = list(Ledger(wiro_home).events())
    kinds = Counter(e["event"] for e in events)
    assert kinds["sending"] >= 1
    assert kinds["submitted"] == 0, "the kill came too late to prove anything"
    sb.set_faults(None)
    deadline = time.monotonic() + 10  # the server answers (to no one) a second after each Run
    while not sb.tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)
    assert sb.wait_idle(30)
    made = len(sb.tasks)
    assert made >= 1, "no Run reached the server before the kill"
    job = _run_again(sb, "batch", rows)
    _check_once(sb, wiro_home, "batch", job, "killed with Runs in flight")
    adopted = [e for e in Ledger(wiro_home).events()
               if e["event"] == "submitted" and e.get("adopted")]
    assert len(adopted) == made  # each task made before the kill was adopted, not re-sent


def test_a_run_that_never_left_is_sent_once_after_the_settle_time(
        make_sandbox: Callable[..., Any], wiro_home: Path, tmp_path: Path) -> None:
    sb = make_sandbox(speed=8.0)
    client = sb.client()
    rows = _rows(tmp_path)
    first = client.batch(rows, model=MODEL, name=NAME, progress=False, **SMALL)
    assert first.status().done == CELLS
    # A crash right after the `sending` line of a re-run of row 3, before its Run left:
    ledger = Ledger(wiro_home)
    sent_at = time.time()
    ledger.write(Sending(run_id="crashed", job="other", cell=3, model=MODEL,
                         params={"prompt": "row 3"}, sent={"prompt": "row 3"}, sent_at=sent_at,
                         client=ClientInfo(base_url=client.base_url,
                                           key=client.key_fingerprint)))
    again = sb.client()
    again.unknown_settle = 1.0
    started = time.monotonic()
    other = again.batch([{"prompt": f"row {i}", "seed": 100 + i} for i in range(CELLS)],
                        model=MODEL, name="other", progress=False, **SMALL)
    assert time.monotonic() - started >= 1.0 - (time.time() - sent_at) - 0.1
    assert other.status().done == CELLS
    closed = [e for e in ledger.read() if isinstance(e, NotSent) and e.run_id == "crashed"]
    assert len(closed) == 1
    assert "not in Task/List" in closed[0].reason
    assert not any(isinstance(e, Submitted) and e.run_id == "crashed" for e in ledger.read())
    # The first batch's tasks were not taken for the crashed Run: row 3 ran once more.
    assert len(sb.tasks) == 2 * CELLS
