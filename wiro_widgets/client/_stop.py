"""Stopping a task on the server: Cancel while it is queued, Kill once it runs, and confirm.

The record decides: a stop succeeded only when Task/Detail reaches a terminal state
(``task_cancel``, or another end it reached first). A refused Cancel or Kill (``result:
false``, e.g. code 1 "Task could not be killed: ...") raises `CancelRefused` at once with
the server's text, as Wiro's own clients raise on a refused Kill; none of them retries,
waits, or reports a refused Kill as a cancellation. A Kill the server accepted but that
does not show in Task/Detail within the confirmation time raises `CancelRefused` too: the
task may still run, and bill.

Example:
    >>> stopper = Stopper(transport, lookup)
    >>> stopper.cancel(task, READ_RETRY)["status"]
    'task_cancel'
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from ..backoff import RetryPolicy, backoff_delay
from ..errors import ApiError, CancelRefused, NetworkError
from ..protocol import CANCELLABLE_STATUSES, TERMINAL_STATUSES, cancel_body, kill_body
from ..redaction import get_logger
from ..results import Task
from ._lookup import TaskLookup
from ._transport import Transport

__all__ = ["CONFIRM_POLLS", "Stopper", "short_retry"]

log = get_logger("wiro_widgets")

#: How often Task/Detail is read while a Cancel or Kill takes effect.
CONFIRM_POLLS = RetryPolicy(base=0.1, growth=1.5, cap=1.0, jitter=False)
#: Seconds a Cancel of a queued task is given before the task is killed instead (it may
#: have started meanwhile).
_CANCEL_CONFIRM = 2.0


def short_retry(retry: RetryPolicy) -> RetryPolicy:
    """``retry`` with a budget of at most 10 s: a poll that keeps failing is reported to its
    caller (who polls again) rather than retried for long."""
    return dataclasses.replace(retry, budget=min(retry.budget, 10.0))


class Stopper:
    """Cancels and kills tasks, and confirms they ended.

    Args:
        transport: where Cancel and Kill go.
        lookup: reads Task/Detail.
    """

    def __init__(self, transport: Transport, lookup: TaskLookup) -> None:
        self._transport = transport
        self._lookup = lookup

    def cancel(self, task: Task, retry: RetryPolicy,
               confirm_timeout: float = 15.0) -> dict[str, Any]:
        """Cancel if queued, else Kill; the final record (``task_cancel``, or the terminal
        state it reached first).

        Raises:
            CancelRefused: the server refused, or the task did not end in time.
        """
        record = self._lookup.detail(task, retry)
        status = str(record.get("status") or "")
        if status in TERMINAL_STATUSES:
            return record
        if status in CANCELLABLE_STATUSES:
            try:
                self._send("/Task/Cancel", task, retry, status)
            except CancelRefused:
                # Refused as "not in a cancellable state": it may have started meanwhile
                # (then it is killed below); refused while still queued, it is surfaced.
                record = self._lookup.detail(task, retry)
                now = str(record.get("status") or "")
                if now in TERMINAL_STATUSES:
                    return record
                if now in CANCELLABLE_STATUSES:
                    raise
            else:
                record = self._confirm(task, retry, min(_CANCEL_CONFIRM, confirm_timeout))
                if str(record.get("status")) in TERMINAL_STATUSES:
                    return record
        return self.kill(task, retry, confirm_timeout)

    def kill(self, task: Task, retry: RetryPolicy,
             confirm_timeout: float = 15.0) -> dict[str, Any]:
        """Kill and confirm; the final record.

        Raises:
            CancelRefused: the server refused the Kill (its text, at once), or the task did
                not end within ``confirm_timeout``.
        """
        sent = self._send("/Task/Kill", task, retry, "")
        record = self._confirm(task, retry, confirm_timeout)
        status = str(record.get("status") or "")
        if status in TERMINAL_STATUSES:
            return record
        what = "accepted the Kill" if sent else "could not be sent the Kill"
        raise CancelRefused(
            f"the server {what} but task {task.id} is still {status or 'running'} after "
            f"{confirm_timeout:g}s: it may still run and bill. Check again with "
            f"client.detail({task.token!r}); client.wait() or client.resume() collect it",
            task_id=task.id, token=task.token, status=status, refused=False,
            endpoint="/Task/Kill")

    def _send(self, endpoint: str, task: Task, retry: RetryPolicy, status: str) -> bool:
        """Send Cancel or Kill; False when it could not be sent (the network).

        Raises:
            CancelRefused: the API refused it (``result: false``).
        """
        body = (cancel_body if endpoint == "/Task/Cancel" else kill_body)(task.id, task.token)
        try:
            self._transport.post(endpoint, body, retry=short_retry(retry))
        except ApiError as err:
            log.debug("%s for task %s refused: %s", endpoint, task.id, err)
            raise CancelRefused(
                f"{err.message} ({endpoint[6:]} refused for task {task.id}: it may still "
                f"run and bill; client.wait({task.token!r}) or client.resume() collect it)",
                task_id=task.id, token=task.token, status=status, refused=True,
                code=err.code, http_status=err.http_status, endpoint=endpoint) from None
        except NetworkError as err:
            log.debug("%s for task %s failed: %s", endpoint, task.id, err)
            return False
        log.debug("%s sent for task %s", endpoint, task.id)
        return True

    def _confirm(self, task: Task, retry: RetryPolicy, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        poll = 0
        while True:
            poll += 1
            record = self._lookup.detail(task, retry)
            if str(record.get("status")) in TERMINAL_STATUSES or time.monotonic() >= deadline:
                return record
            time.sleep(min(backoff_delay(poll, CONFIRM_POLLS),
                           max(0.0, deadline - time.monotonic())))
