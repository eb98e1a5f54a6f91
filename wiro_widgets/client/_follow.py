"""Following a task until it ends: WebSocket push, polling fallback, `TaskUpdate`s.

`follow` subscribes on Wiro's WebSocket (``{"type": "task_info", "tasktoken": ...}``) for
stage changes and ``progressGenerate`` step progress, and polls ``Task/Detail`` at the same
time: often (about 0.5 s, backing off) when the socket cannot connect or drops, rarely (a
safety poll) while it is live. The final state always comes from ``Task/Detail``, because
socket frames do not carry ``pexit``.

The socket and the poller run on two daemon threads that only put events on a queue; the
calling thread takes them off every 100 ms at most, so `TaskUpdate` callbacks run on the
caller's thread, a ``cancel_event`` is seen within 100 ms and Ctrl-C lands where the caller
can handle it.

Example:
    >>> record = follow(detail=lambda: client.detail(task), token=task.token,
    ...                 task_id=task.id, socket_url=client.socket_url,
    ...                 started_at=task.submitted_at, on_update=print)
    >>> record["status"], record["pexit"]
    ('task_postprocess_end', '0')
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ApiError, ConcurrencyLimit, NetworkError, NotFound
from ..protocol import (
    FINAL_FRAMES,
    KNOWN_STATUSES,
    LOG_FRAMES,
    STATUS_RANK,
    TERMINAL_STATUSES,
    parse_number,
)
from ..redaction import get_logger, redact
from ..results import TaskUpdate, stage_label
from ._channels import Poller, SocketReader

__all__ = [
    "FollowConfig",
    "FollowStopped",
    "Progress",
    "UnknownStatus",
    "follow",
    "is_fatal",
    "log_text",
    "parse_frame",
    "parse_progress",
]

log = get_logger("wiro_widgets")

_TQDM = re.compile(r"(\d{1,3})%\|[^|]*\|\s*(\d+)/(\d+)")
_LOG_CHARS = 500


@dataclass(frozen=True)
class FollowConfig:
    """Timings of `follow` (seconds).

    Attributes:
        first_interval: the first poll interval without a socket.
        max_interval: the longest poll interval without a socket.
        growth: factor applied to the interval after each unchanged poll.
        safety_interval: the poll interval while the socket is live.
        final_interval: the interval once a terminal frame arrived, until Detail agrees.
        tick: the longest the caller's thread blocks before checking cancel and timeout.
        unknown_grace: how long an unknown status may last before the wait ends.
        not_found_grace: how long "no such task" is tolerated right after a Run.
        pexit_grace: how long a finished task may lack its exit code in Detail.
        socket_open_timeout: seconds to open the WebSocket.
        socket_connects: how many times the socket is (re)opened per wait.
    """

    first_interval: float = 0.5
    # Generation is one long status, so a longer cap only delays noticing the end
    # (BENCHMARKS.md, figure 1: 5 s gave 845 ms median on 8 s tasks).
    max_interval: float = 2.0
    growth: float = 1.3
    safety_interval: float = 5.0
    final_interval: float = 0.25
    tick: float = 0.1
    unknown_grace: float = 5.0
    not_found_grace: float = 5.0
    pexit_grace: float = 3.0
    socket_open_timeout: float = 5.0
    socket_connects: int = 3


class FollowStopped(Exception):
    """The caller's cancel or detach event was set, or the deadline passed (internal).

    Attributes:
        reason: ``cancel``, ``detach`` or ``timeout``.
        status: the last status seen.
    """

    def __init__(self, reason: str, status: str) -> None:
        self.reason = reason
        self.status = status
        super().__init__(f"{reason} while {status or 'unknown'}")


class UnknownStatus(ApiError):
    """Task/Detail kept reporting a status this client does not know."""

    def __init__(self, message: str, *, status: str) -> None:
        self.status = status
        super().__init__(message, endpoint="/Task/Detail")


@dataclass(frozen=True)
class Progress:
    """Step progress from a ``task_output`` message."""

    step: int | None = None
    total: int | None = None
    percentage: float | None = None


def parse_progress(message: Any) -> Progress | None:
    """Step progress from a ``task_output`` message: a ``progressGenerate`` object, the same
    object JSON-encoded in a string, or a tqdm-style log line.

    Example:
        >>> parse_progress('{"type": "progressGenerate", "stepCurrent": "6", "stepTotal": "10",'
        ...                ' "percentage": "60"}')
        Progress(step=6, total=10, percentage=60.0)
    """
    if isinstance(message, str):
        text = message.strip()
        if text.startswith("{"):
            with contextlib.suppress(ValueError):
                return parse_progress(json.loads(text))
            return None
        match = _TQDM.search(text)
        if match:
            return Progress(int(match[2]), int(match[3]), float(match[1]))
        return None
    if not isinstance(message, Mapping):
        return None
    kind = str(message.get("type", ""))
    if kind and kind != "progressGenerate":
        return None
    step = _number(message.get("stepCurrent"), int)
    total = _number(message.get("stepTotal"), int)
    percentage = _number(message.get("percentage"), float)
    if percentage is None and step is not None and total:
        percentage = 100.0 * step / total
    if step is None and total is None and percentage is None:
        return None
    return Progress(step, total, percentage)


def parse_frame(raw: str | bytes) -> dict[str, Any] | None:
    """A socket frame as a dict with a string ``type``; None for anything else."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return None
    return frame


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    number = parse_number(value)
    return None if number is None else kind(number)


