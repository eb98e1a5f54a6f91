"""Batches: one Run per row of parameters, from a list or a JSONL / CSV file; resumable.

``client.batch(rows, model=..., name=..., **common)`` checks every row first (all bad rows
are reported at once, with their line numbers and the rule each breaks, and nothing is
sent until they are fixed or ``skip_invalid=True``), then runs the rows as a named job:
running it again after an exception, a Ctrl-C, a kernel restart or a killed process follows
the rows still running, reuses the finished ones and sends only the rest (see `runner`). A
batch file that changed since the batch was started under the same name is refused
(`JobChanged`). Failures are kept and listed and never stop the other rows. Results go to
the output cache and the ledger as they end; the batch keeps only each row's task token, so
memory does not grow with the images.

Example:
    >>> batch = client.batch("prompts.jsonl", model="black-forest-labs/flux-2-flex",
    ...                      name="foxes", steps=28, max_concurrency=8)
    >>> batch.status()
    JobStatus('foxes': 998 done, 0 running, 0 to do, 2 failed, $62.7 spent)
    >>> batch.failures           # [(line, task id, message), ...]
    >>> batch.export("datasets/foxes")
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import TaskError
from ..ledger import OutputCache
from ..results import Result
from .batch_check import CheckedRows, row_request
from .client_like import ClientLike, ledger_of
from .export import ExportItem, export_items
from .job_names import derived_name, job_digest
from .job_results import result_of
from .job_state import CellState, JobStatus, read_job
from .rows import BadRow, RowSource
from .runner import JobProgress, JobRunner

__all__ = ["Batch", "BatchProgress"]

#: What ``on_progress`` gets while a batch runs (see `runner.JobProgress`).
BatchProgress = JobProgress


class Batch:
    """A named batch of runs, one per row. Build it with ``client.batch`` (`run_batch`).

    Attributes:
        name: the batch's name in the ledger.
        source: the rows (a file, or the items given).
        total: the rows, good and bad.
        skipped: (line, field, value, rule) of the bad rows skipped (``skip_invalid``).
        estimate: USD estimated for the rows this run sends, when known.
        shard: (k, n): this place runs the rows whose index leaves remainder k when divided
            by n (None: every row). See `merge` for putting shards back together.
    """

    kind = "batch"

    def __init__(self, client: ClientLike, source: RowSource, checked: CheckedRows, *,
                 model: str | None, common: Mapping[str, Any], name: str | None = None,
                 max_concurrency: int = 8,
                 on_progress: Callable[[JobProgress], None] | None = None,
                 cancel_event: threading.Event | None = None,
                 on_interrupt: str = "detach", progress: bool = True,
                 rerun: bool = False, shard: tuple[int, int] | None = None) -> None:
        self._client, self.source, self._checked = client, source, checked
        self.shard = shard
        self._model, self._common = model, dict(common)
        self.total = checked.total
        self.digest = checked.digest
        self.models = tuple(checked.models) or ((model,) if model else ())
        self.name = name or _derived(source, self.models, self._common, checked.digest)
        self.skipped = list(checked.problems)
        self.estimate: float | None = None
        self.max_concurrency = max(1, int(max_concurrency))
        self._on_progress, self._on_interrupt = on_progress, on_interrupt
        self._progress, self._rerun = progress, rerun
        self._cancel = cancel_event or threading.Event()
        self._tokens: dict[int, str] = {}
        #: Rows answered from the ledger by a client that reuses (no job line ties them to
        #: this batch: they are kept here, and asked again on a later run, for free).
        self._reused: dict[int, Result] = {}
        self._failed: dict[int, str] = {}
        self._lock = threading.Lock()
        self.last_progress: JobProgress | None = None

    # -- the job (see runner.JobPlan, runner.JobOwner) ---------------------------------------
    def cells_to_run(self, wanted: Callable[[int], bool]
                     ) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(index, model, parameters) of the good rows ``wanted`` accepts, read again from
        the source."""
        for index, (_line, row) in enumerate(self.source):
            if not self.runs(index) or isinstance(row, BadRow) or not wanted(index):
                continue
            yield (index, *row_request(row, model=self._model, common=self._common,
                                       client=self._client,
                                       text_cells=self.source.format == "csv"))

    def runs(self, index: int) -> bool:
        """Whether row ``index`` is run here (a good row, in this shard)."""
        if index in self._checked.bad:
            return False
        return self.shard is None or index % self.shard[1] == self.shard[0]

    @property
    def left_out(self) -> int:
        """Rows never run here: bad rows skipped, and other shards' rows."""
        return sum(1 for index in range(self.total) if not self.runs(index))

    def label(self, index: int) -> str:
        where = self.source.where
        return f"{where} {self.line(index)}"

    def line(self, index: int) -> int:
        """The row's line in the batch file (or its position in the items, from 1)."""
        return int(self._checked.lines[index])

    def restored(self, state: CellState) -> None:
        with self._lock:
            if state.state == "done":
                self._tokens[state.index] = state.token
            else:
                self._failed[state.index] = f"task {state.task_id}: {state.message}"

    def ended(self, index: int, outcome: Result | BaseException) -> None:
        with self._lock:
            if isinstance(outcome, Result):
                self._tokens[index] = outcome.token
                if outcome.reused:
                    self._reused[index] = outcome
            else:
                task = outcome.task_id if isinstance(outcome, TaskError) else ""
                what = f"task {task}: " if task else ""
                self._failed[index] = f"{what}{type(outcome).__name__}: {outcome}"

    def not_sent(self, index: int) -> None:
        """A row not sent in this run (the batch was cancelled first): still to do."""

    # -- running -----------------------------------------------------------------------------
    def run(self) -> Batch:
        """Run the rows still to do; returns when all ended (see the module docstring)."""
        runner = JobRunner(self._client, _Plan(self), self, max_concurrency=self.max_concurrency,
                           on_progress=self._relay, cancel_event=self._cancel,
                           on_interrupt=self._on_interrupt, progress=self._progress,
                           fresh=self._rerun)
        runner.run()
        return self

    def cancel(self) -> None:
        """Stop the batch (from another thread): nothing more is sent, running tasks are
        cancelled."""
        self._cancel.set()

    def _relay(self, progress: JobProgress) -> None:
        self.last_progress = progress
        if self._on_progress is not None:
            self._on_progress(progress)

    # -- what it made ------------------------------------------------------------------------
    def status(self) -> JobStatus:
        """Done / running / to do / failed, and the spend, as the ledger says now.

        Example:
            >>> batch.status()
            JobStatus('foxes': 998 done, 0 running, 0 to do, 2 failed, $62.7 spent)
        """
        status = read_job(ledger_of(self._client), self.name).status(self.total)
        left_out = self.left_out
        return dataclasses.replace(status, to_do=max(0, status.to_do - left_out),
                                   skipped=left_out)

    @property
    def failures(self) -> list[tuple[int, str]]:
        """(line, what happened) of each row that failed, in row order."""
        with self._lock:
            return [(self.line(i), text) for i, text in sorted(self._failed.items())]

    @property
    def cost(self) -> float:
        """USD billed for the batch's tasks (every run of it, failures included)."""
        return read_job(ledger_of(self._client), self.name).status(self.total).spent

    def results(self) -> Iterator[Result]:
        """The successful rows' results, in row order, read from the ledger one at a time
        (their images load from the output cache when used)."""
        for _index, result in self._done():
            yield result

    def _done(self) -> Iterator[tuple[int, Result]]:
        """(row, result) of each successful row: the job's cells, and the rows reused."""
        record = read_job(ledger_of(self._client), self.name)
        cache = OutputCache(ledger_of(self._client).home)
        with self._lock:
            reused = dict(self._reused)
        for index in sorted(set(record.cells) | set(reused)):
            cell = record.cells.get(index)
            if cell is not None and cell.state == "done":
                yield index, result_of(cell, cache)
            elif index in reused:
                yield index, reused[index]

    def export(self, directory: str | Path, *, format: str = "imagefolder") -> Path:
        """Write the batch as a dataset (see `research.export`): ``imagefolder`` (images
        and ``metadata.jsonl``) or ``parquet``; returns ``metadata.jsonl`` or the Parquet
        file. Each row also carries its ``line`` in the batch file.

        Example:
            >>> batch.export("datasets/foxes", format="parquet")
        """
        def items() -> Iterator[ExportItem]:
            for index, result in self._done():
                if index < self.total:
                    yield ExportItem(index, result, self.name, {"line": self.line(index)})

        return export_items(items, directory, format=format)

    def __len__(self) -> int:
        return self.total

    def __repr__(self) -> str:
        with self._lock:
            done, failed = len(self._tokens), len(self._failed)
        return (f"Batch({self.name!r}, {self.total} rows, succeeded={done}, failed={failed}, "
                f"skipped={len(self.skipped)})")


class _Plan:
    """The batch as the runner sees it (`runner.JobPlan`)."""

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        self.name, self.kind, self.total = batch.name, "batch", batch.total
        self.digest, self.models = batch.digest, batch.models
        self.source = batch.source.label
        self.estimate = batch.estimate
        self.excluded = batch.left_out

    def cells_to_run(self, wanted: Callable[[int], bool]
                     ) -> Iterator[tuple[int, str, dict[str, Any]]]:
        return self._batch.cells_to_run(wanted)

    def label(self, index: int) -> str:
        return self._batch.label(index)


def _derived(source: RowSource, models: tuple[str, ...], common: Mapping[str, Any],
             digest: str) -> str:
    """A file's batch is named after the file (so an edited file is noticed); an
    iterable's after its rows."""
    if source.path is None:
        return derived_name("batch", models, digest)
    key = job_digest([(" ".join(models), {"file": str(source.path), **common})])
    return derived_name("batch", models, key, stem=source.path.stem[:30])
