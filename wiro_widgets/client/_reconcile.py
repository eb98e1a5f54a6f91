"""Reconciliation: finding the task a Run may have created when its answer was lost.

Run is billable and has no idempotency key, so after an ambiguous failure (the request may
have reached the server) it is never sent again (see `_submit`). Instead its task is looked
for in ``Task/List``: a task this client does not already hold (in memory or in the ledger),
of the same model, whose recorded parameters carry every value the Run sent. Right after
the failure the list is read for a short window, to hand the task back at once when it
shows; later, ``history()`` and ``resume()`` look again for every ``run_unknown`` entry
of the ledger and adopt what they find as an ordinary pending task.

The client's clock decides nothing here: the server stamps ``createtime`` with its own, and
the two may differ by seconds or minutes. A task created long before the Run was sent
(`MAX_CLOCK_SKEW`) is not taken for it, and among several candidates the one created
closest to the send wins; a task shown without parameters is never adopted.

Example:
    >>> known = KnownTasks()
    >>> reconciler = Reconciler(list_tasks=lambda: transport.post("/Task/List", {...}),
    ...                         known=known)
    >>> reconciler.claim(record, Wanted.of(prepared, sent_at=time.time() - 1))
    True
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..backoff import RetryPolicy
from ..errors import ApiError, NetworkError
from ..ledger import ClientInfo, Ledger, RunUnknown, Submitted
from ..protocol import parse_number
from ..redaction import get_logger
from ..results import Task
from ._prepare import Prepared

__all__ = ["MAX_CLOCK_SKEW", "TASK_LIST_QUERY", "Adopted", "KnownTasks", "Reconciler",
           "Wanted", "params_match"]

log = get_logger("wiro_widgets")

#: How far the server's clock may lag this computer's and its task still count as created
#: by the Run: generous, because a laptop's clock can be minutes off; an identical task
#: from longer before is someone else's.
MAX_CLOCK_SKEW = 900.0
#: The Task/List body read while reconciling: this project's newest tasks.
TASK_LIST_QUERY = {"type": "model", "sort": "id", "order": "DESC", "start": "0", "limit": "50"}
#: ``run_unknown`` entries older than this are no longer looked for (Task/List shows the
#: newest tasks only).
ADOPT_HORIZON = 7 * 24 * 3600.0


class KnownTasks:
    """Task ids this client already holds; none of them is ever adopted for a lost Run."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def add(self, task_id: str) -> None:
        with self._lock:
            self._ids.add(task_id)

    def __contains__(self, task_id: object) -> bool:
        with self._lock:
            return task_id in self._ids

    def claim(self, task_id: str) -> bool:
        """Add ``task_id``; False when it was already held (by another claim, say)."""
        with self._lock:
            if task_id in self._ids:
                return False
            self._ids.add(task_id)
            return True


@dataclass(frozen=True)
class Wanted:
    """What a lost Run's task must look like: its model, the values sent, when it was sent."""

    model: str
    sent: Mapping[str, Any]
    sent_at: float

    @classmethod
    def of(cls, prepared: Prepared, sent_at: float) -> Wanted:
        return cls(prepared.model, prepared.sent_values(), sent_at)

    @classmethod
    def of_entry(cls, run: RunUnknown) -> Wanted:
        return cls(run.model, run.sent, run.sent_at or run.time or 0.0)


@dataclass(frozen=True)
class Adopted:
    """A lost Run's task, found and written to the ledger as an ordinary pending task."""

    run_id: str
    task: Task


