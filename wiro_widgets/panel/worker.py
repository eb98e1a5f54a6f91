"""The Generate job: one daemon thread per run, a cancel event, a lock around start/stop.

The thread calls the client (``submit`` then ``wait`` with ``cancel_event``) and reports through
a `RunView`, whose methods only assign widget traits. Nothing here displays, prints or
clears output: from a thread those go to whichever cell runs at that moment (or nowhere).

Example:
    >>> job = Job()
    >>> job.start(lambda cancel: client.run(model, prompt="x", cancel_event=cancel))
    True
    >>> job.start(lambda cancel: ...)        # refused: one run at a time
    False
    >>> job.cancel(); job.join(10)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..client import WiroClient
from ..errors import TaskCancelled
from ..results import Result, Task, TaskUpdate
from .request import GenerationRequest

__all__ = ["Job", "RunView", "generate"]

_TICK_SECONDS = 0.5


class Job:
    """At most one background run at a time.

    Attributes:
        done: set whenever no run is in flight.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cancel: threading.Event | None = None
        self.done = threading.Event()
        self.done.set()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None and not self.done.is_set()

    def start(self, work: Callable[[threading.Event], None]) -> bool:
        """Run ``work(cancel_event)`` on a daemon thread; False if a run is in flight."""
        with self._lock:
            if self._thread is not None and not self.done.is_set():
                return False
            cancel = threading.Event()
            thread = threading.Thread(target=self._run, args=(work, cancel),
                                      name="wiro-generate", daemon=True)
            self._cancel = cancel
            self._thread = thread
            self.done.clear()
            thread.start()
            return True

    def _run(self, work: Callable[[threading.Event], None], cancel: threading.Event) -> None:
        try:
            work(cancel)
        finally:
            with self._lock:
                self.done.set()

    def cancel(self) -> bool:
        """Ask the running job to stop; False when nothing runs."""
        with self._lock:
            if self._cancel is None or self.done.is_set():
                return False
            self._cancel.set()
            return True

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run in flight; True when none is left."""
        return self.done.wait(timeout)


class RunView(Protocol):
    """What the generate job reports to; implementations only assign widget traits."""

    def on_task(self, task: Task) -> None: ...
    def on_update(self, update: TaskUpdate) -> None: ...
    def on_tick(self, seconds: float) -> None: ...
    def on_result(self, result: Result, request: GenerationRequest) -> None: ...
    def on_cancelled(self, err: TaskCancelled | None) -> None: ...
    def on_error(self, err: BaseException) -> None: ...
    def on_finished(self) -> None: ...


def generate(client: WiroClient, request: GenerationRequest, cancel: threading.Event,
             view: RunView) -> None:
    """One run, start to end, on the calling (worker) thread.

    Submits, follows the task until it ends (Cancel is honoured within the client's 100 ms),
    and reports every step to ``view``. Errors never escape: they become ``view.on_error``.
    """
    started = time.monotonic()
    stop_ticker = threading.Event()

    def tick() -> None:
        while not stop_ticker.wait(_TICK_SECONDS):
            view.on_tick(time.monotonic() - started)

    ticker = threading.Thread(target=tick, name="wiro-generate-clock", daemon=True)
    ticker.start()
    try:
        if cancel.is_set():
            view.on_cancelled(None)
            return
        task = client.submit(request.model, **request.client_params())
        view.on_task(task)
        result = client.wait(task, on_update=view.on_update, cancel_event=cancel)
        view.on_tick(time.monotonic() - started)
        view.on_result(result, request)
    except TaskCancelled as err:
        view.on_cancelled(err)
    except Exception as err:
        view.on_error(err)
    finally:
        stop_ticker.set()
        view.on_finished()
