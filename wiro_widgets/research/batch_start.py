"""Starting a batch (`client.batch`): its rows checked, its cost held against the budget,
then run as a named, resumable job (see `batch`).

Example:
    >>> batch = run_batch(client, "prompts.csv", model="black-forest-labs/flux-2-flex",
    ...                   name="foxes", steps=28)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import BudgetExceeded, InvalidRows
from .batch import Batch
from .batch_check import check_rows
from .client_like import ClientLike, ledger_of
from .job_state import read_job
from .rows import RowSource
from .runner import JobProgress

__all__ = ["DEFAULT_CONCURRENCY", "parse_shard", "run_batch"]

#: Runs in flight at once when ``max_concurrency`` is None (fewer while the API answers
#: code 96, "too many active tasks").
DEFAULT_CONCURRENCY = 16


def run_batch(client: ClientLike, rows: str | Path | Iterable[Mapping[str, Any]], *,
              model: str | None = None, name: str | None = None,
              max_concurrency: int | None = None,
              on_progress: Callable[[JobProgress], None] | None = None,
              cancel_event: threading.Event | None = None, on_interrupt: str = "detach",
              progress: bool = True, rerun: bool = False, skip_invalid: bool = False,
              shard: tuple[int, int] | str | None = None, **common: Any) -> Batch:
    """Check every row, then run the batch (see `batch.Batch`) and return it.

    Args:
        client: the `WiroClient` to run with.
        rows: an iterable of parameter dicts, or a ``.jsonl`` / ``.csv`` file of them.
        model: ``owner/model`` for every row (a row may name its own ``model``).
        name: the batch's name in the ledger (default: derived from the file, or from the
            rows of an iterable).
        max_concurrency: the most Runs in flight (None: `DEFAULT_CONCURRENCY`); fewer while
            the API answers code 96.
        on_progress: called with a `JobProgress` after each change, on this thread.
        cancel_event: set it (from another thread) to cancel the batch.
        on_interrupt: ``"detach"`` (running tasks go on; the next run collects them) or
            ``"cancel"`` on Ctrl-C or an exception in ``on_progress``.
        progress: show a progress bar.
        rerun: start over: every row is sent (and billed) again.
        skip_invalid: run the good rows and leave the bad ones out (listed in
            ``batch.skipped``) instead of refusing the batch.
        shard: ``(k, n)`` or ``"k/n"``: run only the rows whose index leaves remainder k
            when divided by n (one shard per machine or key, each with its own home;
            ``wiro-widgets merge`` puts them back together).
        **common: parameters of every row (a row's own value wins).

    Raises:
        InvalidRows: rows break the model's rules (all listed; nothing was sent).
        JobChanged: a batch of this name was started with other rows.
        JobBusy: the batch runs in another process now.
        BudgetExceeded: the rows to run could pass the budget (nothing was sent).

    Example:
        >>> batch = run_batch(client, [{"prompt": "a fox"}, {"prompt": "a cat"}],
        ...                   model="black-forest-labs/flux-2-flex", name="pets")
        >>> batch.status()
    """
    part = parse_shard(shard)
    source = RowSource.of(rows)
    checked = check_rows(client, source, model=model, common=common)
    if checked.problems and not skip_invalid:
        raise InvalidRows(checked.problems, where=source.where, rows=checked.total)
    batch = Batch(client, source, checked, model=model, common=common, name=name,
                  max_concurrency=max_concurrency or DEFAULT_CONCURRENCY,
                  on_progress=on_progress, cancel_event=cancel_event,
                  on_interrupt=on_interrupt, progress=progress, rerun=rerun, shard=part)
    record = read_job(ledger_of(client), batch.name)
    to_do = [i for i in range(checked.total)
             if batch.runs(i) and (rerun or record.state(i) == "to_do")]
    batch.estimate = checked.estimate(to_do)
    _check_budget(client, batch, len(to_do))
    return batch.run()


def parse_shard(shard: tuple[int, int] | str | None) -> tuple[int, int] | None:
    """``(k, n)`` from ``(k, n)`` or ``"k/n"``.

    Raises:
        ValueError: not 0 <= k < n.

    Example:
        >>> parse_shard("1/4")
        (1, 4)
    """
    if shard is None:
        return None
    try:
        k, n = (int(x) for x in shard.split("/")) if isinstance(shard, str) else shard
    except (TypeError, ValueError):
        raise ValueError(f"shard must be (k, n) or 'k/n', not {shard!r}") from None
    if not 0 <= k < n:
        raise ValueError(f"shard {k}/{n}: k must be at least 0 and below n")
    return int(k), int(n)


def _check_budget(client: ClientLike, batch: Batch, runs: int) -> None:
    budget, estimate = client.budget, batch.estimate
    if budget is None or estimate is None:
        return
    spent, held = float(client.spent or 0.0), float(client.reserved or 0.0)
    if spent + held + estimate > float(budget) + 1e-9:
        raise BudgetExceeded(
            f"the {runs} runs left of batch {batch.name!r} are estimated at ${estimate:.4f}; "
            f"with ${spent:.4f} already spent and ${held:.4f} estimated for tasks that may "
            f"still bill it would pass the budget of ${float(budget):.4f}. Nothing was sent.",
            spent=spent, estimate=estimate, budget=float(budget))
