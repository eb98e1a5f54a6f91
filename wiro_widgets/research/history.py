"""Past runs from the ledger, and re-attaching to runs a dead kernel left behind.

`load_history` turns the ledger's finished, successful tasks back into `Result`s whose images
load from the local output cache, so they still show after the output URLs have expired.
`resume` finds tasks that were submitted but never recorded as finished (the kernel died, the
laptop slept), waits for them through the client and downloads their outputs. It never submits.
A task is given up on only when the server keeps saying it has no such task (one "no task"
answer may be a hiccup: it is asked again a few times); a task sent with another project's
key is skipped and kept for a client with that key. An output whose cached file no longer
matches its recorded hash is reported and not served.

Example:
    >>> client.history(limit=5, model="black-forest-labs/flux-2-flex")
    [Result(task='5012', ...), ...]
    >>> client.resume()             # after a restart: collect what was still running
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import (
    Moderated,
    NotFound,
    TaskCancelled,
    TaskError,
    TaskFailed,
    TaskTimeout,
    WiroError,
)
from ..images import IMAGE_TYPES
from ..ledger import Finished, Ledger, OutputCache, OutputFile, TaskEntry
from ..protocol import Outcome, parse_seed
from ..redaction import get_logger
from ..results import Output, Result, Task, TaskUpdate
from .client_like import ClientLike, ledger_of

__all__ = ["load_history", "pending", "result_from_entry", "resume"]

log = get_logger(__name__)

#: Seconds to wait before asking again after a "no task" answer: a task the server just
#: created, or a replica that lags, may answer so once.
NOT_FOUND_RETRIES = (0.5, 1.0, 2.0)


def load_history(client: ClientLike | None, *, limit: int | None = None, model: str | None = None,
                 since: dt.datetime | float | None = None) -> list[Result]:
    """Past successful runs, newest first, rebuilt from the ledger.

    Args:
        client: the client whose ledger is read (None: the default ledger).
        limit: at most this many results.
        model: only this model (``owner/model``, or just ``model``).
        since: only runs submitted at or after this time (a datetime or Unix time).

    Example:
        >>> for result in load_history(client, limit=3):
        ...     print(result.task_id, result.seed, result.images[0].size)
    """
    ledger = ledger_of(client)
    cache = OutputCache(ledger.home)
    start = _unix(since)
    chosen = []
    for entry in ledger.tasks().values():
        if entry.outcome != "succeeded":
            continue
        if model and not _same_model(entry.model, model):
            continue
        if start is not None and entry.submitted_at < start:
            continue
        chosen.append(entry)
    chosen.sort(key=lambda e: e.submitted_at, reverse=True)
    if limit is not None:
        chosen = chosen[: max(0, limit)]
    return [result_from_entry(entry, cache) for entry in chosen]


def pending(client: ClientLike | None) -> list[Task]:
    """Tasks submitted to this client's server but not recorded as finished, oldest first.

    Example:
        >>> [task.id for task in pending(client)]
        ['5013']
    """
    return [_task(entry) for entry in _pending_entries(client)]


def resume(client: ClientLike, *, on_update: Callable[[TaskUpdate], None] | None = None,
           timeout: float | None = None) -> list[Result]:
    """Wait for every unfinished task in the ledger and download its outputs.

    Tasks that already ended while no one watched are collected at once. Nothing is submitted:
    a task that failed, was cancelled or is unknown to the server is logged and skipped. A task
    still running when ``timeout`` (for the whole call) runs out stays pending for a later call.

    Args:
        client: the `WiroClient` to wait with; only tasks sent to its server are resumed.
        on_update: called with each `TaskUpdate`, on this thread.
        timeout: seconds for the whole call; None uses the client's wait timeout per task.

    Returns:
        The successful results, oldest first.

    Example:
        >>> results = resume(client, timeout=120)
        >>> results[0].images[0]
    """
    ledger = ledger_of(client)
    deadline = None if timeout is None else time.monotonic() + timeout
    results: list[Result] = []
    for entry in _pending_entries(client):
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if remaining is not None and remaining <= 0:
            log.info("resume: out of time; task %s stays pending", entry.task_id)
            continue
        result = _collect(client, ledger, entry, on_update, remaining)
        if result is not None:
            results.append(result)
    return results


def _collect(client: ClientLike, ledger: Ledger, entry: TaskEntry,
             on_update: Callable[[TaskUpdate], None] | None,
             remaining: float | None) -> Result | None:
    """Wait for one pending task; record how it ended unless it is still running."""
    try:
        result = _wait_for(client, entry, on_update, remaining)
    except TaskTimeout:
        log.info("resume: task %s still running; resume again later", entry.task_id)
        return None
    except TaskError as err:
        log.warning("resume: task %s did not succeed: %s", entry.task_id, err)
        _ensure_finished(ledger, entry, outcome=_outcome(err), message=str(err))
        return None
    except NotFound as err:
        # The server kept saying it has no such task (a sandbox restarted, a deleted task):
        # stop asking.
        log.warning("resume: task %s is unknown to the server: %s", entry.task_id, err)
        _ensure_finished(ledger, entry, outcome="error", message=str(err))
        return None
    except WiroError as err:
        log.warning("resume: could not reach task %s (%s); it stays pending", entry.task_id,
                    err)
        return None
    result = _with_ledger_facts(result, entry)
    _ensure_finished(ledger, entry, outcome="succeeded", result=result)
    return result


def _wait_for(client: ClientLike, entry: TaskEntry,
              on_update: Callable[[TaskUpdate], None] | None,
              remaining: float | None) -> Result:
    """``client.wait`` by token; a "no task" answer is asked again a few times first."""
    delays = list(NOT_FOUND_RETRIES)
    while True:
        try:
            return client.wait(entry.token, on_update=on_update, timeout=remaining,
                               on_timeout="detach")
        except NotFound:
            if not delays:
                raise
            delay = delays.pop(0)
            log.info("resume: the server does not know task %s (yet?); asking again in "
                     "%.1fs", entry.task_id, delay)
            time.sleep(delay)


def result_from_entry(entry: TaskEntry, cache: OutputCache | None = None) -> Result:
    """A `Result` from a task's merged ledger events (see `Ledger.tasks`); images load
    lazily from the output cache.

    Example:
        >>> entry = Ledger().tasks()["<token>"]
        >>> result_from_entry(entry).images
    """
    cache = cache or OutputCache()
    params = entry.params
    end = entry.finished or Finished(task_id=entry.task_id, token=entry.token, outcome="")
    return Result(
        task=_task(entry),
        outputs=tuple(_output(o, cache) for o in end.outputs),
        params=params,
        seed=parse_seed(params.get("seed")),
        status=end.status or "task_postprocess_end",
        timeline=dict(end.timeline),
        elapsed=end.elapsed or 0.0,
        wall_time=end.wall_time or 0.0,
        cost=end.cost,
        record=dict(end.record),
        sandbox=entry.sandbox,
    )


def _pending_entries(client: ClientLike | None) -> list[TaskEntry]:
    ledger = ledger_of(client)
    here = _norm_url(client.base_url if client is not None else None)
    key = client.key_fingerprint if client is not None else ""
    entries = []
    for entry in ledger.tasks().values():
        if entry.is_finished or not entry.task_id:
            continue
        there = _norm_url(entry.base_url)
        # A task lives on the server it was sent to; another server would not know it.
        if here and there and here != there:
            continue
        # Only the project whose key sent it can read it: another key's client would be
        # told "no task" and close it for good. It stays pending for the right key.
        sent_with = entry.submitted.client.key if entry.submitted else ""
        if key and sent_with and key != sent_with:
            log.info("resume: task %s was sent with another key (%s); skipped, kept pending",
                     entry.task_id, sent_with)
            continue
        entries.append(entry)
    entries.sort(key=lambda e: e.submitted_at)
    return entries


def _ensure_finished(ledger: Ledger, entry: TaskEntry, *, outcome: Outcome,
                     message: str = "", result: Result | None = None) -> None:
    """Record the end unless the client already did, so the task is not resumed again."""
    current = ledger.tasks().get(entry.token)
    if current is not None and current.is_finished:
        return
    event = Finished(task_id=entry.task_id, token=entry.token, outcome=outcome, resumed=True,
                     debugerror=message)
    if result is not None:
        event = Finished(
            task_id=entry.task_id, token=entry.token, outcome=outcome, resumed=True,
            debugerror=message, status=result.status, elapsed=result.elapsed,
            wall_time=result.wall_time or None, cost=result.cost, timeline=result.timeline,
            outputs=tuple(OutputFile(name=o.name, content_type=o.content_type, size=o.size,
                                     url=o.url, sha256=o.sha256, path=o.path)
                          for o in result.outputs),
            sandbox=result.sandbox, record=result.record)
    ledger.write(event)


def _with_ledger_facts(result: Result, entry: TaskEntry) -> Result:
    """Fill what a wait by token cannot know (model, params) from the submitted event."""
    if result.params and result.model:
        return result
    params = dict(result.params or entry.params)
    task = Task(id=result.task.id or entry.task_id, token=result.task.token,
                model=result.model or entry.model, params=params,
                submitted_at=result.task.submitted_at or entry.submitted_at)
    seed = result.seed if result.seed is not None else parse_seed(params.get("seed"))
    return Result(task=task, outputs=result.outputs, params=params, seed=seed,
                  status=result.status,
                  timeline=result.timeline, elapsed=result.elapsed, wall_time=result.wall_time,
                  cost=result.cost, record=result.record, sandbox=result.sandbox)


def _outcome(err: TaskError) -> Outcome:
    if isinstance(err, Moderated):
        return "moderated"
    if isinstance(err, TaskFailed):
        return "failed"
    if isinstance(err, TaskCancelled):
        return "cancelled"
    return "error"


def _task(entry: TaskEntry) -> Task:
    return Task(id=entry.task_id, token=entry.token, model=entry.model, params=entry.params,
                submitted_at=entry.submitted_at)


def _output(raw: OutputFile, cache: OutputCache) -> Output:
    return Output(name=raw.name, content_type=raw.content_type, size=int(raw.size or 0),
                  url=raw.url, sha256=raw.sha256,
                  path=_local_path(raw.path, raw.sha256, raw.name, raw.content_type, cache))


def _local_path(path: str, digest: str, name: str, content_type: str,
                cache: OutputCache) -> str:
    if not digest:
        # No recorded hash to check the file against (hand-written lines): as it is.
        return path if path and Path(path).is_file() else ""
    # Only a file that still holds the recorded bytes is served; the cache may have moved
    # (another WIRO_WIDGETS_HOME), so the content is also looked up by its hash.
    suffixes = [Path(name).suffix, f".{IMAGE_TYPES.get(content_type, '')}", ".jpeg", ""]
    return cache.find(digest, path=path, suffixes=[s for s in suffixes if s != "."])


def _same_model(slug: str, wanted: str) -> bool:
    return slug == wanted or slug.rsplit("/", 1)[-1] == wanted


def _unix(since: dt.datetime | float | None) -> float | None:
    if since is None:
        return None
    if isinstance(since, dt.datetime):
        return since.timestamp()  # a naive datetime is taken as local time
    return float(since)


def _norm_url(url: Any) -> str:
    return str(url).rstrip("/") if url else ""
