"""Figure 8, a batch at scale: 1,000 tasks at a concurrency limit of 50, ours (``client.batch``:
one WebSocket and a small pool follow every task) against a thread per task (a pool of 50
threads, each running ``client.run``, which follows its task with its own socket and poller
threads, as ``client.sweep`` did before).

Each variant runs in a fresh subprocess (this file, run as a worker) against a sandbox in its
own process. The worker samples its thread count and RSS every 50 ms and reports its peak RSS
(``VmHWM``, reset after the imports) and peak thread count. Slot occupancy comes from the
sandbox's own task histories: the time tasks spent on the server (from their creation to their
end) over 50 slots times the span from the first creation to the last end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench_upload_memory import _status_kib
from common import MODEL, Context, RemoteSandbox, Row, Section, ratio, stats

TASKS = 1000
LIMIT = 50
SPEED = 1.0
PARAMS: dict[str, Any] = {"width": 64, "height": 64, "steps": 8}
GOAL_BUSY = 0.85
GOAL_RSS_MB = 300.0
MB = 1024 * 1024
END = ("task_postprocess_end", "task_cancel", "task_error")


def _sampler(peak: dict[str, float], stop: threading.Event) -> None:
    while not stop.wait(0.05):
        peak["threads"] = max(peak["threads"], threading.active_count())
        peak["rss"] = max(peak["rss"], _status_kib("VmRSS") * 1024)


def _ours(tasks: int) -> None:
    from wiro_widgets import WiroClient

    rows = [{"prompt": f"batch row {i}", "seed": i} for i in range(tasks)]
    batch = WiroClient().batch(rows, model=MODEL, name="bench", max_concurrency=LIMIT,
                               progress=False, **PARAMS)
    status = batch.status()
    assert status.done == tasks, status


def _threads(tasks: int) -> None:
    from wiro_widgets import WiroClient
    from wiro_widgets.errors import ConcurrencyLimit

    client = WiroClient(busy_timeout=600.0)

    def one(i: int) -> None:
        while True:
            try:
                client.run(MODEL, prompt=f"batch row {i}", seed=i, **PARAMS)
                return
            except ConcurrencyLimit:
                time.sleep(0.2)

    with ThreadPoolExecutor(LIMIT) as pool:
        list(pool.map(one, range(tasks)))


def _worker(mode: str, tasks: int) -> dict[str, Any]:
    import wiro_widgets.client
    import wiro_widgets.research  # noqa: F401

    reset = True
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        reset = False
    base = _status_kib("VmRSS") * 1024
    peak = {"threads": float(threading.active_count()), "rss": float(base)}
    stop = threading.Event()
    sampler = threading.Thread(target=_sampler, args=(peak, stop), daemon=True)
    sampler.start()
    started = time.time()
    (_ours if mode == "ours" else _threads)(tasks)
    seconds = time.time() - started
    stop.set()
    sampler.join()
    hwm = _status_kib("VmHWM") * 1024 if reset else 0
    return {"seconds": seconds, "base": base, "peak_rss": max(hwm, peak["rss"]),
            "threads": peak["threads"] - 1, "started": started}  # less the sampler


def _measure(mode: str, sb: RemoteSandbox, home: Path, tasks: int) -> dict[str, Any]:
    env = {**os.environ, **sb.env(), "WIRO_WIDGETS_HOME": str(home)}
    done = subprocess.run([sys.executable, __file__, "worker", mode, str(tasks)], env=env,
                          capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} worker failed: {done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    histories = [t["history"] for t in sb.tasks()]
    report["busy"] = _occupancy(histories)
    report["tasks"] = len(histories)
    return report


def _occupancy(histories: list[list[Any]]) -> float:
    """Task-seconds on the server over LIMIT slots times the span they were spread on."""
    spans = []
    for history in histories:
        start = float(history[0][1])
        end = next(float(when) for status, when in history if status in END)
        spans.append((start, end))
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    return sum(e - s for s, e in spans) / (LIMIT * (last - first))


def run(ctx: Context) -> Section:
    tasks = 200 if ctx.quick else TASKS
    results: dict[str, list[dict[str, Any]]] = {"ours": [], "threads": []}
    for mode in ("threads", "ours") if ctx.quick else ("ours", "threads", "ours", "threads"):
        with RemoteSandbox(speed=SPEED, concurrency_limit=LIMIT) as sb:
            report = _measure(mode, sb, ctx.home(f"batch-{mode}-{len(results[mode])}"), tasks)
        ctx.log(f"  {mode}: {report['seconds']:.1f} s, busy {report['busy']:.0%}, "
                f"peak RSS {report['peak_rss'] / MB:.0f} MB, {report['threads']:.0f} threads")
        results[mode].append(report)
    return _section(results, tasks)


def _section(results: dict[str, list[dict[str, Any]]], tasks: int) -> Section:
    def figure(mode: str, key: str, scale: float = 1.0) -> Any:
        return stats([r[key] * scale for r in results[mode]])

    busy_o, busy_t = figure("ours", "busy", 100), figure("threads", "busy", 100)
    rss_o, rss_t = figure("ours", "peak_rss", 1 / MB), figure("threads", "peak_rss", 1 / MB)
    thr_o, thr_t = figure("ours", "threads"), figure("threads", "threads")
    sec_o, sec_t = figure("ours", "seconds"), figure("threads", "seconds")
    extra = stats([(r["peak_rss"] - r["base"]) / MB / LIMIT for r in results["ours"]])
    section = Section("batch", "A batch at scale", notes=_notes(tasks, sec_o.median, extra.median))
    section.rows += [
        Row(f"9. {tasks}-task batch at 50 at once: slots busy", busy_o.fmt("%"),
            busy_t.fmt("%") + " (thread per task)", ratio(busy_o.median, busy_t.median),
            f"≥ {GOAL_BUSY:.0%}", busy_o.median >= GOAL_BUSY * 100),
        Row("9. … peak RSS of the client process", rss_o.fmt("MB"), rss_t.fmt("MB"),
            ratio(rss_o.median, rss_t.median), f"< {GOAL_RSS_MB:.0f} MB",
            rss_o.median < GOAL_RSS_MB),
        Row("9. … peak thread count of the client process", thr_o.fmt("threads"),
            thr_t.fmt("threads"), ratio(thr_o.median, thr_t.median), "bounded",
            thr_o.high <= 40),
        Row("9. … wall time; tasks per second", sec_o.fmt("s") +
            f"; {tasks / sec_o.median:.1f}/s", sec_t.fmt("s") + f"; {tasks / sec_t.median:.1f}/s",
            ratio(sec_o.median, sec_t.median), "—", None),
        Row("9. … memory per running task (peak RSS over the imports, ÷ 50)",
            extra.fmt("MB", 2), "—", "—", "—", None),
    ]
    return section


def _notes(tasks: int, seconds: float, per_task: float) -> str:
    return f"""\
