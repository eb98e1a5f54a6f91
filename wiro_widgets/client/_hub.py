"""Following many tasks at once with a bounded number of threads (`client.watch`).

``client.wait`` gives each task its own poller and socket threads, which is right for one
run and wrong for a batch of a thousand. The hub follows every watched task with one
WebSocket (`_hubsocket.MultiSocket`, all tokens on one connection), one dispatcher thread
that decides, and a small pool that reads ``Task/Detail``, concludes ended tasks (download,
cache, ``finished`` line) and stops them. The thread count does not grow with the number of
tasks. The rules are `client.wait`'s (`_follow`): frames only prompt a ``Task/Detail``
read, which has the final word; safety polls while the socket is live (every
``safety_interval``), adaptive polls while it is down; "no such task" is tolerated for a
moment after the Run; an unknown status ends the watch after its grace.

The dispatcher and the pool stop when nothing has been watched for a few seconds, and start
again with the next watch.

Example:
    >>> watch = hub.watch(task, on_end=lambda outcome: print(outcome))
    >>> watch.cancel()          # Cancel/Kill on the server, then on_end(TaskCancelled)
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import NotFound
from ..protocol import FINAL_FRAMES, KNOWN_STATUSES, TERMINAL_STATUSES
from ..redaction import get_logger
from ..results import Result, Task
from ._follow import FollowConfig, UnknownStatus, is_fatal, parse_frame
from ._hubsocket import MultiSocket
from ._hubwatch import Watched

__all__ = ["DEFAULT_WORKERS", "Hub", "OnEnd", "Watch"]

log = get_logger("wiro_widgets")

#: Threads that read Task/Detail, download outputs and stop tasks for all watched tasks
#: (tasks often end in waves: fewer make the last of a wave wait for the others).
DEFAULT_WORKERS = 8
#: Seconds without any watched task after which the hub's threads stop.
_IDLE = 3.0

OnEnd = Callable[[Result | BaseException], None]


class Watch:
    """A task the hub follows; `cancel` stops it on the server, `detach` stops following."""

    def __init__(self, hub: Hub, task: Task) -> None:
        self._hub = hub
        self.task = task

    def cancel(self) -> None:
        """Cancel (queued) or Kill (running) the task; ``on_end`` then gets how it ended."""
        self._hub.post(("cancel", self.task.token))

    def detach(self) -> None:
        """Stop following; the task goes on (``on_end`` is not called)."""
        self._hub.post(("detach", self.task.token))


class Hub:
    """The dispatcher, the pool and the socket of `client.watch`.

    Args:
        detail: reads a task's Task/Detail record.
        conclude: a terminal record into a `Result` (or raises how the task ended).
        stop: cancels the task and returns the final record (raises `CancelRefused`).
        ended: records an end the hub decided itself (``outcome``, message).
        detached: records a task left running (`Watch.detach`).
        socket_url: the WebSocket URL, or None to poll only.
        config: timings (`FollowConfig`).
        workers: the pool's size.
    """

    def __init__(self, *, detail: Callable[[Task], dict[str, Any]],
                 conclude: Callable[[Task, dict[str, Any]], Result],
                 stop: Callable[[Task], dict[str, Any]],
                 ended: Callable[[Task, dict[str, Any], str, str], None],
                 detached: Callable[[Task], None],
                 socket_url: str | None, config: FollowConfig | None = None,
                 workers: int = DEFAULT_WORKERS) -> None:
        self._detail, self._conclude, self._stop, self._ended = detail, conclude, stop, ended
        self._detached = detached
        self._socket_url = socket_url
        self.cfg = config or FollowConfig()
        self._workers = max(1, workers)
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._socket: MultiSocket | None = None
        self._table: dict[str, Watched] = {}
        self._adding = 0  # watches posted, not yet in the table
        self.socket_live = False

    # -- the callers' side -------------------------------------------------------------------
    def watch(self, task: Task, on_end: OnEnd) -> Watch:
        """Follow ``task`` until it ends; ``on_end`` gets its `Result` or the error that
        says how it ended, on one of the hub's threads."""
        with self._lock:
            self._adding += 1
        self.post(("add", Watched(task, on_end, self.cfg)))
        return Watch(self, task)

    def post(self, event: tuple[Any, ...]) -> None:
        with self._lock:
            self._events.put(event)
            if self._thread is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="wiro-hub")
                self._socket = (MultiSocket(self._socket_url, self._events,
                                            self.cfg.socket_open_timeout, wanted=_telling)
                                if self._socket_url else None)
                self._thread = threading.Thread(target=self._loop, name="wiro-hub", daemon=True)
                self._thread.start()

    @property
    def watching(self) -> int:
        """How many tasks are followed now."""
        return len(self._table)

    # -- the dispatcher ----------------------------------------------------------------------
    def _loop(self) -> None:
        idle_since: float | None = None
        while True:
            now = time.monotonic()
            # Only tasks waiting for a read count: one being read or concluded has no due
            # time, and counting it would spin this loop until it is done.
            due = min((w.next_poll for w in self._table.values()
                       if not w.busy and not w.closing), default=None)
            wait = 0.5 if due is None else max(0.0, min(due - now, 0.5))
            try:
                event = self._events.get(timeout=wait)
            except queue.Empty:
                event = None
            if event is not None:
                self._handle(event)
            self._poll_due()
            if self._table or self._adding:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > _IDLE and self._retire():
                return

    def _retire(self) -> bool:
        """Stop the threads when nothing is watched and nothing is queued."""
        with self._lock:
            if self._table or self._adding:
                return False
            pool, sock = self._pool, self._socket
            self._thread = self._pool = self._socket = None
            self.socket_live = False
        if sock is not None:
            sock.stop()
        if pool is not None:
            pool.shutdown(wait=False)
        return True

    def _handle(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "add":
            watched: Watched = event[1]
            watched.start(self.socket_live)
            self._table[watched.task.token] = watched
            with self._lock:
                self._adding -= 1
            if self._socket is not None:
                self._socket.add(watched.task.token)
        elif kind == "frame":
            self._frame(event[1])
        elif kind == "socket_up":
            self.socket_live = True
        elif kind == "socket_down":
            self.socket_live = False
            for w in self._table.values():
                w.socket_lost()
        elif kind == "read":
            self._read_done(event[1], event[2], event[3])
        elif kind == "cancel":
            self._cancel(event[1])
        elif kind == "detach":
            leaving = self._table.get(event[1])
            if leaving is not None and not leaving.closing:
                leaving.closing = True
                self._forget(event[1])
                self._detached(leaving.task)
        elif kind == "done":
            self._forget(event[1])

    def _frame(self, payload: Any) -> None:
        frame = parse_frame(payload)
        watched = self._table.get(str(frame.get("tasktoken"))) if frame else None
        if frame is None or watched is None or watched.closing:
            return
        status = frame["type"]
        if status in FINAL_FRAMES:
            watched.final_frame(self.cfg.final_interval)
        elif status == "task_error":
            watched.poll_now()

    def _poll_due(self) -> None:
        now = time.monotonic()
        for watched in list(self._table.values()):
            if watched.busy or watched.closing or watched.next_poll > now:
                continue
            watched.busy = True
            self._submit(self._read, watched)

    def _submit(self, fn: Callable[[Watched], None], watched: Watched) -> None:
        pool = self._pool
        if pool is not None:
            pool.submit(fn, watched)

    # -- pool jobs ---------------------------------------------------------------------------
    def _read(self, watched: Watched) -> None:
        try:
            record: dict[str, Any] | None = self._detail(watched.task)
            error: BaseException | None = None
        except Exception as err:  # the dispatcher decides
            record, error = None, err
        self._events.put(("read", watched.task.token, record, error))

    def _read_done(self, token: str, record: dict[str, Any] | None,
                   error: BaseException | None) -> None:
        watched = self._table.get(token)
        if watched is None or watched.closing:
            return
        watched.busy = False
        if error is not None:
            self._read_failed(watched, error)
            return
        assert record is not None
        status = str(record.get("status") or "")
        if status in TERMINAL_STATUSES:
            if watched.lacks_pexit(record, self.cfg):
                return
            self._close(watched, self._finish, record)
        elif status not in KNOWN_STATUSES:
            if watched.unknown_for(self.cfg) >= self.cfg.unknown_grace:
                error = UnknownStatus(f"task {watched.task.id} is in an unknown status "
                                      f"{status!r}; stopped following it", status=status)
                self._ended(watched.task, {"status": status}, "error", str(error))
                self._end(watched, error)
            else:
                watched.schedule(min(watched.interval, 1.0))
        else:
            watched.seen(status, self.cfg, socket_live=self.socket_live)

    def _read_failed(self, watched: Watched, error: BaseException) -> None:
        young = time.monotonic() - watched.added < self.cfg.not_found_grace
        if isinstance(error, NotFound) and young:
            watched.schedule(self.cfg.first_interval)
        elif is_fatal(error):  # the same rule as client.wait's
            if isinstance(error, NotFound):
                # The server keeps saying it has no such task: it ends here for good (else
                # every later run of its job would follow it again).
                self._ended(watched.task, {}, "error", str(error))
            self._end(watched, error)
        else:
            log.debug("task %s: poll failed (%s); trying again", watched.task.id, error)
            watched.schedule(max(watched.interval, 2.0))

    def _cancel(self, token: str) -> None:
        watched = self._table.get(token)
        if watched is not None and not watched.closing:
            self._close(watched, self._stop_and_finish, None)

    def _close(self, watched: Watched, job: Callable[[Watched, Any], None], arg: Any) -> None:
        watched.closing = True
        pool = self._pool
        if pool is not None:
            pool.submit(job, watched, arg)

    def _finish(self, watched: Watched, record: dict[str, Any]) -> None:
        try:
            outcome: Result | BaseException = self._conclude(watched.task, record)
        except Exception as err:
            outcome = err
        self._end(watched, outcome)

    def _stop_and_finish(self, watched: Watched, _: Any) -> None:
        try:
            record = self._stop(watched.task)
        except Exception as err:  # CancelRefused: the task may still run
            self._end(watched, err)
            return
        self._finish(watched, record)

    def _end(self, watched: Watched, outcome: Result | BaseException) -> None:
        watched.closing = True
        try:
            watched.on_end(outcome)
        except Exception:
            log.exception("a watch's on_end raised; the hub goes on")
        finally:
            self._events.put(("done", watched.task.token))

    def _forget(self, token: str) -> None:
        if self._table.pop(token, None) is not None and self._socket is not None:
            self._socket.discard(token)


#: The frame types the hub acts on: the ends, and ``task_error`` (which may be one).
_TELLING = tuple(f'"{kind}"'.encode() for kind in (*FINAL_FRAMES, "task_error"))


def _telling(message: str | bytes) -> bool:
    """Whether a frame may matter to the hub (a cheap look at its text, before parsing)."""
    data = message.encode() if isinstance(message, str) else message
    return any(kind in data for kind in _TELLING)
