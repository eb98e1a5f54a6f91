"""A job's Runs whose outcome a crash left unknown: adopted from ``Task/List``, or proven
never to have made a task.

Before a job cell's Run is sent, the client writes a `Sending` event (see `_submit`). A
process killed, or a kernel restarted, between that line and the `Submitted` one leaves the
cell's outcome unknown: the Run may never have left, or the server may have made its task.
The next run of the job (holding the job's lock, so nothing of it is in flight) settles each
such cell before sending anything:

- its task shows in ``Task/List`` (same model, every value sent, created after the send by
  the server's clock within `MAX_CLOCK_SKEW`; the `_reconcile` rules): it is adopted, as
  ``recover_lost_runs`` adopts a lost Run, and followed like any running cell;
- the list, read at least ``settle`` seconds after the Run was sent, does not show it: no
  task was made (Run creates its task before it answers, and the sender is gone), so a
  `NotSent` event closes it and the cell runs again;
- otherwise the list is read again once ``settle`` seconds have passed.

A server whose list lags its tasks by more than ``settle`` seconds would defeat the second
rule; the default (`DEFAULT_SETTLE`) is far above what Wiro's list takes. A Run whose answer
was lost while the process lived has a `RunUnknown` with the same run id: whichever of this
and ``recover_lost_runs`` finds its task first closes it for the other.

Example:
    >>> tasks = recover_job(reconciler, list_page, ledger, "fox-study", info,
    ...                     settle=30.0, retry=READ_RETRY)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..backoff import RetryPolicy
from ..ledger import ClientInfo, Ledger, NotSent, Sending, Submitted
from ..protocol import parse_number
from ..redaction import get_logger
from ..results import Task
from ._reconcile import MAX_CLOCK_SKEW, Reconciler, Wanted

__all__ = ["DEFAULT_SETTLE", "LIST_PAGE", "open_sendings", "recover_job"]

log = get_logger("wiro_widgets")

#: Seconds after a Run was sent from which its absence in Task/List proves it made no task.
DEFAULT_SETTLE = 30.0
#: Tasks per Task/List page, and the most pages read back while settling.
LIST_PAGE = 50
_MAX_PAGES = 40

ListPage = Callable[[int, RetryPolicy], Mapping[str, Any]]


def open_sendings(ledger: Ledger, job: str) -> list[Sending]:
    """The job's `Sending` events that no `Submitted` or `NotSent` closed, oldest first.

    Example:
        >>> [s.cell for s in open_sendings(ledger, "fox-study")]
        [17, 18]
    """
    sending: dict[str, Sending] = {}
    closed: set[str] = set()
    for event in ledger.read():
        if isinstance(event, Sending) and event.job == job:
            sending[event.run_id] = event
        elif isinstance(event, (Submitted, NotSent)) and event.run_id:
            closed.add(event.run_id)
    return [s for run_id, s in sending.items() if run_id not in closed]


def recover_job(reconciler: Reconciler, list_page: ListPage, ledger: Ledger, job: str,
                client: ClientInfo, *, settle: float, retry: RetryPolicy,
                sleep: Callable[[float], None] = time.sleep) -> list[tuple[int, Task]]:
    """Settle every open `Sending` of ``job`` sent from this server and key; returns the
    (cell, task) pairs adopted. Blocks until each is adopted or closed.

    Raises:
        ApiError, NetworkError: Task/List could not be read (nothing is decided then).
    """
    runs = [s for s in open_sendings(ledger, job) if _same_server(s.client, client)]
    if not runs:
        return []
    reconciler.learn(ledger)
    adopted: list[tuple[int, Task]] = []
    while runs:
        records = _listed_since(list_page, min(_sent_at(s) for s in runs), retry)
        now = time.time()
        waiting = []
        for run in runs:
            record = reconciler.match(records, Wanted(run.model, run.sent, _sent_at(run)))
            if record is not None:
                adopted.append((run.cell, _adopt(ledger, run, record, client)))
            elif now - _sent_at(run) >= settle:
                ledger.write(NotSent(run_id=run.run_id, job=job, cell=run.cell, reason=(
                    f"not in Task/List {now - _sent_at(run):.0f}s after it was sent")))
                log.info("job %s: the Run of cell %d made no task; it runs again", job,
                         run.cell)
            else:
                waiting.append(run)
        runs = waiting
        if runs:
            sleep(max(0.05, min(_sent_at(r) for r in runs) + settle - time.time()))
    return adopted


def _sent_at(run: Sending) -> float:
    return run.sent_at or run.time or 0.0


def _listed_since(list_page: ListPage, since: float, retry: RetryPolicy) -> list[dict[str, Any]]:
    """Task/List pages, newest first, back to tasks made before ``since`` (less the skew)."""
    records: list[dict[str, Any]] = []
    for page in range(_MAX_PAGES):
        envelope = list_page(page * LIST_PAGE, retry)
        tasks = envelope.get("tasklist")
        batch = [t for t in tasks if isinstance(t, dict)] if isinstance(tasks, list) else []
        records.extend(batch)
        created = [parse_number(t.get("createtime")) for t in batch]
        oldest = min((c for c in created if c is not None), default=None)
        if len(batch) < LIST_PAGE or (oldest is not None and oldest < since - MAX_CLOCK_SKEW):
            break
    return records


def _adopt(ledger: Ledger, run: Sending, record: Mapping[str, Any],
           client: ClientInfo) -> Task:
    task = Task(id=str(record.get("id")), token=str(record.get("socketaccesstoken")),
                model=run.model, params=dict(run.params), submitted_at=_sent_at(run))
    ledger.write(Submitted(task_id=task.id, token=task.token, model=task.model,
                           params=dict(run.params), submitted_at=_sent_at(run),
                           estimate=run.estimate, adopted=True, client=client,
                           run_id=run.run_id))
    log.warning("job %s: cell %d's Run was cut short, and it made task %s: adopted",
                run.job, run.cell, task.id)
    return task


def _same_server(sent: ClientInfo, client: ClientInfo) -> bool:
    if sent.base_url.rstrip("/") != client.base_url.rstrip("/"):
        return False
    return not sent.key or not client.key or sent.key == client.key

