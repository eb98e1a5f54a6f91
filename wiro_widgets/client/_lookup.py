"""Reading tasks: the raw Task/Detail record, and a `Task` handle from a token or an id.

A handle rebuilt from a token takes its parameters from the ledger's ``submitted`` event
when there is one (they hold the reference images' descriptors), else from the record.

Example:
    >>> lookup = TaskLookup(transport, ledger, known)
    >>> lookup.task_for("5012", READ_RETRY).model
    'black-forest-labs/flux-2-flex'
"""

from __future__ import annotations

import time
from typing import Any

from ..backoff import RetryPolicy
from ..errors import NotFound
from ..ledger import Ledger
from ..protocol import detail_key, parse_number
from ..results import Task
from ._prepare import params_from_record
from ._reconcile import KnownTasks
from ._transport import Transport

__all__ = ["TaskLookup"]


class TaskLookup:
    """Reads task records and resolves handles.

    Args:
        transport: where Task/Detail goes.
        ledger: the client's ledger (None when it keeps none).
        known: the task ids the client holds (a resolved task joins them).
    """

    def __init__(self, transport: Transport, ledger: Ledger | None, known: KnownTasks) -> None:
        self._transport = transport
        self._ledger = ledger
        self._known = known

    def detail(self, task: Task | str, retry: RetryPolicy) -> dict[str, Any]:
        """The task's Task/Detail record (``task``: a `Task`, a token, or an all-digit id).

        Raises:
            NotFound: no such task.
        """
        if isinstance(task, Task):
            key = detail_key(task.id, task.token)
        else:
            text = str(task).strip()
            key = detail_key(text) if text.isdigit() else detail_key("", text)
        envelope = self._transport.post("/Task/Detail", key, retry=retry)
        tasks = envelope.get("tasklist")
        if not isinstance(tasks, list) or not tasks or not isinstance(tasks[0], dict):
            raise NotFound("There is no task yet.", code=1, endpoint="/Task/Detail")
        return dict(tasks[0])

    def estimate_of(self, task: Task) -> float | None:
        """The estimate the ledger kept for ``task`` (None when unknown)."""
        if self._ledger is None:
            return None
        try:
            entry = self._ledger.tasks().get(task.token)
        except OSError:
            return None
        return entry.submitted.estimate if entry is not None and entry.submitted else None

    def task_for(self, task: Task | str, retry: RetryPolicy) -> Task:
        """A `Task` for a handle, token or id (reading Task/Detail for the last two).

        Raises:
            ValueError: ``task`` is neither a `Task` nor a non-empty string.
            NotFound: no such task.
        """
        if isinstance(task, Task):
            return task
        if not isinstance(task, str) or not task.strip():
            raise ValueError(f"expected a Task, a task token or a task id, not {task!r}")
        record = self.detail(task.strip(), retry)
        task_id = str(record.get("id") or "")
        token = str(record.get("socketaccesstoken") or "")
        owner, project = record.get("modelslugowner"), record.get("modelslugproject")
        model = f"{owner}/{project}" if owner and project else ""
        entry = self._ledger.tasks().get(token) if self._ledger and token else None
        sent = entry.submitted if entry is not None else None
        if sent is not None:
            params = dict(sent.params)
            model = model or sent.model
            submitted = sent.submitted_at or parse_number(record.get("createtime"))
        else:
            params = params_from_record(model, record.get("parameters"))
            submitted = parse_number(record.get("createtime"))
        self._known.add(task_id)
        return Task(id=task_id, token=token, model=model, params=params,
                    submitted_at=submitted or time.time())
