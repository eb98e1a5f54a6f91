"""Concluding: what a terminal task record means, the outputs downloaded at once, the
``finished`` ledger event, and the `Result` (or the error that says how it ended).

Example:
    >>> concluder = Concluder(transport, cache, journal, budget, sandbox=lambda: True)
    >>> result = concluder.conclude(task, record, on_update=None, retry=READ_RETRY)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..backoff import RetryPolicy
from ..errors import (
    ApiError,
    Moderated,
    NetworkError,
    OutputError,
    TaskCancelled,
    TaskFailed,
)
from ..ledger import Detached, Finished, OutputCache, OutputFile
from ..protocol import Outcome, outcome_of, parse_number, parse_seed, succeeded, timeline_of
from ..redaction import redact
from ..results import Output, Result, Task, TaskUpdate
from ._budget import Budget
from ._follow import emit
from ._journal import Journal
from ._outputs import Fetched, OutputRefused, fetch, keep, outputs_of, raw_of
from ._transport import Transport

__all__ = ["KEPT_LOG_CHARS", "Concluder", "client_update", "kept_record"]

UpdateCallback = Callable[[TaskUpdate], None]

#: How much of a task's ``debugoutput`` log the ledger keeps (its end).
KEPT_LOG_CHARS = 2000


class Concluder:
    """Turns terminal records into results or errors, and records how tasks ended.

    Args:
        transport: downloads the outputs.
        cache: the output cache (made on first use).
        journal: the client's ledger writer.
        budget: settles each task's cost.
        sandbox: whether the server is a sandbox, as the client knows it now.
    """

    def __init__(self, transport: Transport, cache: Callable[[], OutputCache],
                 journal: Journal, budget: Budget, sandbox: Callable[[], bool]) -> None:
        self._transport = transport
        self._cache = cache
        self._journal = journal
        self._budget = budget
        self._sandbox = sandbox

    def conclude(self, task: Task, record: dict[str, Any], on_update: UpdateCallback | None,
                 retry: RetryPolicy) -> Result:
        """The `Result` of a successful record (outputs downloaded), else the error.

        Raises:
            TaskFailed, Moderated, TaskCancelled: how the task ended.
            OutputError: it succeeded but its outputs are not in hand (a download failed
                or was stopped, an output was refused); it stays pending in the ledger.
        """
        if not succeeded(record):
            self._fail(task, record)
        emit(on_update, client_update(task, "downloading", "downloading"))
        fetched, failure = self._fetch_all(record, retry)
        if failure is not None:
            raise self._uncollected(task, record, *failure)
        kept = keep(fetched, self._cache)
        wall_time = max(0.0, time.time() - task.submitted_at) if task.submitted_at else 0.0
        self.finished(task, record, "succeeded", outputs=kept.outputs, wall_time=wall_time,
                      message=kept.warning)
        return Result(
            task=task, outputs=tuple(kept.outputs), params=dict(task.params),
            seed=_seed(task.params, record), status=str(record.get("status") or ""),
            timeline=timeline_of(record),
            elapsed=parse_number(record.get("elapsedseconds")) or 0.0, wall_time=wall_time,
            cost=parse_number(record.get("totalcost")) or 0.0, record=record,
            sandbox=self._sandbox(), warnings=(kept.warning,) if kept.warning else (),
            _images=kept.images)

    def _fetch_all(self, record: Mapping[str, Any], retry: RetryPolicy
                   ) -> tuple[list[Fetched], tuple[str, str] | None]:
        """Every output, or (what failed, the reason) with nothing kept."""
        try:
            return [fetch(self._transport, item, retry) if item.get("url")
                    else raw_of(item, position)
                    for position, item in enumerate(outputs_of(record))], None
        except OutputRefused as err:
            return [], ("an output was refused", str(err))
        except (ApiError, NetworkError) as err:
            return [], ("its outputs could not be downloaded", str(err))

    def _uncollected(self, task: Task, record: Mapping[str, Any], what: str,
                     reason: str) -> OutputError:
        """Record that a billed task's outputs are not in hand; the error to raise. The task
        stays pending (its budget hold too), so ``wait(token)`` and ``resume()`` collect it."""
        self._journal.write(Detached(task_id=task.id, token=task.token, reason="outputs",
                                     status=str(record.get("status") or ""),
                                     message=f"{what}: {reason}"))
        return OutputError(
            f"task {task.id} succeeded (and is billed) but {what} ({reason}); nothing is "
            f"lost: collect it with client.wait({task.token!r}) or client.resume(), soon "
            "(output URLs expire)", task_id=task.id, token=task.token, reason=reason)

    def _fail(self, task: Task, record: dict[str, Any]) -> None:
        outcome = outcome_of(record)
        self.finished(task, record, outcome)
        pexit = str(record.get("pexit") if record.get("pexit") is not None else "")
        debugerror = redact(str(record.get("debugerror") or "")).strip()
        reason = _first_line(debugerror)
        where: dict[str, Any] = {"task_id": task.id, "token": task.token, "record": record}
        if outcome == "moderated":
            raise Moderated(f"refused by moderation: {reason}", pexit=pexit,
                            debugerror=debugerror, **where)
        if outcome == "cancelled":
            raise TaskCancelled("the task was cancelled", **where)
        if outcome == "error":
            raise TaskFailed(f"the task could not run: {reason or 'task_error'}", pexit=pexit,
                             debugerror=debugerror, **where)
        what = f"exit code {pexit}" if pexit else "no exit code"
        raise TaskFailed(f"the task failed ({what}): {reason or 'no error text'}",
                         pexit=pexit, debugerror=debugerror, **where)

    def finished(self, task: Task, record: Mapping[str, Any] | None, outcome: Outcome, *,
                 outputs: list[Output] | None = None, message: str = "",
                 wall_time: float | None = None) -> None:
        """The task ended: settle its cost and write its ``finished`` event."""
        record = record or {}
        cost = parse_number(record.get("totalcost")) or 0.0
        # The budget counts the estimate when the cost is missing, malformed or negative.
        self._budget.settle(task.token, record.get("totalcost"))
        files = (tuple(OutputFile(name=o.name, content_type=o.content_type, size=o.size,
                                  url=o.url, sha256=o.sha256, path=o.path) for o in outputs)
                 if outputs is not None else _raw_outputs(record))
        self._journal.write(Finished(
            task_id=task.id, token=task.token, model=task.model, outcome=outcome,
            status=str(record.get("status") or ""), pexit=str(record.get("pexit") or ""),
            elapsed=parse_number(record.get("elapsedseconds")), wall_time=wall_time,
            cost=cost, timeline=timeline_of(record), outputs=files,
            debugerror=redact(str(record.get("debugerror") or "")), message=message,
            sandbox=self._sandbox(), record=kept_record(record)))


def client_update(task: Task, status: str, label: str) -> TaskUpdate:
    """A `TaskUpdate` from the client itself (``submitting``, ``downloading``, ...)."""
    return TaskUpdate(status=status, label=label,
                      elapsed=max(0.0, time.time() - task.submitted_at)
                      if task.submitted_at else 0.0,
                      task_id=task.id, token=task.token, source="client")


def kept_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The final record as the ledger keeps it: whole, but the model's log cut to its end.

    Example:
        >>> len(kept_record({"debugoutput": "x" * 5000})["debugoutput"])
        2003
    """
    kept = dict(record)
    log_text = kept.get("debugoutput")
    if isinstance(log_text, str) and len(log_text) > KEPT_LOG_CHARS:
        kept["debugoutput"] = "..." + log_text[-KEPT_LOG_CHARS:]
    return kept


def _seed(params: Mapping[str, Any], record: Mapping[str, Any]) -> int | None:
    for source in (params, record.get("parameters") or {}):
        if isinstance(source, Mapping) and source.get("seed") not in (None, ""):
            value = parse_seed(source.get("seed"))
            if value is not None:
                return value
    return None


def _first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _raw_outputs(record: Mapping[str, Any]) -> tuple[OutputFile, ...]:
    items = record.get("outputs")
    return tuple(OutputFile.from_fields(i) for i in (items if isinstance(items, list) else [])
                 if isinstance(i, dict))
