"""Waiting for a task: follow it live, then conclude it, or act on how the wait stopped.

A cancel event cancels the task on the server and raises `TaskCancelled`, but only once
Task/Detail says ``task_cancel``: a refused or ignored cancel raises `CancelRefused` and the
task stays pending (in the ledger and the budget). A timeout cancels it
(``on_timeout="cancel"``) or leaves it running and says how to resume (``"detach"``); a
detached task stays reserved in the budget until it ends. Ctrl-C stops it (or detaches) and
re-raises. A task that ended in the moment before the stop is concluded, never thrown away.

Example:
    >>> waiter = Waiter(transport, lookup, stopper, concluder, journal, budget)
    >>> waiter.wait(task, WaitSettings(READ_RETRY, socket_url, FollowConfig()),
    ...             limit=60.0, policy="cancel")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..backoff import RetryPolicy
from ..errors import CancelRefused, NetworkError, TaskCancelled, TaskTimeout
from ..ledger import Detached
from ..protocol import outcome_of, parse_number, succeeded
from ..redaction import get_logger
from ..results import Result, Task, TaskUpdate
from ._budget import Budget
from ._conclude import Concluder, client_update
from ._follow import FollowConfig, FollowStopped, UnknownStatus, emit, follow
from ._journal import Journal
from ._limits import STOP_EACH, bounded
from ._lookup import TaskLookup
from ._stop import Stopper, short_retry
from ._transport import Transport

__all__ = ["WaitSettings", "Waiter"]

log = get_logger("wiro_widgets")

UpdateCallback = Callable[[TaskUpdate], None]


@dataclass(frozen=True)
class WaitSettings:
    """How one wait reads and follows.

    Attributes:
        retry: the read policy (Task/Detail, downloads, Cancel/Kill).
        socket_url: the WebSocket URL, or None to poll only.
        follow: timings of live following.
    """

    retry: RetryPolicy
    socket_url: str | None
    follow: FollowConfig


class Waiter:
    """Follows tasks to their end; every way a wait can end goes through here."""

    def __init__(self, transport: Transport, lookup: TaskLookup, stopper: Stopper,
                 concluder: Concluder, journal: Journal, budget: Budget) -> None:
        self._transport = transport
        self._lookup = lookup
        self._stopper = stopper
        self._concluder = concluder
        self._journal = journal
        self._budget = budget

    def wait(self, task: Task, settings: WaitSettings, *, limit: float | None, policy: str,
             on_update: UpdateCallback | None = None,
             cancel_event: threading.Event | None = None,
             detach_on_interrupt: bool = False,
             detach_event: threading.Event | None = None) -> Result:
        """Follow ``task`` to its end and return its `Result` (see `WiroClient.wait`)."""
        # A task waited for by token (resumed, or detached before) may still bill: it counts
        # against the budget until it ends, like one this client submitted.
        if not self._budget.knows(task.token):
            self._budget.hold(task.token, self._lookup.estimate_of(task))
        deadline = None if limit is None else time.monotonic() + max(0.0, float(limit))
        poll_retry = short_retry(settings.retry)
        try:
            record = follow(
                detail=lambda: self._lookup.detail(task, poll_retry),
                token=task.token, task_id=task.id, socket_url=settings.socket_url,
                started_at=task.submitted_at or time.time(), on_update=on_update,
                deadline=deadline, cancel_event=cancel_event, config=settings.follow,
                thread_cleanup=self._transport.release_thread, detach_event=detach_event)
        except FollowStopped as stop:
            return self._stopped(task, stop, settings.retry, policy, limit, on_update)
        except KeyboardInterrupt:
            self._interrupted(task, settings.retry, detach_on_interrupt)
            raise
        except UnknownStatus as err:
            self._concluder.finished(task, {"status": err.status}, "error", message=str(err))
            raise
        # The downloads end with the wait: at its deadline, or at once on its cancel event.
        with bounded(deadline=deadline, stop=cancel_event):
            return self._concluder.conclude(task, record, on_update, settings.retry)

    def _stopped(self, task: Task, stop: FollowStopped, retry: RetryPolicy, policy: str,
                 limit: float | None, on_update: UpdateCallback | None) -> Result:
        if stop.reason == "cancel":
            return self._cancelled(task, stop, retry, on_update)
        if stop.reason == "detach":
            self._detach(task, "detach", stop.status)
            raise TaskTimeout(
                "stopped waiting on request; the task may still be running: resume with "
                f"client.wait({task.token!r})", detached=True, task_id=task.id,
                token=task.token)
        if policy == "detach":
            self._detach(task, "timeout", stop.status)
            raise TaskTimeout(
                f"no result after {limit:g}s; the task is still running: resume with "
                f"client.wait({task.token!r})", detached=True, task_id=task.id,
                token=task.token)
        try:
            record = self._stop(task, retry, stop.status)
        except CancelRefused as err:
            self._detach(task, "timeout", err.status or stop.status)
            raise TaskTimeout(
                f"no result after {limit:g}s, and the cancel did not stop it: {err}",
                detached=True, task_id=task.id, token=task.token) from None
        if outcome_of(record) != "cancelled":
            # It ended otherwise in the moment between the deadline and the cancel: a
            # success is kept, a failure reported as such.
            return self._concluder.conclude(task, record, on_update, retry)
        self._concluder.finished(task, record, "timeout")
        raise TaskTimeout(f"no result after {limit:g}s; the task was cancelled",
                          detached=False, task_id=task.id, token=task.token)

    def _stop(self, task: Task, retry: RetryPolicy, status: str) -> dict[str, Any]:
        """Cancel or Kill after a cancel event or a timeout, each request bounded so that a
        server that trickles or holds its answers cannot hold the caller.

        Raises:
            NetworkError: the stop could not reach the server in time; it names the task,
                which may still run (and bill) and stays pending in the ledger.
        """
        failure: NetworkError | None = None
        try:
            with bounded(each=STOP_EACH):
                return self._stopper.cancel(task, retry)
        except NetworkError as err:
            failure = err
        self._journal.write(Detached(task_id=task.id, token=task.token, reason="stop",
                                     status=status, message=str(failure)))
        raise NetworkError(
            f"could not stop task {task.id} ({failure}): it may still run and bill; "
            f"client.wait({task.token!r}) or client.resume() collect it",
            task_may_exist=True, task_id=task.id)

    def _cancelled(self, task: Task, stop: FollowStopped, retry: RetryPolicy,
                   on_update: UpdateCallback | None) -> Result:
        """The caller's cancel: "cancelled" only when the record says ``task_cancel``."""
        try:
            record = self._stop(task, retry, stop.status)
        except CancelRefused as err:
            # Not stopped: it stays pending in the ledger (resume() collects it) and keeps
            # its budget hold; the server's refusal is the error.
            self._detach(task, "cancel_refused", err.status or stop.status)
            raise
        if outcome_of(record) != "cancelled":
            # It ended before the cancel took: its result (or failure) is the answer.
            return self._concluder.conclude(task, record, on_update, retry)
        emit(on_update, client_update(task, "task_cancel", "cancelled"))
        self._concluder.finished(task, record, "cancelled")
        raise TaskCancelled(f"cancelled while {stop.status or 'starting'}",
                            task_id=task.id, token=task.token, record=record)

    def _detach(self, task: Task, reason: str, status: str | None) -> None:
        """The task goes on without this wait: noted in the ledger, still pending there and
        still reserved in the budget (it may bill) until it ends."""
        self._journal.write(Detached(task_id=task.id, token=task.token, reason=reason,
                                     status=status or ""))

    def _interrupted(self, task: Task, retry: RetryPolicy, detach: bool) -> None:
        if detach:
            self._detach(task, "interrupt", None)
            log.warning("Interrupted: task %s keeps running; resume with client.wait(%r)",
                        task.id, task.token)
            return
        try:
            with bounded(each=STOP_EACH):
                record = self._stopper.cancel(task, retry, confirm_timeout=10.0)
        except KeyboardInterrupt:
            log.warning("Interrupted again: task %s may still be running (token %s)",
                        task.id, task.token)
            return
        except Exception as err:
            log.warning("Interrupted: could not stop task %s (%s); it may still be running: "
                        "client.resume() collects it", task.id, err)
            return
        if succeeded(record):
            # Finished just before the interrupt: leave it unfinished in the ledger so
            # resume() (or wait(token)) still collects its outputs; its cost counts now.
            cost = self._budget.settle(task.token, record.get("totalcost"))
            log.warning("Interrupted: task %s had already finished (billed $%.4f); collect "
                        "it with client.wait(%r) or client.resume()", task.id, cost,
                        task.token)
            return
        self._concluder.finished(task, record, outcome_of(record))
        cost = parse_number(record.get("totalcost")) or 0.0
        log.warning("Interrupted: task %s stopped on the server (%s); billed $%.4f",
                    task.id, record.get("status") or "", cost)