# -- the caller's side --------------------------------------------------------------------------


class _State:
    """What the caller's thread knows about the task, and what it has reported."""

    def __init__(self, task_id: str, token: str, started_at: float,
                 on_update: Callable[[TaskUpdate], None] | None) -> None:
        self.task_id, self.token, self.started_at = task_id, token, started_at
        self.on_update = on_update
        self.status = ""
        self.rank = -1
        self.progress: Progress | None = None
        self._last_key: tuple[Any, ...] | None = None

    def report(self, status: str, source: str, progress: Progress | None = None,
               message: str = "") -> None:
        rank = STATUS_RANK.get(status)
        if rank is not None and rank < self.rank:
            return  # a stale poll after the socket already showed a later stage
        if rank is not None:
            self.rank = rank
        if status != "task_output":
            progress = None if status != self.status else self.progress
        elif progress is None:
            progress = self.progress
        self.status, self.progress = status, progress
        key = (status, *((progress.step, progress.total, progress.percentage) if progress
                         else (None, None, None)))
        if key == self._last_key:
            return
        self._last_key = key
        self._emit(source, message=message)

    def log(self, text: str, source: str) -> None:
        """Pass on a log line of the model, with the status and progress as they are."""
        if text:
            self._emit(source, log=text)

    def _emit(self, source: str, *, message: str = "", log: str = "") -> None:
        progress = self.progress
        step = progress.step if progress else None
        total = progress.total if progress else None
        status = self.status or "task_queue"
        emit(self.on_update, TaskUpdate(
            status=status, label=stage_label(status, step, total),
            elapsed=max(0.0, time.time() - self.started_at), task_id=self.task_id,
            token=self.token, step=step, total_steps=total,
            percentage=progress.percentage if progress else None,
            source=source, message=message, log=log,
        ))


def log_text(message: Any, limit: int = _LOG_CHARS) -> str:
    """The text of a ``task_error`` frame's message (a stderr line, or ``{"raw": log}`` for
    ``task_error_full``): its last non-empty lines, at most ``limit`` characters, redacted.

    Example:
        >>> log_text("UserWarning: Some weights were not initialized")
        'UserWarning: Some weights were not initialized'
    """
    if isinstance(message, Mapping):
        message = message.get("raw", "")
    text = message if isinstance(message, str) else "" if message is None else str(message)
    text = "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())
    return redact(text if len(text) <= limit else "..." + text[-limit:])


