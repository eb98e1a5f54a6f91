"""Reconciliation: finding the task a Run may have created when its answer was lost.

Run is billable and has no idempotency key, so after an ambiguous failure (the request may
have reached the server) the client never simply sends it again. It reads ``Task/List`` for a
short window and looks for a task it does not already hold, of the same model, created
after the submit (allowing for clock skew), whose recorded parameters carry every value the
Run sent. Found: the task is adopted. A recent task that could be ours but shows no
parameters to compare: `RunOutcomeUnknown` (sending again could pay twice). Provably none:
None, and the caller may send again.

Example:
    >>> known = KnownTasks()
    >>> reconciler = Reconciler(list_tasks=lambda: transport.post("/Task/List", {...}),
    ...                         known=known)
    >>> reconciler.claim(record, prepared, started=time.time() - 1)
    True
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ApiError, NetworkError, RunOutcomeUnknown
from ..protocol import parse_number
from ._prepare import Prepared

__all__ = ["CLOCK_SKEW", "TASK_LIST_QUERY", "KnownTasks", "Reconciler", "params_match"]

#: Server clocks may differ from ours; tasks created this long before the submit still match.
CLOCK_SKEW = 2.0
#: The Task/List body read while reconciling: this project's newest tasks.
TASK_LIST_QUERY = {"type": "model", "sort": "id", "order": "DESC", "start": "0", "limit": "50"}


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


class Reconciler:
    """Finds the task of a Run whose answer was lost.

    Args:
        list_tasks: reads ``Task/List`` (`TASK_LIST_QUERY`) and returns its envelope.
        known: the task ids the client already holds.
    """

    def __init__(self, list_tasks: Callable[[], Mapping[str, Any]], known: KnownTasks) -> None:
        self._list_tasks = list_tasks
        self.known = known

    def find(self, prepared: Prepared, started: float, window: float,
             reason: str) -> dict[str, Any] | None:
        """The task record the Run created (now claimed), or None when provably none.

        Args:
            prepared: what the Run sent.
            started: Unix time of the submit.
            window: seconds to keep looking (the list is read at least twice).
            reason: why the Run's answer is unknown, for the error message.

        Raises:
            RunOutcomeUnknown: the list could not be read, or a task that may be ours could
                not be told apart.
        """
        deadline = time.monotonic() + window
        checks = 0
        while True:
            checks += 1
            try:
                envelope = self._list_tasks()
            except (ApiError, NetworkError) as err:
                raise RunOutcomeUnknown(
                    f"the Run's answer was lost ({reason}) and the task list could not be "
                    f"read ({err}); a task may exist: check client.history() or the Wiro "
                    "dashboard before running again") from None
            found = self._scan(envelope.get("tasklist"), prepared, started, reason)
            if found is not None:
                return found
            if checks >= 2 and time.monotonic() >= deadline:
                return None
            time.sleep(max(0.0, min(1.0, deadline - time.monotonic())))

    def _scan(self, tasks: Any, prepared: Prepared, started: float,
              reason: str) -> dict[str, Any] | None:
        uncertain = False
        for record in tasks if isinstance(tasks, list) else []:
            if not isinstance(record, dict):
                continue
            verdict = self.claim(record, prepared, started)
            if verdict is True:
                return record
            uncertain = uncertain or verdict is None
        if uncertain:
            # A task that could be ours but shows no parameters to compare: sending again
            # could pay twice, so say so instead of guessing.
            raise RunOutcomeUnknown(
                f"the Run's answer was lost ({reason}) and a recent task could not be told "
                "apart from it; check client.history() or the Wiro dashboard before running "
                "again")
        return None

    def claim(self, record: Mapping[str, Any], prepared: Prepared,
              started: float) -> bool | None:
        """True: this record is the lost Run's task (now claimed). False: it is not.
        None: it might be, but its parameters cannot be compared."""
        task_id = str(record.get("id") or "")
        if not task_id or not record.get("socketaccesstoken"):
            return False
        owner, project = record.get("modelslugowner"), record.get("modelslugproject")
        if owner and project and f"{owner}/{project}" != prepared.model:
            return False
        created = parse_number(record.get("createtime"))
        if created is None or created < math.floor(started) - CLOCK_SKEW:
            return False
        if task_id in self.known:
            return False
        parameters = record.get("parameters")
        if not isinstance(parameters, Mapping) or not parameters:
            return None
        if not params_match(prepared.sent_values(), parameters):
            return False
        return self.known.claim(task_id)


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
