"""Running a named job (a sweep's cells, a batch's rows) so that it can always be resumed.

Before anything is sent the runner takes the job's lock (one process runs a job at a time),
writes `JobStarted`, settles the Runs a crash left unknown (`client.recover_job`), and reads
each cell's state from the ledger (`job_state`). Then it follows the cells still running,
and sends the cells to do, in order, through the code-96 `Governor`. Tasks are followed by
the client's hub (`client.watch`: one WebSocket and a small pool for all of them), so the
thread count stays bounded however many run at once; a handful of submitter threads send
the Runs. Results go to the cache and the ledger as they end; the owner (a `Sweep` or a
`Batch`) decides what to keep in memory.

How a run ends:
- every cell ended: normal return;
- `cancel` (``cancel_event``): nothing more is sent, running tasks are cancelled on the
  server, the cells never sent are "not run";
- an exception on the caller's thread (Ctrl-C, a raising callback): nothing more is sent;
  with ``on_interrupt="detach"`` (the default) the running tasks go on and the next run of
  the job follows them again; with ``"cancel"`` they are cancelled first. Then it re-raises.
- a SIGKILL: nothing runs; the ledger holds every trace the next run needs.

Example:
    >>> runner = JobRunner(client, plan, owner, max_concurrency=8)
    >>> runner.run()
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..backoff import RetryPolicy, backoff_delay
from ..errors import ConcurrencyLimit, JobChanged, TaskCancelled, TaskError
from ..ledger import JobCell, JobStarted
from ..protocol import parse_number
from ..redaction import get_logger
from ..results import Result, Task
from .client_like import ClientLike, WatchLike, ledger_of, reused_result
from .governor import Governor
from .job_lock import job_lock
from .job_state import CellState, JobRecord, read_job
from .progress_bar import ProgressBar

__all__ = ["BUSY_RETRY", "JobOwner", "JobPlan", "JobProgress", "JobRunner"]

log = get_logger(__name__)

#: How a cell waits after a code-96 answer before submitting again (full jitter spreads the
#: retries apart; a ``Retry-After`` wins).
BUSY_RETRY = RetryPolicy(base=0.25, cap=8.0)
#: Threads sending Runs (each Run takes milliseconds; tasks are followed by the hub).
SUBMITTERS = 4


@dataclass(frozen=True)
class JobProgress:
    """What a job is doing, after every change.

    Attributes:
        event: ``start``, ``submitted``, ``busy``, ``finished``, ``failed``, ``cancelled``,
            ``done`` (the run ended) or ``detached`` (interrupted; tasks left running).
        total: the job's cells.
        succeeded, failed, not_run, running, waiting: cells in each state (``waiting``: to
            be sent; ``not_run``: dropped by a cancel before being sent).
        reused: cells that had ended before this run (included in the counts).
        estimate: USD estimated for the cells this run sends, when known.
        cost: USD billed for the job's tasks so far (earlier runs included).
        window: how many Runs the governor lets run at once.
        message: a line for logs.
        index: the cell this event is about, if any.
    """

    event: str
    total: int
    succeeded: int
    failed: int
    not_run: int
    running: int
    waiting: int
    reused: int
    estimate: float | None
    cost: float
    window: int
    message: str
    index: int | None = None

    @property
    def done(self) -> int:
        """Cells that ended, however."""
        return self.succeeded + self.failed + self.not_run


class JobPlan(Protocol):
    """What a job runs: its name, its cells, and a digest of them."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def total(self) -> int: ...

    @property
    def digest(self) -> str: ...

    @property
    def models(self) -> Sequence[str]: ...

    @property
    def source(self) -> str: ...

    @property
    def estimate(self) -> float | None: ...

    @property
    def excluded(self) -> int:
        """Cells left out of every run (a batch's bad rows skipped)."""
        ...

    def cells_to_run(self, wanted: Callable[[int], bool]
                     ) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(index, model, parameters) of the cells ``wanted`` accepts, in order."""
        ...

    def label(self, index: int) -> str:
        """A short name of the cell for messages."""
        ...


class JobOwner(Protocol):
    """What the runner tells the sweep or batch it runs for."""

    def restored(self, state: CellState) -> None:
        """A cell that ended in an earlier run (done or failed)."""

    def ended(self, index: int, outcome: Result | BaseException) -> None:
        """A cell ended in this run (its `Result`, or the error that ended it)."""

    def not_sent(self, index: int) -> None:
        """A cell was not sent in this run (the job was cancelled first)."""


class JobRunner:
    """Runs one job once; see the module docstring.

    Args:
        client: the client to run with.
        plan: the job's cells.
        owner: told of every cell that ends.
        max_concurrency: the most Runs in flight at once.
        on_progress: called with each `JobProgress`, on the caller's thread.
        cancel_event: set it (from any thread) to cancel the job.
        on_interrupt: ``detach`` or ``cancel`` the running tasks when the caller's thread
            is interrupted.
        progress: show a progress bar.
        fresh: forget the cells' earlier Runs (run and bill every cell again).
    """

    def __init__(self, client: ClientLike, plan: JobPlan, owner: JobOwner, *,
                 max_concurrency: int = 4,
                 on_progress: Callable[[JobProgress], None] | None = None,
                 cancel_event: threading.Event | None = None,
                 on_interrupt: str = "detach", progress: bool = True,
                 fresh: bool = False) -> None:
        if on_interrupt not in ("detach", "cancel"):
            raise ValueError(f"on_interrupt must be 'detach' or 'cancel', not {on_interrupt!r}")
        self.client, self.plan, self.owner = client, plan, owner
        self.on_progress, self.on_interrupt = on_progress, on_interrupt
        self.cancel_event = cancel_event or threading.Event()
        self.governor = Governor(max(1, int(max_concurrency)))
        self.show_bar, self.fresh = progress, fresh
        self.counts = {"succeeded": 0, "failed": 0, "not_run": 0, "reused": 0}
        self.cost = 0.0
        self._events: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._watches: dict[int, WatchLike] = {}
        self._lock = threading.Lock()
        self._todo: Iterator[tuple[int, str, dict[str, Any]]] = iter(())
        self._feeding = 0
        #: Set to stop sending (a cancel, or the caller's thread was interrupted).
        self._halt = threading.Event()
        self._cancelled: set[int] = set()
        self._bar: ProgressBar | None = None

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> None:
        """Run the job's remaining cells; see the module docstring for how it ends."""
        with job_lock(self.client.home, self.plan.name):
            record = self._prepare()
            self._start(record)
            try:
                self._pump()
            except BaseException:
                self._interrupted()
                raise
            finally:
                if self._bar is not None:
                    self._bar.close(self._progress("done", ""))

    def _prepare(self) -> JobRecord:
        ledger = ledger_of(self.client)
        earlier = read_job(ledger, self.plan.name).digest
        if earlier and earlier != self.plan.digest and not self.fresh:
            what = f"the file {self.plan.source}" if self.plan.source else "its cells"
            raise JobChanged(
                f"{self.plan.kind} {self.plan.name!r} was started before with other "
                f"{'rows' if self.plan.kind == 'batch' else 'cells'} ({what} changed since); "
                "resuming it would mix two different jobs, so nothing was sent. Run it under "
                "another name, restore what it ran, or pass rerun=True to start it over "
                "(every cell is sent and billed again).")
        ledger.write(JobStarted(job=self.plan.name, kind=self.plan.kind,
                                digest=self.plan.digest, total=self.plan.total,
                                models=tuple(self.plan.models), source=self.plan.source,
                                fresh=self.fresh, base_url=self.client.base_url))
        if not self.fresh:
            self.client.recover_job(self.plan.name)
        return read_job(ledger, self.plan.name)

    def _start(self, record: JobRecord) -> None:
        self.cost = record.spent
        self.counts["not_run"] += self.plan.excluded
        running: list[CellState] = []
        for index, cell in sorted(record.cells.items()):
            if index >= self.plan.total:
                continue
            if cell.state in ("done", "failed"):
                self.counts["succeeded" if cell.state == "done" else "failed"] += 1
                self.counts["reused"] += 1
                self.owner.restored(cell)
            elif cell.state == "running":
                running.append(cell)
            elif cell.state == "unknown":
                self.counts["not_run"] += 1  # another server's Run: never re-sent from here
                self.owner.not_sent(index)
        skip = {i for i, c in record.cells.items() if c.state != "to_do"}
        self._todo = self.plan.cells_to_run(lambda index: index not in skip)
        if self.show_bar:
            self._bar = ProgressBar(self.plan.name, total=self.plan.total,
                                    initial=self.counts["reused"], kind=self.plan.kind)
        self._emit("start", self._start_message(len(running)))
        for cell in running:
            self.governor.occupy()  # it runs on the server: it takes a slot
            self._follow(cell.index, _task_of(cell))
        workers = min(SUBMITTERS, self.governor.limit)
        self._feeding = workers
        for number in range(workers):
            threading.Thread(target=self._feed, name=f"wiro-job-submit-{number}",
                             daemon=True).start()

    def _pump(self) -> None:
        """Handle events on the caller's thread until every cell ended."""
        while True:
            with self._lock:
                finished = self._feeding == 0 and not self._watches
            if finished and self._drain():
                break
            if self.cancel_event.is_set() and not self._halt.is_set():
                self._halt.set()
                self._cancel_all()
            try:
                event = self._events.get(timeout=0.1)
            except queue.Empty:
                continue
            self._handle(event)
        self._emit("done", f"{self.plan.kind} {self.plan.name}: {self._summary()}")
        self._drain()

    def _drain(self) -> bool:
        """Handle what is queued; True when nothing was."""
        handled = False
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return not handled
            handled = True
            self._handle(event)

    def _interrupted(self) -> None:
        """Stop sending; detach or cancel what runs (the caller's thread was interrupted)."""
        if self.on_interrupt == "cancel":
            self.cancel_event.set()
        self._halt.set()
        deadline = time.monotonic() + 60
        while self._feeding and time.monotonic() < deadline:
            time.sleep(0.02)  # a Run in flight must get its Submitted line first
        with self._lock:
            watches = dict(self._watches)
        if self.on_interrupt == "cancel":
            for watch in watches.values():
                watch.cancel()
            self._quiet_wait(deadline)
        else:
            for watch in watches.values():
                watch.detach()
            log.warning("%s %s interrupted: %d tasks left running; run it again to collect "
                        "them", self.plan.kind, self.plan.name, len(watches))
        self._drain_quietly()

    def _quiet_wait(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            with self._lock:
                if not self._watches:
                    return
            try:
                self._handle(self._events.get(timeout=0.1), quiet=True)
            except queue.Empty:
                continue

    def _drain_quietly(self) -> None:
        while True:
            try:
                self._handle(self._events.get_nowait(), quiet=True)
            except queue.Empty:
                return

    # -- submitter threads -------------------------------------------------------------------
    def _next(self) -> tuple[int, str, dict[str, Any]] | None:
        with self._lock:
            return next(self._todo, None)

    def _feed(self) -> None:
        try:
            while not self._halt.is_set():
                if not self.governor.acquire(self._halt):
                    break
                item = self._next()
                if item is None:
                    self.governor.release()
                    break
                self._send(*item)
        finally:
            with self._lock:
                self._feeding -= 1
            if self.cancel_event.is_set():
                self._drop_rest()

    def _send(self, index: int, model: str, params: dict[str, Any]) -> None:
        reused = reused_result(self.client, model, params)
        if reused is not None:  # a client made with reuse=True: this cell ran before
            self.governor.release()
            self._events.put(("ended", index, reused))
            return
        attempt = 0
        while True:
            try:
                task = self.client.submit_cell(JobCell(self.plan.name, index), model,
                                               busy_timeout=0, **params)
            except ConcurrencyLimit as err:
                window = self.governor.busy()
                attempt += 1
                delay = backoff_delay(attempt, BUSY_RETRY, err.retry_after)
                self._events.put(("busy", index, delay, window))
                if self._halt.wait(delay) or not self.governor.acquire(self._halt):
                    self._events.put(("dropped", index))
                    return
                continue
            except Exception as err:
                self.governor.release()
                self._events.put(("ended", index, err))
                return
            self.governor.accepted()
            self._follow(index, task)
            return

    def _follow(self, index: int, task: Task) -> None:
        def on_end(outcome: Result | BaseException) -> None:
            self._events.put(("ended", index, outcome))

        with self._lock:
            self._watches[index] = self.client.watch(task, on_end)
        self._events.put(("submitted", index, task))
        if self.cancel_event.is_set():
            self._watches[index].cancel()

    def _drop_rest(self) -> None:
        while (item := self._next()) is not None:
            self._events.put(("dropped", item[0]))

    # -- events ------------------------------------------------------------------------------
    def _handle(self, event: tuple[Any, ...], *, quiet: bool = False) -> None:
        kind, index = event[0], event[1]
        label = self.plan.label(index)
        if kind == "ended":
            self._ended(index, event[2], label, quiet)
        elif kind == "dropped":
            self.counts["not_run"] += 1
            self.owner.not_sent(index)
            self._emit("cancelled", f"{label}: not run ({self.plan.kind} cancelled)", index,
                       quiet)
        elif kind == "submitted":
            self._emit("submitted", f"{label}: task {event[2].id} submitted", index, quiet)
        elif kind == "busy":
            self._emit("busy", f"server busy (code 96): {label} retries in {event[2]:.1f}s; "
                       f"running {event[3]} at a time", index, quiet)
        if self.cancel_event.is_set():
            self._cancel_all()

    def _ended(self, index: int, outcome: Result | BaseException, label: str,
               quiet: bool) -> None:
        with self._lock:
            watched = self._watches.pop(index, None)
        if watched is not None:
            self.governor.release()
        if isinstance(outcome, Result):
            self.counts["succeeded"] += 1
            self.cost += outcome.cost
            event, message = "finished", f"{label}: done (task {outcome.task_id})"
        else:
            self.counts["failed"] += 1
            if isinstance(outcome, TaskError):
                self.cost += parse_number(outcome.record.get("totalcost")) or 0.0
            event = "cancelled" if isinstance(outcome, TaskCancelled) else "failed"
            message = f"{label}: {type(outcome).__name__}: {outcome}"
        self.owner.ended(index, outcome)
        self._emit(event, message, index, quiet)

    def _cancel_all(self) -> None:
        with self._lock:
            watches = [w for i, w in self._watches.items() if i not in self._cancelled]
            self._cancelled.update(self._watches)
        for watch in watches:
            watch.cancel()

    def _progress(self, event: str, message: str, index: int | None = None) -> JobProgress:
        with self._lock:
            running = len(self._watches)
        c = self.counts
        waiting = self.plan.total - c["succeeded"] - c["failed"] - c["not_run"] - running
        return JobProgress(event=event, total=self.plan.total, succeeded=c["succeeded"],
                           failed=c["failed"], not_run=c["not_run"], running=running,
                           waiting=max(0, waiting), reused=c["reused"],
                           estimate=self.plan.estimate, cost=round(self.cost, 6),
                           window=self.governor.window, message=message, index=index)

    def _emit(self, event: str, message: str, index: int | None = None,
              quiet: bool = False) -> None:
        progress = self._progress(event, message, index)
        if event in ("start", "done", "busy", "failed"):
            log.info("%s: %s", self.plan.kind, message)
        if self._bar is not None:
            self._bar.show(progress)
        if self.on_progress is not None and not quiet:
            self.on_progress(progress)

    def _summary(self) -> str:
        c = self.counts
        parts = [f"{c['succeeded']} done", f"{c['failed']} failed"]
        if c["not_run"]:
            parts.append(f"{c['not_run']} not run")
        return f"{' · '.join(parts)} of {self.plan.total}; ${self.cost:.4f} spent"

    def _start_message(self, running: int) -> str:
        cost = (f", estimated ${self.plan.estimate:.4f}" if self.plan.estimate is not None
                else ", cost unknown")
        before = self.counts["reused"]
        again = f"; {before} ended before, {running} still running" if before or running else ""
        return f"{self.plan.total} runs of {' and '.join(self.plan.models)}{cost}{again}"


def _task_of(cell: CellState) -> Task:
    sent = cell.submitted
    assert sent is not None
    return Task(id=sent.task_id, token=sent.token, model=sent.model, params=dict(sent.params),
                submitted_at=sent.submitted_at or sent.time or time.time())
