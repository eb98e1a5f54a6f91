"""The Generate job: one daemon thread per press, a cancel event, a lock around start/stop.

The thread runs a `batch.Batch`, which calls the client and reports through a view whose
methods only assign widget traits. Nothing here displays, prints or clears output: from a
thread those go to whichever cell runs at that moment (or nowhere).

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
from collections.abc import Callable

__all__ = ["Job"]


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
