"""Figure 7, panel responsiveness: with a run in flight, the time from a click on the panel's
Cancel button to the sandbox receiving the ``Task/Cancel`` or ``Task/Kill`` request.

The click is ``panel.cancel_button.click()`` from this thread, which runs the button's handlers
as the frontend's message handler does in a kernel. The arrival is the sandbox's own record of
the request (``RequestRecord.time``, taken when the request reaches its WSGI app).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from common import (
    TERMINAL,
    Context,
    PlainClient,
    RemoteSandbox,
    Row,
    Section,
    interleave,
    ratio,
    seeded,
    stats,
    wire_params,
)

SPEED = 1.0
STEPS = 50  # ≈3.5 s of steps: the click always lands while the task runs
BASELINE_POLL = 1.0
GOAL_MS = 200.0
STOP_PATHS = ("/v1/Task/Cancel", "/v1/Task/Kill")


def _wait_running(sb: RemoteSandbox, timeout: float = 20.0) -> dict[str, Any]:
    """The newest task, once the sandbox reports it generating (``task_output``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tasks = sb.tasks()
        if tasks and tasks[-1]["status"] == "task_output":
            return tasks[-1]
        time.sleep(0.05)
    raise TimeoutError("the task did not start generating")


def _stop_arrival(sb: RemoteSandbox, since: float) -> tuple[float, str]:
    for record in sb.requests(since):
        if record["method"] == "POST" and record["path"] in STOP_PATHS:
            return float(record["time"]), record["path"].rsplit("/", 1)[1]
    raise LookupError("no Task/Cancel or Task/Kill reached the sandbox")


def _panel(sb: RemoteSandbox, panel: Any, delay: float) -> tuple[float, float, str]:
    """(click to request, click to the panel showing the end, endpoint)."""
    tasks_before = len(sb.tasks())
    if not panel.generate():
        raise RuntimeError(f"Generate refused: {panel.status.state}")
    task = _wait_running(sb)
    if len(sb.tasks()) != tasks_before + 1:
        raise RuntimeError("expected exactly one new task")
    time.sleep(delay)
    clicked = time.time()
    panel.cancel_button.click()
    if not panel.wait(30):
        raise TimeoutError("the panel's run did not end after Cancel")
    ended = time.time()
    arrived, endpoint = _stop_arrival(sb, clicked)
    final = sb.task(task["id"])["status"]
    if final != "task_cancel":
        raise RuntimeError(f"the task ended {final}, not cancelled")
    return arrived - clicked, ended - clicked, endpoint


def _blocking(sb: RemoteSandbox, plain: PlainClient, delay: float) -> tuple[float, float, str]:
    """The baseline: a blocking loop that looks at its cancel flag only between 1 s polls."""
    task_id, token = plain.run(wire_params(STEPS, seed=3))
    flag = threading.Event()
    done = threading.Event()

    def loop() -> None:
        try:
            while True:
                record = plain.detail(token)
                if record.get("status") in TERMINAL:
                    return
                if flag.is_set():
                    plain.post("/Task/Kill", {"taskid": task_id, "socketaccesstoken": token})
                    while plain.detail(token).get("status") not in TERMINAL:
                        time.sleep(BASELINE_POLL)
                    return
                time.sleep(BASELINE_POLL)
        finally:
            done.set()

    thread = threading.Thread(target=loop, name="bench-blocking-client", daemon=True)
    thread.start()
    _wait_running(sb)
    time.sleep(delay)
    clicked = time.time()
    flag.set()
    if not done.wait(30):
        raise TimeoutError("the blocking client did not stop")
    ended = time.time()
    arrived, endpoint = _stop_arrival(sb, clicked)
    return arrived - clicked, ended - clicked, endpoint


def run(ctx: Context) -> Section:
    from wiro_widgets.panel import FluxPanel

    reps = ctx.reps(9, 3)
    rng = seeded("cancel")
    endpoints: set[str] = set()
    with RemoteSandbox(speed=SPEED, concurrency_limit=None) as sb:
        client = sb.client(home=ctx.home("cancel"))
        panel = FluxPanel(client)
        prompt, steps = panel.form.prompt, panel.form.controls["steps"]
        assert prompt is not None
        assert steps is not None
        prompt.value = "a lighthouse at dusk"
        steps.value = STEPS
        plain = PlainClient(sb)

        def ours() -> tuple[float, float]:
            sent, ended, endpoint = _panel(sb, panel, rng.uniform(0.0, 1.0))
            endpoints.add(endpoint)
            sb.wait_idle(30)
            return sent * 1000, ended * 1000

        def baseline() -> tuple[float, float]:
            sent, ended, endpoint = _blocking(sb, plain, rng.uniform(0.0, 1.0))
            endpoints.add(endpoint)
            sb.wait_idle(30)
            return sent * 1000, ended * 1000

        samples = interleave({"panel": ours, "blocking": baseline}, reps, warmup=1,
                             log=ctx.log)
        client.close()
        plain.close()

    ours_sent = stats([s for s, _ in samples["panel"]])
    base_sent = stats([s for s, _ in samples["blocking"]])
    ours_end = stats([e for _, e in samples["panel"]])
    base_end = stats([e for _, e in samples["blocking"]])
    section = Section("cancel", "Panel responsiveness")
    section.rows.append(Row(
        "7. Cancel click → `Task/Kill` at the server, run in flight",
        ours_sent.fmt("ms"), base_sent.fmt("ms") + f" (blocking loop, {BASELINE_POLL:g} s polls)",
        ratio(ours_sent.median, base_sent.median), f"< {GOAL_MS:.0f} ms",
        ours_sent.median < GOAL_MS))
    section.rows.append(Row(
        "7. … click → the run over on the client (cancellation confirmed)",
        ours_end.fmt("ms"), base_end.fmt("ms"), ratio(ours_end.median, base_end.median),
        "—", None))
    section.notes = f"""\
**Defined as**: from `panel.cancel_button.click()` (called from the benchmark's thread, which
runs the button's handlers the way the frontend's message handler does in a kernel) to the
arrival of the stop request at the sandbox, by the sandbox's own clock (`RequestRecord.time`,
taken as the request reaches its WSGI app). Endpoints seen: {", ".join(sorted(endpoints))}
(the tasks were running, so Kill is the right one). The second row goes on until the run is
over on the client: the panel's worker has confirmed `task_cancel` from Task/Detail and
finished (`panel.wait()` returns); the baseline's loop has seen a terminal status.
**Ours**: a `FluxPanel` on a `WiroClient` (WebSocket on); Generate, then Cancel once the sandbox
reports the task generating, after a further random 0–1 s so the click lands at any point of
the client's cycles. Under the click: the worker's `client.wait` sees the cancel event within
its 100 ms tick, reads Task/Detail to pick Cancel or Kill, and sends it. **Baseline**: a
blocking `requests` loop on its own thread (Task/Detail every {BASELINE_POLL:g} s) that checks
a cancel flag only between polls, then sends Task/Kill, with the same random click times.
**Setup**: sandbox in its own process, `speed={SPEED:g}`, {STEPS} steps (≈3.5 s of
generation), {reps} interleaved rounds after a warm-up round. The sandbox's task list is polled
over a pipe every 50 ms to know when the task runs; that polling stops before the click."""
    return section