def emit(on_update: Callable[[TaskUpdate], None] | None, update: TaskUpdate) -> None:
    """Call ``on_update``; an exception in it is logged, not allowed to end the wait."""
    if on_update is None:
        return
    try:
        on_update(update)
    except Exception:
        log.exception("on_update callback raised; the wait goes on")


def is_fatal(err: BaseException) -> bool:
    """Poll errors that end the wait (anything else is retried on the next poll)."""
    if isinstance(err, (NetworkError, ConcurrencyLimit)):
        return False
    if isinstance(err, ApiError):
        status = err.http_status or 0
        return not (status >= 500 or status in (408, 429))
    return True


def follow(*, detail: Callable[[], dict[str, Any]], token: str, task_id: str,
           socket_url: str | None, started_at: float,
           on_update: Callable[[TaskUpdate], None] | None = None,
           deadline: float | None = None, cancel_event: threading.Event | None = None,
           config: FollowConfig | None = None,
           thread_cleanup: Callable[[], None] | None = None,
           detach_event: threading.Event | None = None) -> dict[str, Any]:
    """Follow a task until Task/Detail shows a terminal status; return that record.

    Args:
        detail: reads the task's Task/Detail record (retrying transient faults itself).
        token: the task token (socket subscription).
        task_id: the task id (for updates).
        socket_url: the WebSocket URL, or None to poll only.
        started_at: Unix time of the submit (for ``elapsed``).
        on_update: called on this thread with each change.
        deadline: ``time.monotonic()`` value at which to stop with ``FollowStopped``.
        cancel_event: when set, stop with ``FollowStopped("cancel")`` within ``tick``.
        detach_event: when set, stop with ``FollowStopped("detach")`` within ``tick``
            (the caller leaves the task running).
        config: timings.
        thread_cleanup: called on the polling thread when it ends (closes its session).

    Raises:
        FollowStopped: on cancel, detach or deadline (the caller decides what to do remotely).
        ApiError: an unknown status lasted past the grace period, or a fatal API error.
    """
    cfg = config or FollowConfig()
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    poller = Poller(detail, events, cfg.first_interval, thread_cleanup)
    socket = SocketReader(socket_url, token, events, cfg) if socket_url else None
    follower = _Follower(_State(task_id, token, started_at, on_update), poller, cfg)
    poller.start()
    if socket is not None:
        socket.start()
    try:
        while True:
            now = time.monotonic()
            if cancel_event is not None and cancel_event.is_set():
                raise FollowStopped("cancel", follower.state.status)
            if detach_event is not None and detach_event.is_set():
                raise FollowStopped("detach", follower.state.status)
            if deadline is not None and now >= deadline:
                raise FollowStopped("timeout", follower.state.status)
            wait = cfg.tick if deadline is None else max(0.0, min(cfg.tick, deadline - now))
            try:
                kind, payload = events.get(timeout=wait)
            except queue.Empty:
                continue
            record = follower.handle(kind, payload)
            if record is not None:
                return record
    finally:
        poller.stop()
        if socket is not None:
            socket.stop()


