"""A few long-lived daemon threads that run a panel's tasks, batch after batch.

Why not a new thread per task: each new thread that decodes an image may get its own memory
arena from the C allocator, so a session of short-lived threads keeps growing by megabytes
per run before it levels off; the same few threads reuse their arenas. Why not
``concurrent.futures.ThreadPoolExecutor``: the interpreter joins its threads at exit, so a
kernel restart would wait for a task still running on the server; these are daemons.

Example:
    >>> pool = WorkerPool(4)
    >>> futures = [pool.submit(run_one, slot) for slot in slots]
    >>> [f.result() for f in futures]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["WorkerPool"]

_Job = tuple[Callable[[], Any], "Future[Any]"]


class WorkerPool:
    """Up to ``size`` daemon threads, started on demand and kept for later work.

    Args:
        size: the most threads (and so the most jobs running at once).
        name: the threads' name prefix.
    """

    def __init__(self, size: int, name: str = "wiro-generate") -> None:
        self.size = max(1, size)
        self.name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], Any]) -> Future[Any]:
        """Run ``work()`` on a pool thread; its `Future` holds the result or the error."""
        future: Future[Any] = Future()
        with self._lock:
            if self._idle == 0 and len(self._threads) < self.size:
                thread = threading.Thread(target=self._serve,
                                          name=f"{self.name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                self._idle -= 1 if self._idle else 0
        self._jobs.put((work, future))
        return future

    def _serve(self) -> None:
        while True:
            work, future = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(work())
                except BaseException as err:  # handed to whoever waits on the future
                    future.set_exception(err)
            with self._lock:
                self._idle += 1
