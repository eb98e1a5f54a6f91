"""The client's research methods: history, resume, lost Runs, sweeps, batches, and the
pieces sweeps and batches run on (``submit_cell``, ``watch``, ``recover_job``).

`WiroClient` inherits them; each hands over to `wiro_widgets.research` (which sits below
the client and talks back through `research.ClientLike`) or to one of the client's jobs.

Example:
    >>> client.batch("prompts.jsonl", model="black-forest-labs/flux-2-flex", name="foxes")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..auth import Credentials
from ..backoff import RetryPolicy
from ..errors import WiroError
from ..ledger import Detached, JobCell, Ledger
from ..redaction import get_logger
from ..research import (
    Batch,
    JobProgress,
    Sweep,
    SweepProgress,
    load_history,
    resume,
    run_batch,
    run_sweep,
)
from ..results import Result, Task, TaskUpdate
from ._budget import Budget
from ._conclude import Concluder
from ._config import client_info
from ._follow import FollowConfig
from ._hub import Hub, OnEnd, Watch
from ._jobruns import LIST_PAGE, recover_job
from ._journal import Journal
from ._lookup import TaskLookup
from ._prepare import Prepared
from ._reconcile import TASK_LIST_QUERY, Reconciler
from ._stop import Stopper, short_retry
from ._submit import RunSettings, Submitter
from ._transport import Transport

__all__ = ["ResearchMethods"]

log = get_logger("wiro_widgets")

UpdateCallback = Callable[[TaskUpdate], None]
#: How long ``history()`` and ``resume()`` try to read Task/List for lost Runs: a server
#: that is down must not hold up reading the local history.
_ADOPT_RETRY = RetryPolicy(budget=2.0, base=0.1, cap=0.5)


class ResearchMethods:
    """The research half of `WiroClient` (its attributes are set by `WiroClient`)."""

    _base_url: str
    _socket_url: str
    _credentials: Credentials
    _ledger: Ledger | None
    _budget: Budget
    _transport: Transport
    _lookup: TaskLookup
    _reconciler: Reconciler
    _submitter: Submitter
    _stopper: Stopper
    _concluder: Concluder
    _journal: Journal
    _hub: Hub | None
    retry: RetryPolicy
    timeout: tuple[float, float]
    reconcile_window: float
    unknown_settle: float
    use_socket: bool
    follow_config: FollowConfig

    @property
    def is_sandbox(self) -> bool:
        raise NotImplementedError

    def _prepare(self, model: str, params: dict[str, Any]) -> Prepared:
        raise NotImplementedError

    # -- history and resume ----------------------------------------------------------------
    def history(self, limit: int | None = None, model: str | None = None,
                since: dt.datetime | float | None = None) -> list[Result]:
        """Past results from the ledger, newest first (see `research.load_history`).

        Runs whose answer was lost are looked for first (see `recover_lost_runs`): a task
        found becomes pending, and `resume` collects it.
        """
        self._recover_quietly()
        return load_history(self, limit=limit, model=model, since=since)  # type: ignore[arg-type]

    def resume(self, *, on_update: UpdateCallback | None = None,
               timeout: float | None = None) -> list[Result]:
        """Collect tasks left unfinished by an earlier session (see `research.resume`),
        and those of Runs whose answer was lost, once the server lists them."""
        self._recover_quietly()
        return resume(self, on_update=on_update, timeout=timeout)  # type: ignore[arg-type]

    def recover_lost_runs(self) -> list[Task]:
        """Look in ``Task/List`` for the tasks of Runs whose answer was lost
        (`RunOutcomeUnknown`, ``run_unknown`` in the ledger) and adopt those found: each
        becomes an ordinary pending task (`resume` and `wait` collect it). Matched by model
        and parameters, never by this computer's clock. Nothing is ever sent again.

        Raises:
            ApiError, NetworkError: Task/List could not be read.

        Example:
            >>> try:
            ...     client.run("black-forest-labs/flux-2-flex", prompt="a fox")
            ... except RunOutcomeUnknown:
            ...     tasks = client.recover_lost_runs()     # later: "check again"
            >>> [client.wait(task) for task in tasks]
        """
        return self._recover(short_retry(self.retry))

    def _recover(self, retry: RetryPolicy) -> list[Task]:
        if self._ledger is None:
            return []
        info = client_info(self._base_url, self._credentials, sandbox=self.is_sandbox)
        found = self._reconciler.adopt(self._ledger, info, retry)
        for adopted in found:
            self._budget.assign(adopted.run_id, adopted.task.token)
        return [adopted.task for adopted in found]

    def _recover_quietly(self) -> None:
        try:
            self._recover(_ADOPT_RETRY)
        except (WiroError, OSError) as err:
            log.info("could not look for the tasks of lost Runs now (%s); they stay "
                     "unknown", err)

    # -- sweeps and batches ----------------------------------------------------------------
    def sweep(self, model: str | Sequence[str], *, max_concurrency: int = 4,
              on_progress: Callable[[SweepProgress], None] | None = None,
              rerun: bool = False, name: str | None = None, on_interrupt: str = "detach",
              progress: bool = True, **params: Any) -> Sweep:
        """Run every combination of list-valued parameters as a named, resumable job (see
        `research.run_sweep`): the same sweep run again reuses its finished cells, follows
        its running ones and sends only the rest. A list of models makes the model an axis.
        ``rerun=True`` runs (and bills) every cell again.

        Example:
            >>> client.sweep("black-forest-labs/flux-2-flex", prompt="a lighthouse at dusk",
            ...              seed=[1, 2, 3], guidance=[2.5, 4.5], name="lighthouse")
        """
        return run_sweep(self, model, max_concurrency=max_concurrency,  # type: ignore[arg-type]
                         on_progress=on_progress, rerun=rerun, name=name,
                         on_interrupt=on_interrupt, progress=progress, **params)

    def batch(self, items: str | Path | Iterable[Mapping[str, Any]], *,
              model: str | None = None, name: str | None = None,
              max_concurrency: int | None = None,
              on_progress: Callable[[JobProgress], None] | None = None,
              on_interrupt: str = "detach", progress: bool = True, rerun: bool = False,
              skip_invalid: bool = False, shard: tuple[int, int] | str | None = None,
              **common: Any) -> Batch:
        """Run one task per row (parameter dicts, or a JSONL / CSV file of them) as a named,
        resumable job; every row is checked before anything is sent (see
        `research.run_batch`). ``shard=(k, n)`` runs one shard of it (rows whose index
        leaves remainder k when divided by n).

        Example:
            >>> batch = client.batch("prompts.csv", model="black-forest-labs/flux-2-flex",
            ...                      name="foxes", steps=28, max_concurrency=8)
            >>> batch.status(), batch.failures
            >>> batch.export("datasets/foxes")
        """
        return run_batch(self, items, model=model, name=name,  # type: ignore[arg-type]
                         max_concurrency=max_concurrency, on_progress=on_progress,
                         on_interrupt=on_interrupt, progress=progress, rerun=rerun,
                         skip_invalid=skip_invalid, shard=shard, **common)

    def submit_cell(self, cell: JobCell, model: str, *, busy_timeout: float | None = None,
                    **params: Any) -> Task:
        """`submit` for a cell of a named job: a ``sending`` line is written and synced
        before the Run goes out, so the job can be resumed whatever moment a crash hits.

        Example:
            >>> task = client.submit_cell(JobCell("foxes", 3), MODEL, prompt="a fox")
        """
        settings = RunSettings(
            timeout=self.timeout, retry=self.retry, reconcile_window=self.reconcile_window,
            busy_timeout=0.0 if busy_timeout is None else float(busy_timeout))
        return self._submitter.submit(self._prepare(model, params), settings, cell)

    def watch(self, task: Task, on_end: OnEnd) -> Watch:
        """Follow ``task`` in the background; ``on_end`` gets its `Result` (outputs
        downloaded, ledger written) or the error that says how it ended, on one of the
        client's follower threads. Every watched task shares one WebSocket and a small pool
        of threads, however many there are.

        Example:
            >>> watch = client.watch(task, on_end=print)
            >>> watch.cancel()                   # or watch.detach(): it goes on unwatched
        """
        if not self._budget.knows(task.token):
            self._budget.hold(task.token, self._lookup.estimate_of(task))
        return self._follower().watch(task, on_end)

    def recover_job(self, name: str) -> list[tuple[int, Task]]:
        """Settle job ``name``'s Runs that a crash cut short: adopt the tasks the server
        lists, close the others as never sent (see `client._jobruns`); returns the
        (cell, task) pairs adopted. Blocks up to ``unknown_settle`` seconds after such a
        Run was sent.

        Raises:
            ApiError, NetworkError: Task/List could not be read.
        """
        if self._ledger is None:
            return []
        info = client_info(self._base_url, self._credentials, sandbox=self.is_sandbox)
        found = recover_job(self._reconciler, self._list_page, self._ledger, name, info,
                            settle=self.unknown_settle, retry=short_retry(self.retry))
        return found

    def _list_page(self, start: int, retry: RetryPolicy) -> Mapping[str, Any]:
        body = {**TASK_LIST_QUERY, "start": str(start), "limit": str(LIST_PAGE)}
        return self._transport.post("/Task/List", body, retry=retry)

    def _follower(self) -> Hub:
        if self._hub is None:
            retry = short_retry(self.retry)
            self._hub = Hub(
                detail=lambda task: self._lookup.detail(task, retry),
                conclude=lambda task, record: self._concluder.conclude(task, record, None,
                                                                       self.retry),
                stop=lambda task: self._stopper.cancel(task, self.retry),
                ended=lambda task, record, outcome, message: self._concluder.finished(
                    task, record, outcome, message=message),  # type: ignore[arg-type]
                detached=lambda task: self._journal.write(Detached(
                    task_id=task.id, token=task.token, reason="interrupt")),
                socket_url=self._socket_url if self.use_socket else None,
                config=self.follow_config)
        return self._hub

