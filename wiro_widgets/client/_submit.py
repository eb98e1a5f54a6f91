"""Submitting: the idempotent Run. One submit never creates two tasks by accident.

Run is billable and has no idempotency key. It is sent again only when that is provably
safe: the connection was refused before anything was sent, the server answered code 96 or
HTTP 429 (it started nothing), or reconciliation (`_reconcile`) proved that an ambiguous
failure created no task. Otherwise the outcome is "unknown": a ``run_unknown`` ledger event
and `RunOutcomeUnknown`, with the estimate kept against the budget.

Example:
    >>> submitter = Submitter(transport, reconciler, budget, journal, client_info)
    >>> task = submitter.submit(prepare(MODEL, {"prompt": "a fox"}), RunSettings())
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..backoff import READ_RETRY, RetryPolicy, backoff_delay
from ..errors import ApiError, ConcurrencyLimit, NetworkError, RunOutcomeUnknown
from ..ledger import ClientInfo, RunUnknown, Submitted
from ..redaction import get_logger
from ..results import Task
from ._budget import Budget
from ._journal import Journal
from ._prepare import Prepared
from ._reconcile import Reconciler
from ._transport import DEFAULT_TIMEOUT, Transient, Transport

__all__ = ["RunSettings", "Submitter"]

log = get_logger("wiro_widgets")

#: Run is re-sent after a connection that was refused before anything was sent, at most
#: this many times.
REFUSED_RESENDS = 3
#: After an ambiguous Run failure that reconciliation proved harmless, at most this many
#: more Runs are sent.
AMBIGUOUS_RESENDS = 2
#: Bodies larger than this get a read timeout of at least `_UPLOAD_READ_TIMEOUT`.
_LARGE_BODY = 8 * 1024 * 1024
_UPLOAD_READ_TIMEOUT = 120.0


@dataclass(frozen=True)
class RunSettings:
    """How one Run is sent.

    Attributes:
        timeout: (connect, read) seconds for the request.
        retry: backoff for code 96 / 429 and refused connections.
        busy_timeout: seconds to keep retrying code 96 (0: raise at once).
        reconcile_window: seconds an ambiguous failure is reconciled before a re-send.
    """

    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    retry: RetryPolicy = READ_RETRY
    busy_timeout: float = 30.0
    reconcile_window: float = 2.0


class Submitter:
    """Sends Runs, reserving the budget and writing the ``submitted`` event first thing.

    Args:
        transport: where Runs go.
        reconciler: finds the task of a Run whose answer was lost.
        budget: the client's budget.
        journal: the client's ledger writer.
        client_info: what the ledger keeps about the client, at the time of the submit.
    """

    def __init__(self, transport: Transport, reconciler: Reconciler, budget: Budget,
                 journal: Journal, client_info: Callable[[], ClientInfo]) -> None:
        self._transport = transport
        self._reconciler = reconciler
        self._budget = budget
        self._journal = journal
        self._client_info = client_info

    def submit(self, prepared: Prepared, settings: RunSettings) -> Task:
        """Start a task for ``prepared``; its ``submitted`` event is on disk on return.

        Raises:
            BudgetExceeded: the run could pass the budget (nothing was sent).
            ConcurrencyLimit: still busy after ``settings.busy_timeout``.
            RunOutcomeUnknown: the Run's answer was lost and no task could be found.
            ApiError, NetworkError: the API refused, or could not be reached.
        """
        hold = self._budget.reserve(prepared.estimate)
        try:
            envelope, started, adopted = self._send(prepared, settings)
        except RunOutcomeUnknown:
            raise  # a task may exist and bill: its estimate keeps counting
        except BaseException:
            self._budget.release(hold)
            raise
        task_id = str(envelope.get("taskid") or "")
        token = str(envelope.get("socketaccesstoken") or "")
        if not task_id or not token:
            self._budget.release(hold)
            raise ApiError("Run answered without a task id or token",
                           endpoint=f"/Run/{prepared.model}")
        self._reconciler.known.add(task_id)
        self._budget.assign(hold, token)
        self._journal.write(Submitted(
            task_id=task_id, token=token, model=prepared.model, params=prepared.params,
            estimate=prepared.estimate, adopted=adopted, submitted_at=started,
            client=self._client_info()))
        log.debug("submitted task %s (%s)%s", task_id, prepared.model,
                  " (adopted after a lost answer)" if adopted else "")
        return Task(id=task_id, token=token, model=prepared.model, params=prepared.params,
                    submitted_at=started)

    def _send(self, prepared: Prepared,
              settings: RunSettings) -> tuple[dict[str, Any], float, bool]:
        """(envelope with ``taskid``/``socketaccesstoken``, Unix time of the submit,
        whether the task was adopted by reconciliation)."""
        started = time.time()
        timeout = settings.timeout
        if prepared.body.size_hint() > _LARGE_BODY:
            timeout = (timeout[0], max(timeout[1], _UPLOAD_READ_TIMEOUT))
        try:
            attempts = _Attempts(self._transport, self._reconciler, prepared, settings,
                                 timeout, started)
            envelope, adopted = attempts.run()
        except RunOutcomeUnknown as err:
            self._unknown(prepared, str(err))
            raise
        except KeyboardInterrupt:
            self._unknown(prepared, "interrupted while the Run was being sent")
            log.warning("Interrupted while submitting to %s: a task may have been created; "
                        "check client.history() before running again", prepared.model)
            raise
        return envelope, started, adopted

    def _unknown(self, prepared: Prepared, message: str) -> None:
        self._journal.write(RunUnknown(model=prepared.model, params=prepared.params,
                                       message=message))


class _Attempts:
    """The attempts of one Run: busy waits, refused connections, reconciled re-sends."""

    def __init__(self, transport: Transport, reconciler: Reconciler, prepared: Prepared,
                 settings: RunSettings, timeout: tuple[float, float], started: float) -> None:
        self.transport, self.reconciler = transport, reconciler
        self.prepared, self.settings = prepared, settings
        self.timeout, self.started = timeout, started
        self.endpoint = f"/Run/{prepared.model}"
        self.busy_deadline = time.monotonic() + max(0.0, settings.busy_timeout)
        self.refused = self.resent = self.attempt = 0

    def run(self) -> tuple[dict[str, Any], bool]:
        """(the Run's envelope, whether its task was adopted by reconciliation)."""
        while True:
            self.attempt += 1
            try:
                envelope = self.transport.post_once(self.endpoint, body=self.prepared.body.open,
                                               timeout=self.timeout, attempt=self.attempt)
                return envelope, False
            except Transient as fault:
                if isinstance(fault.error, ConcurrencyLimit) or fault.http_status == 429:
                    self._wait_busy(fault)
                elif not fault.sent:
                    self._wait_refused(fault)
                else:
                    found = self._reconcile(fault)
                    if found is not None:
                        return found, True

    def _wait_busy(self, fault: Transient) -> None:
        # The server refused to start anything: waiting and asking again is safe.
        delay = backoff_delay(self.attempt, self.settings.retry, fault.retry_after)
        if time.monotonic() + delay > self.busy_deadline:
            raise (fault.error or ApiError("HTTP 429", http_status=429,
                                           endpoint=self.endpoint)) from None
        log.debug("Run busy (%s); retrying in %.2fs", fault.reason, delay)
        time.sleep(delay)

    def _wait_refused(self, fault: Transient) -> None:
        self.refused += 1
        if self.refused > REFUSED_RESENDS:
            raise NetworkError(f"could not connect to {self.transport.base_url} "
                               f"({fault.reason}); nothing was sent",
                               task_may_exist=False) from None
        time.sleep(backoff_delay(self.refused, self.settings.retry))

    def _reconcile(self, fault: Transient) -> dict[str, Any] | None:
        window = self.settings.reconcile_window
        if fault.reason == "ReadTimeout":
            # A slow server may still create the task after we stopped reading: keep
            # looking for twice the read timeout (at most 20 s).
            window = max(window, min(2 * self.timeout[1], 20.0))
        log.debug("Run outcome unknown (%s); looking for the task", fault.reason)
        found = self.reconciler.find(self.prepared, self.started, window, fault.reason)
        if found is not None:
            return {"taskid": found.get("id"),
                    "socketaccesstoken": found.get("socketaccesstoken")}
        if self.resent >= AMBIGUOUS_RESENDS:
            raise NetworkError(f"Run failed {self.attempt} times ({fault.reason}); no task "
                               "was created", task_may_exist=False) from None
        self.resent += 1
        log.debug("no task was created; sending Run again (%d)", self.resent)
        return None