**Defined as**: {tasks} tasks with distinct prompts and seeds, {LIMIT} at once, against a
sandbox in its own process with `concurrency_limit={LIMIT}`, `speed={SPEED:g}`, 64x64, 8
steps (about 3 s a task on the server). **Slots busy**: the sum of every task's time on the
server (creation to end, from the sandbox's task history) over {LIMIT} slots times the span
from the first creation to the last end. **Peak RSS**: the worker process's `VmHWM` (reset
after the imports) or the highest sampled `VmRSS`, whichever is higher. **Threads**: the
most threads alive in the worker at once (sampled every 50 ms, the sampler not counted).
**Ours**: `client.batch(rows, max_concurrency={LIMIT})`: four submitter threads, one
dispatcher, one WebSocket with every token subscribed, a pool of eight for Task/Detail
reads, downloads and ledger lines; results go to the cache and the ledger, not to memory.
**Baseline**: a pool of {LIMIT} threads, each calling `client.run` (its own socket reader
and poller thread per task, as sweeps ran before), retrying code 96 after 0.2 s.
Each variant ran twice (once in a quick run), alternating, each against a fresh sandbox.
One process handled {tasks / seconds:.0f} tasks per second at {LIMIT} at once, and each
running task cost about {per_task:.2f} MB of the client's memory: far from a limit of one
machine, which is why `docs/scale.md` says one process is enough up to the API's
concurrency limit."""


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "worker":
    print(json.dumps(_worker(sys.argv[2], int(sys.argv[3]))))
