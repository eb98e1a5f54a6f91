"""Submitting: the Run. One submit never creates two tasks by accident.

Run is billable and has no idempotency key. It is sent again only when that is provably
safe: the connection was refused before anything was sent, or the server answered code 96
or HTTP 429 (it started nothing). After any other failure the request may have reached the
server (a connection dropped after sending, a read timeout, a gateway's 502/503/504 page
while the backend goes on, a garbled answer), and the Run is never sent again: `_reconcile`
looks for its task for a short window and hands it back when it shows; otherwise the outcome
is "unknown": a ``run_unknown`` ledger entry (what is needed to recognise the task later),
`RunOutcomeUnknown`, and the estimate kept against the budget. ``history()`` and
``resume()`` adopt the task once ``Task/List`` shows it.

Example:
    >>> submitter = Submitter(transport, reconciler, budget, journal, client_info)
    >>> task = submitter.submit(prepare(MODEL, {"prompt": "a fox"}), RunSettings())
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..backoff import READ_RETRY, RetryPolicy, backoff_delay
from ..errors import ApiError, ConcurrencyLimit, ConfigError, NetworkError, RunOutcomeUnknown
from ..ledger import ClientInfo, JobCell, NotSent, RunUnknown, Sending, Submitted
from ..redaction import get_logger
from ..results import Task
from ._budget import Budget, run_estimate
from ._journal import Journal
from ._prepare import Prepared
from ._reconcile import Reconciler
from ._stop import short_retry
from ._transport import DEFAULT_TIMEOUT, Transient, Transport

__all__ = ["RunSettings", "Submitter", "params_fingerprint"]

log = get_logger("wiro_widgets")

#: Run is re-sent after a connection that was refused before anything was sent, at most
#: this many times.
REFUSED_RESENDS = 3
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
        reconcile_window: seconds the task of a Run whose answer was lost is looked for
            before `RunOutcomeUnknown` is raised (the Run is never sent again).
    """

    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    retry: RetryPolicy = READ_RETRY
    busy_timeout: float = 30.0
    reconcile_window: float = 2.0


def params_fingerprint(params: Mapping[str, Any]) -> str:
    """A short hash of a Run's parameters (references by their descriptors), to tell a lost
    Run's ledger entry and error apart from others.

    Example:
        >>> params_fingerprint({"prompt": "a fox", "seed": 7})
        'c9b1f0e2a4d7'
    """
    text = json.dumps(params, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class _Unknown(Exception):
    """The Run may have reached the server and no task showed: ``reason`` says why."""

    def __init__(self, reason: str, sent_at: float) -> None:
        self.reason = reason
        self.sent_at = sent_at
        super().__init__(reason)


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

    def submit(self, prepared: Prepared, settings: RunSettings,
               cell: JobCell | None = None) -> Task:
        """Start a task for ``prepared``; its ``submitted`` event is on disk on return.

        For a job's ``cell``, a `Sending` event is written and synced before the Run goes
        out, and every later event of this Run carries its ``run_id``: whatever moment a
        crash hits, the next run of the job finds the trace (see `_jobruns`).

        Raises:
            ConfigError: the ledger cannot be written (nothing was sent).
            BudgetExceeded: the run could pass the budget (nothing was sent).
            ConcurrencyLimit: still busy after ``settings.busy_timeout``.
            RunOutcomeUnknown: the Run's answer was lost and its task did not show yet.
            ApiError, NetworkError: the API refused, or could not be reached.
        """
        # A task the ledger cannot record is a billed task lost to resume(): refuse first.
        # (A job cell's `Sending` line, written and synced before its Run, is that proof.)
        if cell is None:
            self._journal.check_writable()
        estimate = run_estimate(prepared)
        hold = self._budget.reserve(estimate)
        run_id = self._intent(prepared, estimate, hold, cell)
        started = time.time()
        attempts = self._attempts(prepared, settings)
        try:
            envelope, adopted = attempts.run()
        except _Unknown as unknown:
            raise self._unknown(prepared, estimate, hold, unknown, run_id) from None
        except KeyboardInterrupt:
            if attempts.sent_at is None:  # between attempts: nothing was on the wire
                self._not_sent(hold, cell, run_id, "interrupted between attempts")
                raise
            self._unknown(prepared, estimate, hold, _Unknown(
                "interrupted while the Run was in flight", attempts.sent_at), run_id)
            log.warning("Interrupted while submitting to %s: a task may have been created; "
                        "client.history() or client.resume() adopt it once the server "
                        "lists it", prepared.model)
            raise
        except BaseException as err:
            # Refused (code 96, an API error), or the connection was refused: no task.
            self._not_sent(hold, cell, run_id, f"{type(err).__name__}: no task was created")
            raise
        task_id = str(envelope.get("taskid") or "")
        token = str(envelope.get("socketaccesstoken") or "")
        if not task_id or not token:
            self._not_sent(hold, cell, run_id, "the answer named no task")
            raise ApiError("Run answered without a task id or token",
                           endpoint=f"/Run/{prepared.model}")
        self._reconciler.known.add(task_id)
        self._budget.assign(hold, token)
        self._journal.write(Submitted(
            task_id=task_id, token=token, model=prepared.model, params=prepared.params,
            estimate=estimate, adopted=adopted, submitted_at=started,
            client=self._client_info(), run_id=run_id))
        log.debug("submitted task %s (%s)%s", task_id, prepared.model,
                  " (adopted after a lost answer)" if adopted else "")
        return Task(id=task_id, token=token, model=prepared.model, params=prepared.params,
                    submitted_at=started)

    def _intent(self, prepared: Prepared, estimate: float | None, hold: object,
                cell: JobCell | None) -> str:
        """Write a job cell's `Sending` (synced) before its Run; its run id ("" otherwise).

        Raises:
            ConfigError: the event could not be written (nothing was sent).
        """
        if cell is None:
            return ""
        run_id = uuid.uuid4().hex
        try:
            self._journal.must_write(Sending(
                run_id=run_id, job=cell.job, cell=cell.cell, model=prepared.model,
                params=prepared.params, sent=prepared.sent_values(), sent_at=time.time(),
                estimate=estimate, client=self._client_info()))
        except OSError as err:
            self._budget.release(hold)
            raise ConfigError(f"could not write the run ledger ({err}); nothing was sent, so "
                              "nothing was billed") from None
        return run_id

    def _not_sent(self, hold: object, cell: JobCell | None, run_id: str, reason: str) -> None:
        """No task exists for this Run: drop its hold and close its `Sending`."""
        self._budget.release(hold)
        if cell is not None:
            self._journal.write(NotSent(run_id=run_id, job=cell.job, cell=cell.cell,
                                        reason=reason))

    def _attempts(self, prepared: Prepared, settings: RunSettings) -> _Attempts:
        timeout = settings.timeout
        if prepared.body.size_hint() > _LARGE_BODY:
            timeout = (timeout[0], max(timeout[1], _UPLOAD_READ_TIMEOUT))
        return _Attempts(self._transport, self._reconciler, prepared, settings, timeout)

    def _unknown(self, prepared: Prepared, estimate: float | None, hold: object,
                 unknown: _Unknown, run_id: str = "") -> RunOutcomeUnknown:
        """Keep the ledger entry (and the budget hold) of a Run whose outcome is unknown."""
        run_id = run_id or uuid.uuid4().hex
        # A task may exist and bill: its estimate keeps counting until it is adopted and ends.
        self._budget.assign(hold, run_id)
        fingerprint = params_fingerprint(prepared.params)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unknown.sent_at))
        message = (
            f"the Run of {prepared.model} (parameters {fingerprint}), sent at {when} by "
            f"this computer's clock, got no answer ({unknown.reason}) and its task is not "
            "listed yet: a task may exist and bill. The Run was not sent again. "
            "client.resume() and client.history() adopt the task once the server lists it "
            "(client.recover_lost_runs() looks now); check client.history() or the Wiro "
            "dashboard before running it again")
        self._journal.write(RunUnknown(
            model=prepared.model, params=prepared.params, message=message, run_id=run_id,
            reason=unknown.reason, sent=prepared.sent_values(), fingerprint=fingerprint,
            sent_at=unknown.sent_at, estimate=estimate, client=self._client_info()))
        return RunOutcomeUnknown(message, model=prepared.model, fingerprint=fingerprint,
                                 sent_at=unknown.sent_at, reason=unknown.reason,
                                 run_id=run_id)


