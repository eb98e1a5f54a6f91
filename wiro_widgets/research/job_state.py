"""Where a named job (a resumable sweep or batch) stands, read from the ledger alone.

Each cell's Runs are tied to it by their ``run_id`` (`ledger.jobs.Sending`, then
`Submitted`, `RunUnknown` or `NotSent`); the task's `Finished` event says how it ended. A
cell is, by its latest Run (a success anywhere wins):

- ``done``: its task succeeded (reused, never sent again);
- ``running``: its task was submitted and has not ended (followed again, never re-sent);
- ``failed``: its task failed, was moderated or could not run (kept and listed; not re-sent
  unless asked);
- ``unknown``: its Run was being sent when the process stopped (settled from ``Task/List``
  before anything else is sent, see `client._jobruns`);
- ``to_do``: never sent, refused before any task existed, or its task was cancelled or
  timed out (an interruption, not a verdict on the cell).

A `JobStarted` with ``fresh`` (``rerun=True``) forgets the cells' earlier Runs.

Example:
    >>> record = read_job(ledger, "guidance-study")
    >>> record.status(total=9)
    JobStatus('guidance-study': 7 done, 1 running, 0 to do, 1 failed, $0.4403 spent)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..ledger import (
    Finished,
    JobStarted,
    Ledger,
    NotSent,
    RunUnknown,
    Sending,
    Submitted,
)

__all__ = ["CellState", "JobRecord", "JobStatus", "read_job"]

#: Outcomes that end a cell for good; cancelled and timed-out tasks leave it to do.
FAILED_OUTCOMES = frozenset({"failed", "moderated", "error"})


@dataclass
class CellState:
    """One cell as the ledger knows it.

    Attributes:
        index: the cell's position in the job.
        state: ``done``, ``running``, ``failed``, ``unknown`` or ``to_do``.
        token, task_id: its latest task (empty when none).
        submitted: that task's `Submitted` event.
        finished: that task's `Finished` event, once it ended.
        runs: how many Runs it had (each may have billed).
    """

    index: int
    state: str = "to_do"
    token: str = ""
    task_id: str = ""
    submitted: Submitted | None = None
    finished: Finished | None = None
    runs: int = 0

    @property
    def message(self) -> str:
        end = self.finished
        return (end.debugerror or end.message or end.outcome) if end else ""


@dataclass(frozen=True)
class JobStatus:
    """The counts of a job's cells and what it cost.

    Attributes:
        name: the job's name.
        total: its cells.
        done, running, to_do, failed, unknown: cells in each state.
        spent: USD billed for its tasks (every Run, failures included).
        estimate: USD estimated for the cells still to do, when known.
        failures: (cell index, task id, message) of the failed cells.
        skipped: rows of a batch left out here: bad rows skipped (``skip_invalid``), and
            the rows of other shards.
    """

    name: str
    total: int
    done: int
    running: int
    to_do: int
    failed: int
    unknown: int
    spent: float
    estimate: float | None = None
    failures: tuple[tuple[int, str, str], ...] = ()
    skipped: int = 0

    def __repr__(self) -> str:
        unknown = f", {self.unknown} unknown" if self.unknown else ""
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        return (f"JobStatus({self.name!r}: {self.done} done, {self.running} running, "
                f"{self.to_do} to do, {self.failed} failed{unknown}{skipped}, "
                f"${self.spent:.4f} spent)")


@dataclass
class JobRecord:
    """A job's runs and cells, read from the ledger.

    Attributes:
        name: the job's name.
        starts: its `JobStarted` events, oldest first.
        cells: cell index -> `CellState`, for the cells that had a Run.
        tokens: every task token of the job (all Runs, also before a fresh start).
    """

    name: str
    starts: list[JobStarted] = field(default_factory=list)
    cells: dict[int, CellState] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    spent: float = 0.0

    @property
    def digest(self) -> str:
        """What the job ran when it was first started (or last started afresh)."""
        for start in reversed(self.starts):
            if start.fresh:
                return start.digest
        return self.starts[0].digest if self.starts else ""

    def state(self, index: int) -> str:
        cell = self.cells.get(index)
        return cell.state if cell else "to_do"

    def status(self, total: int, estimate: float | None = None) -> JobStatus:
        counts = {"done": 0, "running": 0, "failed": 0, "unknown": 0}
        failures = []
        for cell in self.cells.values():
            if cell.index >= total or cell.state not in counts:
                continue
            counts[cell.state] += 1
            if cell.state == "failed":
                failures.append((cell.index, cell.task_id, cell.message))
        ended = sum(counts.values())
        return JobStatus(self.name, total, counts["done"], counts["running"], total - ended,
                         counts["failed"], counts["unknown"], round(self.spent, 6), estimate,
                         tuple(sorted(failures)))


def read_job(ledger: Ledger, name: str) -> JobRecord:
    """The job's state from one pass over the ledger.

    Example:
        >>> read_job(ledger, "fox-study").cells[3].state
        'done'
    """
    record = JobRecord(name)
    cell_of: dict[str, int] = {}       # run id -> cell
    token_cell: dict[str, int] = {}    # task token -> cell
    attempts: dict[int, list[dict[str, Any]]] = {}
    finished: dict[str, Finished] = {}
    for event in ledger.read():
        if isinstance(event, JobStarted) and event.job == name:
            record.starts.append(event)
            if event.fresh:
                attempts.clear()
                cell_of.clear()
        elif isinstance(event, Sending) and event.job == name:
            cell_of[event.run_id] = event.cell
            attempts.setdefault(event.cell, []).append({"run": event.run_id})
        elif isinstance(event, (Submitted, NotSent, RunUnknown)) and event.run_id in cell_of:
            _attempt(attempts, cell_of[event.run_id], event.run_id)["event"] = event
            if isinstance(event, Submitted):
                token_cell[event.token] = cell_of[event.run_id]
                record.tokens.add(event.token)
        elif isinstance(event, Finished) and event.token in token_cell:
            finished[event.token] = event
    record.spent = sum(end.cost for end in finished.values())
    for index, runs in attempts.items():
        record.cells[index] = _cell(index, runs, finished)
    return record


def _attempt(attempts: dict[int, list[dict[str, Any]]], cell: int,
             run_id: str) -> dict[str, Any]:
    runs = attempts.setdefault(cell, [])
    for run in runs:
        if run["run"] == run_id:
            return run
    runs.append({"run": run_id})  # its Sending came before a fresh start
    return runs[-1]


def _cell(index: int, runs: Iterable[dict[str, Any]],
          finished: dict[str, Finished]) -> CellState:
    cell = CellState(index)
    for run in runs:
        cell.runs += 1
        event = run.get("event")
        state, submitted, end = _run_state(event, finished)
        if cell.state == "done":
            continue  # a success stays the cell's result
        if state == "to_do" and cell.state in ("running", "failed"):
            continue  # a Run refused later does not undo a task that exists
        cell.state = state
        if submitted is not None:
            cell.token, cell.task_id = submitted.token, submitted.task_id
            cell.submitted, cell.finished = submitted, end
    return cell


def _run_state(event: Any, finished: dict[str, Finished]
               ) -> tuple[str, Submitted | None, Finished | None]:
    if event is None or isinstance(event, RunUnknown):
        return "unknown", None, None
    if isinstance(event, NotSent):
        return "to_do", None, None
    end = finished.get(event.token)
    if end is None:
        return "running", event, None
    if end.outcome == "succeeded":
        return "done", event, end
    if end.outcome in FAILED_OUTCOMES:
        return "failed", event, end
    return "to_do", event, end