class Reconciler:
    """Finds the task of a Run whose answer was lost.

    Args:
        list_tasks: reads ``Task/List`` (`TASK_LIST_QUERY`) with a retry policy and returns
            its envelope.
        known: the task ids the client already holds.
        ledger: the client's ledger (its task ids are never adopted either), or None.
    """

    def __init__(self, list_tasks: Callable[[RetryPolicy], Mapping[str, Any]],
                 known: KnownTasks, ledger: Ledger | None = None) -> None:
        self._list_tasks = list_tasks
        self.known = known
        self._ledger = ledger

    def find(self, prepared: Prepared, sent_at: float, window: float,
             retry: RetryPolicy) -> dict[str, Any] | None:
        """The task record the Run created (now claimed), or None when it did not show
        within ``window`` seconds (the list is read at least twice). None means "unknown",
        never "no task": the caller must not send the Run again."""
        wanted = Wanted.of(prepared, sent_at)
        self._learn_ledger()
        deadline = time.monotonic() + window
        checks = 0
        while True:
            checks += 1
            found = self._scan(self._read(retry), wanted)
            if found is not None:
                return found
            if checks >= 2 and time.monotonic() >= deadline:
                return None
            time.sleep(max(0.0, min(1.0, deadline - time.monotonic())))

    def adopt(self, ledger: Ledger, client: ClientInfo, retry: RetryPolicy) -> list[Adopted]:
        """Look for the tasks of this server's and key's open ``run_unknown`` entries and
        write a `Submitted` event (``adopted``, with the entry's ``run_id``) for each one
        found, so it becomes an ordinary pending task; returns what was adopted.

        Raises:
            ApiError, NetworkError: Task/List could not be read.
        """
        horizon = time.time() - ADOPT_HORIZON
        runs = [run for run in ledger.unknown_runs()
                if _same_server(run.client, client) and (run.sent_at or 0.0) >= horizon]
        if not runs:
            return []
        self._learn_ledger(ledger)
        records = self._read(retry, strict=True)
        adopted = []
        for run in runs:
            record = self._scan(records, Wanted.of_entry(run))
            if record is None:
                continue
            task = _task_of(record, run)
            ledger.write(Submitted(
                task_id=task.id, token=task.token, model=task.model, params=dict(task.params),
                submitted_at=run.sent_at, estimate=run.estimate, adopted=True, client=client,
                run_id=run.run_id))
            log.warning("the lost Run of %s (parameters %s) created task %s: adopted; "
                        "client.resume() collects it", run.model, run.fingerprint, task.id)
            adopted.append(Adopted(run.run_id, task))
        return adopted

    def match(self, records: Iterable[dict[str, Any]], wanted: Wanted) -> dict[str, Any] | None:
        """The record among ``records`` that is ``wanted``'s task (now claimed), or None;
        tasks the client holds (see `learn`) are never taken."""
        return self._scan(records, wanted)

    def learn(self, ledger: Ledger) -> None:
        """Hold every task of ``ledger`` (none of them is adopted for a lost Run)."""
        self._learn_ledger(ledger)

    def claim(self, record: Mapping[str, Any], wanted: Wanted) -> bool:
        """Whether ``record`` is the lost Run's task (then it is claimed)."""
        if not self._matches(record, wanted):
            return False
        return self.known.claim(str(record.get("id")))

    def _read(self, retry: RetryPolicy, *, strict: bool = False) -> list[dict[str, Any]]:
        try:
            envelope = self._list_tasks(retry)
        except (ApiError, NetworkError) as err:
            if strict:
                raise
            log.debug("Task/List could not be read while reconciling: %s", err)
            return []
        tasks = envelope.get("tasklist")
        return [t for t in tasks if isinstance(t, dict)] if isinstance(tasks, list) else []

    def _scan(self, records: Iterable[dict[str, Any]],
              wanted: Wanted) -> dict[str, Any] | None:
        candidates = [r for r in records if self._matches(r, wanted)]
        # The one created closest to the send (by the server's clock, compared only
        # loosely with ours): with identical requests, the earlier Run gets the earlier task.
        candidates.sort(key=lambda r: abs((parse_number(r.get("createtime")) or 0.0)
                                          - wanted.sent_at))
        for record in candidates:
            if self.known.claim(str(record.get("id"))):
                return record
        return None

    def _matches(self, record: Mapping[str, Any], wanted: Wanted) -> bool:
        task_id = str(record.get("id") or "")
        if not task_id or not record.get("socketaccesstoken") or task_id in self.known:
            return False
        owner, project = record.get("modelslugowner"), record.get("modelslugproject")
        if owner and project and f"{owner}/{project}" != wanted.model:
            return False
        created = parse_number(record.get("createtime"))
        if created is not None and created < wanted.sent_at - MAX_CLOCK_SKEW:
            return False
        parameters = record.get("parameters")
        if not isinstance(parameters, Mapping) or not parameters or not wanted.sent:
            return False  # nothing to compare: never adopted on a guess
        return params_match(wanted.sent, parameters)

    def _learn_ledger(self, ledger: Ledger | None = None) -> None:
        """Tasks another client wrote to the same ledger are held too."""
        ledger = ledger or self._ledger
        if ledger is None:
            return
        try:
            for entry in ledger.tasks().values():
                if entry.task_id:
                    self.known.add(entry.task_id)
        except OSError as err:
            log.debug("could not read the ledger while reconciling: %s", err)


def _same_server(run: ClientInfo, client: ClientInfo) -> bool:
    """Only the project (key) and server that got the Run list its task."""
    if run.base_url.rstrip("/") != client.base_url.rstrip("/"):
        return False
    return not run.key or not client.key or run.key == client.key


def _task_of(record: Mapping[str, Any], run: RunUnknown) -> Task:
    return Task(id=str(record.get("id")), token=str(record.get("socketaccesstoken")),
                model=run.model, params=dict(run.params),
                submitted_at=run.sent_at or time.time())


def params_match(sent: Mapping[str, Any], got: Any) -> bool:
    """Whether a task record's ``parameters`` carry every value a Run sent (numbers may come
    back as strings, lists as comma-separated text).

    Example:
        >>> params_match({"steps": 4, "guidance": 4.5}, {"steps": "4", "guidance": "4.5"})
        True
    """
    if not isinstance(got, Mapping):
        return False
    return all(name in got and _same_value(value, got[name]) for name, value in sent.items())


def _same_value(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if isinstance(a, (list, tuple)):
        items = b if isinstance(b, (list, tuple)) else str(b).split(",")
        if len(a) != len(items):
            return False
        return all(_same_value(x, y) for x, y in zip(a, items, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    x, y = parse_number(a), parse_number(b)
    if x is not None and y is not None:
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
    return str(a).strip() == str(b).strip()