class _Attempts:
    """The attempts of one Run: busy waits and refused connections; the first failure that
    may have reached the server ends them."""

    def __init__(self, transport: Transport, reconciler: Reconciler, prepared: Prepared,
                 settings: RunSettings, timeout: tuple[float, float]) -> None:
        self.transport, self.reconciler = transport, reconciler
        self.prepared, self.settings = prepared, settings
        self.timeout = timeout
        self.endpoint = f"/Run/{prepared.model}"
        self.busy_deadline = time.monotonic() + max(0.0, settings.busy_timeout)
        self.refused = self.attempt = 0
        #: When the Run now on the wire (or whose answer was lost) was sent; None between
        #: attempts, when no request can have reached the server.
        self.sent_at: float | None = None

    def run(self) -> tuple[dict[str, Any], bool]:
        """(the Run's envelope, whether its task was adopted by reconciliation).

        Raises:
            _Unknown: the Run may have reached the server and its task did not show.
        """
        while True:
            self.attempt += 1
            self.sent_at = time.time()
            try:
                envelope = self.transport.post_once(self.endpoint, body=self.prepared.body.open,
                                                    timeout=self.timeout, attempt=self.attempt)
                return envelope, False
            except Transient as fault:
                if isinstance(fault.error, ConcurrencyLimit) or fault.http_status == 429:
                    self.sent_at = None  # refused: it started nothing
                    self._wait_busy(fault)
                elif not fault.sent:
                    self.sent_at = None  # the connection was refused: nothing left
                    self._wait_refused(fault)
                else:
                    # It may have reached the server: never sent again, whatever failed (a
                    # dropped connection, a read timeout, a gateway's 5xx page, a garbled
                    # answer). Wiro's own clients never re-send Run either.
                    return self._reconcile(fault, self.sent_at), True

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

    def _reconcile(self, fault: Transient, sent_at: float) -> dict[str, Any]:
        window = self.settings.reconcile_window
        if fault.reason == "ReadTimeout":
            # A slow server may still create the task after we stopped reading: keep
            # looking for twice the read timeout (at most 20 s).
            window = max(window, min(2 * self.timeout[1], 20.0))
        log.debug("Run outcome unknown (%s); looking for the task", fault.reason)
        found = self.reconciler.find(self.prepared, sent_at, window,
                                     short_retry(self.settings.retry))
        if found is None:
            raise _Unknown(fault.reason, sent_at) from None
        return {"taskid": found.get("id"), "socketaccesstoken": found.get("socketaccesstoken")}
