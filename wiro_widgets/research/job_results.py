"""A cell that ended in an earlier run of its job, as this run shows it: its `Result`
(images from the output cache) or the error it ended with.

Example:
    >>> result_of(cell, OutputCache(ledger.home)).images
    >>> error_of(cell)
    TaskFailed('the task failed: Generation failed ... (task 5012)')
"""

from __future__ import annotations

from ..errors import Moderated, TaskError, TaskFailed
from ..ledger import OutputCache, TaskEntry
from ..results import Result
from .history import result_from_entry
from .job_state import CellState

__all__ = ["error_of", "result_of"]


def result_of(cell: CellState, cache: OutputCache) -> Result:
    """The `Result` of a cell whose task succeeded (images load lazily from the cache)."""
    entry = TaskEntry(cell.token, submitted=cell.submitted, finished=cell.finished)
    return result_from_entry(entry, cache)


def error_of(cell: CellState) -> TaskError:
    """The error a failed cell's task ended with, as the earlier run raised it."""
    end = cell.finished
    text = (end.debugerror or end.message) if end else ""
    reason = next((line.strip() for line in text.splitlines() if line.strip()), "")
    record = dict(end.record) if end else {}
    pexit = end.pexit if end else ""
    if end is not None and end.outcome == "moderated":
        return Moderated(f"refused by moderation: {reason}", pexit=pexit, debugerror=text,
                         task_id=cell.task_id, token=cell.token, record=record)
    return TaskFailed(f"the task failed in an earlier run: {reason or 'no error text'}",
                      pexit=pexit, debugerror=text, task_id=cell.task_id, token=cell.token,
                      record=record)
