"""Stopping a task on the server: Cancel while it is queued, Kill once it runs, and confirm.

"Cancelled" is said only when Task/Detail says ``task_cancel`` (or another terminal state
was reached first); a refused Cancel falls back to Kill, and Kill is repeated every few
seconds until the record agrees or the confirmation time runs out.

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
from ..errors import ApiError, NetworkError
from ..protocol import CANCELLABLE_STATUSES, TERMINAL_STATUSES, cancel_body, kill_body
from ..redaction import get_logger
from ..results import Task
from ._lookup import TaskLookup
from ._transport import Transport

__all__ = ["CONFIRM_POLLS", "Stopper", "short_retry"]

log = get_logger("wiro_widgets")

#: How often Task/Detail is read while a Cancel or Kill takes effect.
CONFIRM_POLLS = RetryPolicy(base=0.1, growth=1.5, cap=1.0, jitter=False)
#: Seconds between repeated Kills while the record has not ended.
_KILL_AGAIN = 3.0


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
        state it reached first)."""
        record = self._lookup.detail(task, retry)
        status = str(record.get("status") or "")
        if status in TERMINAL_STATUSES:
            return record
        if status in CANCELLABLE_STATUSES and self._send("/Task/Cancel", task, retry):
            confirmed = self._confirm(task, retry, min(2.0, confirm_timeout), resend=False)
            if str(confirmed.get("status")) in TERMINAL_STATUSES:
                return confirmed
        self._send("/Task/Kill", task, retry)
        return self._confirm(task, retry, confirm_timeout)

    def kill(self, task: Task, retry: RetryPolicy,
             confirm_timeout: float = 15.0) -> dict[str, Any]:
        """Kill and confirm; the final record."""
        self._send("/Task/Kill", task, retry)
        return self._confirm(task, retry, confirm_timeout)

    def _send(self, endpoint: str, task: Task, retry: RetryPolicy) -> bool:
        """Cancel/Kill are safe to repeat; False when the API refused (wrong state)."""
        body = (cancel_body if endpoint == "/Task/Cancel" else kill_body)(task.id, task.token)
        try:
            self._transport.post(endpoint, body, retry=short_retry(retry))
        except ApiError as err:
            log.debug("%s for task %s refused: %s", endpoint, task.id, err)
            return False
        except NetworkError as err:
            log.debug("%s for task %s failed: %s", endpoint, task.id, err)
            return False
        log.debug("%s sent for task %s", endpoint, task.id)
        return True

    def _confirm(self, task: Task, retry: RetryPolicy, timeout: float, *,
                 resend: bool = True) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last_kill, poll = time.monotonic(), 0
        while True:
            poll += 1
            record = self._lookup.detail(task, retry)
            if str(record.get("status")) in TERMINAL_STATUSES or time.monotonic() >= deadline:
                return record
            if resend and time.monotonic() - last_kill > _KILL_AGAIN:
                self._send("/Task/Kill", task, retry)
                last_kill = time.monotonic()
            time.sleep(backoff_delay(poll, CONFIRM_POLLS))
