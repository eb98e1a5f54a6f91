"""One Generate press: 1 to 8 tasks, each with its own seed, run side by side.

A `Batch` submits every request through the client (a few at a time, under the API's limit of
concurrent tasks: a research `Governor` narrows the window when the server answers code 96,
which creates no task), follows each task to its end, and reports to a `BatchView` from its
worker threads; the view only assigns widget traits. Cancel stops every task. A `Watchdog` keeps the
connection honest: when nothing has been heard from the server for a while it says so, and
when it does not come back it stops waiting without cancelling, so the tasks stay resumable.

Example:
    >>> batch = Batch(client, [request.with_seed(s) for s in (7, 8)], view)
    >>> job.start(batch.run)             # the view hears on_task, on_update, on_result, ...
    >>> batch.cancel()                   # stops both tasks on the server
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..research.governor import Governor
from .pool import WorkerPool
from .watchdog import Watchdog

if TYPE_CHECKING:
    from ..client import WiroClient
    from ..results import Result, Task, TaskUpdate
    from .request import GenerationRequest

__all__ = ["MAX_CONCURRENT", "MAX_COUNT", "Batch", "BatchView", "Slot"]

#: The most images one Generate press makes.
MAX_COUNT = 8
#: The most tasks in flight at once, for all panels of a kernel: Wiro's limit depends on the
#: balance (code 96 above it, and no task is created), so the window also shrinks on 96.
MAX_CONCURRENT = 4
_TICK_SECONDS = 0.5
_shared: WorkerPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> WorkerPool:
    """The worker threads every panel of this kernel runs its tasks on."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = WorkerPool(MAX_CONCURRENT, name="wiro-worker")
        return _shared


@dataclass
class Slot:
    """One task of a batch, as the batch knows it.

    Attributes:
        index: its place in the batch (0-based).
        request: what it sends (its own seed).
        task: the task, once the server accepted the Run.
        state: ``waiting``, ``submitting``, ``running``, ``done``, ``failed``,
            ``cancelled``, ``lost`` (detached: the server could not be reached),
            ``refused`` (a Cancel the server refused: the task may still run) or
            ``unknown`` (the Run's outcome is unknown).
        update: the last `TaskUpdate`.
        error: how it ended, when not with a result.
    """

    index: int
    request: GenerationRequest
    task: Task | None = None
    state: str = "waiting"
    update: TaskUpdate | None = None
    error: BaseException | None = field(default=None, repr=False)

    @property
    def ended(self) -> bool:
        return self.state in ("done", "failed", "cancelled", "lost", "refused", "unknown")


class BatchView(Protocol):
    """What a batch reports to (from worker threads); implementations assign traits only."""

    def on_task(self, slot: Slot) -> None: ...
    def on_update(self, slot: Slot) -> None: ...
    def on_result(self, slot: Slot, result: Result) -> None: ...
    def on_slot_error(self, slot: Slot, err: BaseException) -> None: ...
    def on_tick(self, seconds: float) -> None: ...
    def on_connection(self, state: str, silent_for: float) -> None: ...
    def on_finished(self, batch: Batch) -> None: ...