class _Follower:
    """The caller's side of `follow`: what each event from the two threads means."""

    def __init__(self, state: _State, poller: Poller, config: FollowConfig) -> None:
        self.state, self.poller, self.cfg = state, poller, config
        self.began = time.monotonic()
        self.interval = config.first_interval
        self.socket_live = False
        self.final_frame = False
        self.unknown_since: float | None = None
        self.pexit_wait_since: float | None = None

    def handle(self, kind: str, payload: Any) -> dict[str, Any] | None:
        """React to one event; the terminal Task/Detail record once there is one."""
        if kind == "frame":
            self._frame(payload)
        elif kind == "socket_up":
            self.socket_live = True
            log.debug("task %s: following on the socket", self.state.task_id)
            self.poller.interval = (self.cfg.final_interval if self.final_frame
                                    else self.cfg.safety_interval)
        elif kind == "socket_down":
            self.socket_live = False
            log.debug("task %s: socket %s; polling", self.state.task_id, payload)
            self.interval = self.cfg.first_interval
            self.poller.poke(self.cfg.final_interval if self.final_frame else self.interval)
        elif kind == "poll_error":
            self._poll_error(payload)
        elif kind == "detail":
            return self._detail(payload)
        return None

    def _frame(self, payload: Any) -> None:
        frame = parse_frame(payload)
        if frame is None or frame.get("tasktoken") not in (None, "", self.state.token):
            return
        status = frame["type"]
        if status in LOG_FRAMES:
            # The model's stderr: a log line, never a verdict (protocol.LOG_FRAMES). Status
            # and progress go on; only Task/Detail's final record decides.
            self.state.log(log_text(frame.get("message")), "socket")
        elif status == "task_output":
            self.state.report(status, "socket", parse_progress(frame.get("message")))
        elif status in STATUS_RANK:
            self.state.report(status, "socket")
        if status in FINAL_FRAMES:
            self.final_frame = True
            self.poller.poke(self.cfg.final_interval)
        elif status == "task_error":
            # A task that cannot run also ends in the task_error status of Task/Detail:
            # ask Detail now rather than at the next safety poll.
            self.poller.poke()

    def _poll_error(self, err: BaseException) -> None:
        if isinstance(err, NotFound) and time.monotonic() - self.began < self.cfg.not_found_grace:
            return
        if is_fatal(err) and type(err) is ApiError and err.code is None:
            # An answer the client will not use (too large, a redirect to another host, a
            # proxy's page): the task itself may be fine, and bill. Say so, and name it.
            task_id, token = self.state.task_id, self.state.token
            raise NetworkError(
                f"could not follow task {task_id}: {err}; it may still run and bill: "
                f"client.wait({token!r}) or client.resume() collect it", task_id=task_id,
                task_may_exist=True)
        if is_fatal(err):
            raise err
        log.debug("task %s: poll failed (%s); trying again", self.state.task_id, err)
        self.poller.interval = max(self.poller.interval, 2.0)

    def _detail(self, record: dict[str, Any]) -> dict[str, Any] | None:
        status = str(record.get("status") or "")
        now = time.monotonic()
        if status in TERMINAL_STATUSES:
            if status == "task_postprocess_end" and str(record.get("pexit", "")) == "":
                # Detail can lag the end by a moment; give it a short while.
                self.pexit_wait_since = self.pexit_wait_since or now
                if now - self.pexit_wait_since < self.cfg.pexit_grace:
                    self.poller.poke(self.cfg.final_interval)
                    return None
            self.state.report(status, "poll")
            return record
        if status not in KNOWN_STATUSES:
            self._unknown(status, now)
            return None
        self.unknown_since = None
        before = self.state.status
        self.state.report(status, "poll")
        if self.final_frame:
            self.poller.interval = self.cfg.final_interval
        elif self.socket_live:
            self.poller.interval = self.cfg.safety_interval
        else:
            changed = self.state.status != before
            self.interval = (self.cfg.first_interval if changed
                             else min(self.cfg.max_interval, self.interval * self.cfg.growth))
            self.poller.interval = self.interval
        return None

    def _unknown(self, status: str, now: float) -> None:
        self.state.report(status or "(empty status)", "poll")
        self.unknown_since = self.unknown_since or now
        if now - self.unknown_since >= self.cfg.unknown_grace:
            task_id = self.state.task_id
            raise UnknownStatus(
                f"task {task_id} is in an unknown status {status!r}; stopped waiting (the "
                "task may still be running: check it later with "
                f"client.detail({task_id!r}))", status=status)
        self.poller.interval = min(self.poller.interval, 1.0)
