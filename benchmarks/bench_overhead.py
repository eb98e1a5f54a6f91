"""Figure 2, client overhead: the wall time of a whole run minus the sandbox's own processing
time, for a 1024x1024 PNG result, download and decode included.

Overhead = (wall time from the call to a decoded image) − (the task's time on the server, from
its ``task_queue`` to its ``task_postprocess_end`` timestamps). What is left is the client: local
checks, the ledger, the Run request, noticing the end, the download, the cache and the decode.
"""

from __future__ import annotations

import io
import statistics
import time
from typing import Any

from common import (
    MODEL,
    TERMINAL,
    Context,
    PlainClient,
    RemoteSandbox,
    Row,
    Section,
    interleave,
    py_params,
    ratio,
    stats,
    status_time,
    wire_params,
)

SPEED = 2.0
STEPS = 8  # about one second on the server at this speed
GOAL_MS = 100.0
BASELINE_POLL = 0.1  # the tightest loop in client-anchors.md §1 (fal's default)


def _server_times(sb: RemoteSandbox, task_id: str) -> tuple[float, float]:
    history = sb.task(task_id)["history"]
    return status_time(history, "task_queue"), status_time(history, "task_postprocess_end")


def _ours(sb: RemoteSandbox, client: Any, seed: int) -> dict[str, float]:
    marks: dict[str, float] = {}

    def on_update(update: Any) -> None:
        if update.status == "downloading":
            marks.setdefault("notice", time.time())

    start = time.time()
    result = client.run(MODEL, on_update=on_update, **py_params(STEPS, seed))
    returned = time.time()
    _ = result.images  # the PIL decode
    done = time.time()
    created, ended = _server_times(sb, result.task_id)
    return {"overhead": (done - start) - (ended - created), "submit": created - start,
            "notice": marks["notice"] - ended, "fetch": returned - marks["notice"],
            "decode": done - returned}


def _loop(sb: RemoteSandbox, plain: PlainClient, seed: int) -> dict[str, float]:
    """The hand-written baseline: Run, poll every 0.1 s, download, decode."""
    from PIL import Image

    start = time.time()
    task_id, token = plain.run(wire_params(STEPS, seed))
    while True:
        record = plain.detail(token)
        if record.get("status") in TERMINAL:
            break
        time.sleep(BASELINE_POLL)
    noticed = time.time()
    data = plain.download(record["outputs"][0]["url"])
    fetched = time.time()
    image = Image.open(io.BytesIO(data))
    image.load()
    done = time.time()
    created, ended = _server_times(sb, task_id)
    return {"overhead": (done - start) - (ended - created), "submit": created - start,
            "notice": noticed - ended, "fetch": fetched - noticed, "decode": done - fetched}


def run(ctx: Context) -> Section:
    reps = ctx.reps(9, 3)
    seeds = iter(range(1000, 2000))
    with RemoteSandbox(speed=SPEED, concurrency_limit=None) as sb:
        client = sb.client(home=ctx.home("overhead"))
        plain = PlainClient(sb)
        samples = interleave({
            "ours": lambda: _ours(sb, client, next(seeds)),
            "loop": lambda: _loop(sb, plain, next(seeds)),
        }, reps, warmup=1, log=ctx.log)
        client.close()
        plain.close()

    def ms(name: str, part: str) -> list[float]:
        return [s[part] * 1000 for s in samples[name]]

    ours, base = stats(ms("ours", "overhead")), stats(ms("loop", "overhead"))
    section = Section("overhead", "Client overhead")
    section.rows.append(Row(
        "2. Client overhead of a run (1024x1024 PNG, download and decode included)",
        ours.fmt("ms"), base.fmt("ms") + " (requests loop, 0.1 s polls)",
        ratio(ours.median, base.median), f"< {GOAL_MS:.0f} ms", ours.median < GOAL_MS))

    def parts(name: str) -> str:
        return ", ".join(f"{part} {statistics.median(ms(name, part)):.0f} ms"
                         for part in ("submit", "notice", "fetch", "decode"))

    section.notes = f"""\
**Defined as**: wall time from the call to a decoded image in hand, minus the task's own time
on the server (its `task_postprocess_end` minus its `task_queue` timestamp, from the sandbox's
task history). **Ours**: `client.run()` (WebSocket on, ledger and output cache on, as shipped)
then `result.images`. **Baseline**: a minimal hand-written `requests` loop against the same
sandbox: POST Run, Task/Detail every {BASELINE_POLL:g} s until terminal, GET the output, PIL
decode. **Setup**: sandbox in its own process, `speed={SPEED:g}`, {STEPS} steps (≈1 s on the
server), {reps} interleaved rounds after a warm-up round.
**Where the time goes** (medians): ours: {parts("ours")}; baseline: {parts("loop")}. "submit"
runs from the call to the task's creation on the server (ours: local checks, the ledger's
`submitted` line with its fsync, the Run request); "notice" from the task's end to the client
knowing it; "fetch" the download (ours: plus the output cache write and the ledger's `finished`
line); "decode" the PIL decode."""
    return section