class Batch:
    """The tasks of one Generate press.

    Args:
        client: the `WiroClient` that submits and follows.
        requests: one request per task (each with its own seed); or, with ``follow``, the
            requests of tasks that already exist.
        view: where progress goes.
        follow: tasks to follow again instead of submitting (``check again`` after the
            connection was lost), one per request, in order.
        pool: the threads that run the tasks (the panel keeps one for all its batches; its
            size is how many tasks are in flight at once).
        watchdog: the connection's clock (tests pass short times).
    """

    def __init__(self, client: WiroClient, requests: Sequence[GenerationRequest],
                 view: BatchView, *, follow: Sequence[Task] = (),
                 pool: WorkerPool | None = None, watchdog: Watchdog | None = None) -> None:
        self.client = client
        self.view = view
        self.slots = [Slot(i, r) for i, r in enumerate(requests)]
        for slot, task in zip(self.slots, follow, strict=False):
            slot.task = task
        self.pool = pool or shared_pool()
        self.governor = Governor(MAX_CONCURRENT)
        self.cancel_event = threading.Event()
        self.detach_event = threading.Event()
        self.started = time.monotonic()
        self.watchdog = watchdog or Watchdog()
        self._lock = threading.Lock()

    # -- control (any thread) -----------------------------------------------------------------
    def cancel(self) -> None:
        """Stop every task: unsent ones are dropped, running ones cancelled on the server."""
        self.cancel_event.set()

    @property
    def running(self) -> list[Slot]:
        """Slots whose task exists and has not ended."""
        with self._lock:
            return [s for s in self.slots if s.task is not None and not s.ended]

    # -- the job (a worker thread) -----------------------------------------------------------
    def run(self, cancel: threading.Event | None = None) -> None:
        """Run every slot and return when all ended; ``cancel`` (the job's event) also stops
        the batch. Errors never escape: each becomes ``view.on_slot_error``."""
        stop_clock = threading.Event()
        clock = threading.Thread(target=self._clock, args=(stop_clock, cancel),
                                 name="wiro-generate-clock", daemon=True)
        clock.start()
        try:
            futures = [self.pool.submit(functools.partial(self._one, slot))
                       for slot in self.slots]
            for future in futures:
                future.result()
        finally:
            stop_clock.set()
            self.view.on_finished(self)

    def _clock(self, stop: threading.Event, cancel: threading.Event | None) -> None:
        while not stop.wait(_TICK_SECONDS):
            if cancel is not None and cancel.is_set():
                self.cancel_event.set()
            self.view.on_tick(time.monotonic() - self.started)
            self._check_connection()

    def _check_connection(self) -> None:
        running = self.running
        verdict = self.watchdog.check(running=bool(running),
                                      probe=self._probe(running[0].task) if running and
                                      running[0].task is not None else None)
        if verdict is None:
            return
        if verdict == "gave_up":
            self.detach_event.set()
        self.view.on_connection(verdict, self.watchdog.silent_for())

    def _probe(self, task: Task) -> Callable[[], None]:
        def probe() -> None:
            self.client.detail(task)
        return probe

    def _one(self, slot: Slot) -> None:
        held = False
        try:
            if slot.task is None:
                slot.task = self._submit(slot)
                held = True
            self._set(slot, "running")
            self.watchdog.contact()
            self.view.on_task(slot)
            result = self.client.wait(slot.task, on_update=lambda u: self._updated(slot, u),
                                      cancel_event=self.cancel_event,
                                      detach_event=self.detach_event)
        except Exception as err:
            self._set(slot, _state_of(err), err)
            self.view.on_slot_error(slot, err)
            return
        finally:
            if held:
                self.governor.release()
        self._set(slot, "done")
        self.view.on_result(slot, result)

    def _submit(self, slot: Slot) -> Task:
        """Send one Run, waiting for a slot while the server says it is busy (code 96)."""
        from ..backoff import backoff_delay
        from ..errors import ConcurrencyLimit, TaskCancelled
        from ..research.sweep import BUSY_RETRY

        attempt = 0
        while True:
            if not self.governor.acquire(self.cancel_event):
                raise TaskCancelled("cancelled before it was sent")
            self._set(slot, "submitting")
            try:
                task = self.client.submit(slot.request.model, busy_timeout=0,
                                          **slot.request.client_params())
            except ConcurrencyLimit as err:
                self.governor.busy()
                self._set(slot, "waiting")
                attempt += 1
                if self.cancel_event.wait(backoff_delay(attempt, BUSY_RETRY, err.retry_after)):
                    raise TaskCancelled("cancelled before it was sent") from None
                continue
            except BaseException:
                self.governor.release()
                raise
            self.governor.accepted()
            return task

    def _updated(self, slot: Slot, update: TaskUpdate) -> None:
        self.watchdog.contact()
        slot.update = update
        self.view.on_update(slot)

    def _set(self, slot: Slot, state: str, error: BaseException | None = None) -> None:
        with self._lock:
            slot.state = state
            slot.error = error


def _state_of(err: BaseException) -> str:
    from ..errors import CancelRefused, NetworkError, TaskCancelled, TaskTimeout

    if isinstance(err, CancelRefused):
        return "refused"  # not ended: never shown as cancelled, nor as failed
    if isinstance(err, TaskCancelled):
        return "cancelled"
    if isinstance(err, TaskTimeout) and err.detached:
        return "lost"
    if isinstance(err, NetworkError) and err.task_may_exist:
        return "unknown"
    return "failed"
