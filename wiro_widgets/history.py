"""Past runs from the ledger, and re-attaching to runs a dead kernel left behind.

`load_history` turns the ledger's finished, successful tasks back into `Result`s whose images
load from the local output cache, so they still show after the output URLs have expired.
`resume` finds tasks that were submitted but never recorded as finished (the kernel died, the
laptop slept), waits for them through the client and downloads their outputs. It never submits.

Example:
    >>> client.history(limit=5, model="black-forest-labs/flux-2-flex")
    [Result(task='5012', ...), ...]
    >>> client.resume()             # after a restart: collect what was still running
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import NotFound, TaskError, TaskTimeout, WiroError
from .images import IMAGE_TYPES
from .ledger import Ledger, OutputCache
from .redaction import get_logger
from .results import Output, Result, Task, TaskUpdate

__all__ = ["ledger_of", "load_history", "pending", "result_from_entry", "resume"]

log = get_logger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


def load_history(client: Any, *, limit: int | None = None, model: str | None = None,
                 since: dt.datetime | float | None = None) -> list[Result]:
    """Past successful runs, newest first, rebuilt from the ledger.

    Args:
        client: the `WiroClient` whose ledger is read.
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
        if not entry.get("finished") or not _succeeded(entry):
            continue
        if model and not _same_model(str(entry.get("model", "")), model):
            continue
        if start is not None and _submitted(entry) < start:
            continue
        chosen.append(entry)
    chosen.sort(key=_submitted, reverse=True)
    if limit is not None:
        chosen = chosen[: max(0, limit)]
    return [result_from_entry(entry, cache) for entry in chosen]


def pending(client: Any) -> list[Task]:
    """Tasks submitted to this client's server but not recorded as finished, oldest first.

    Example:
        >>> [task.id for task in pending(client)]
        ['5013']
    """
    return [_task(entry) for entry in _pending_entries(client)]


def resume(client: Any, *, on_update: Callable[[TaskUpdate], None] | None = None,
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
        token = str(entry["token"])
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if remaining is not None and remaining <= 0:
            log.info("resume: out of time; task %s stays pending", entry.get("task_id"))
            continue
        try:
            result = client.wait(token, on_update=on_update, timeout=remaining,
                                 on_timeout="detach")
        except TaskTimeout:
            log.info("resume: task %s still running; resume again later", entry.get("task_id"))
            continue
        except TaskError as err:
            log.warning("resume: task %s did not succeed: %s", entry.get("task_id"), err)
            _ensure_finished(ledger, entry, outcome=_outcome(err), message=str(err))
            continue
        except NotFound as err:
            # The server has no such task (a sandbox restarted, a deleted task): stop asking.
            log.warning("resume: task %s is unknown to the server: %s", entry.get("task_id"), err)
            _ensure_finished(ledger, entry, outcome="error", message=str(err))
            continue
        except WiroError as err:
            log.warning("resume: could not reach task %s (%s); it stays pending",
                        entry.get("task_id"), err)
            continue
        result = _with_ledger_facts(result, entry)
        _ensure_finished(ledger, entry, outcome="succeeded", result=result)
        results.append(result)
    return results


def ledger_of(client: Any) -> Ledger:
    """The ledger a client writes to (its ``ledger`` or ``home``), else the default one.

    Example:
        >>> ledger_of(client).path
        PosixPath('/home/me/.cache/wiro-widgets/ledger.jsonl')
    """
    for name in ("ledger", "_ledger"):
        candidate = getattr(client, name, None)
        if isinstance(candidate, Ledger):
            return candidate
    for name in ("home", "_home"):
        home = getattr(client, name, None)
        if isinstance(home, (str, Path)):
            return Ledger(home)
    return Ledger()


def result_from_entry(entry: Mapping[str, Any], cache: OutputCache | None = None) -> Result:
    """A `Result` from a merged ledger entry (see `Ledger.tasks`); images load lazily.

    Example:
        >>> entry = Ledger().tasks()["<token>"]
        >>> result_from_entry(entry).images
    """
    cache = cache or OutputCache()
    params = dict(entry.get("params") or {})
    outputs = tuple(_output(o, cache) for o in entry.get("outputs") or ()
                    if isinstance(o, Mapping))
    seed = entry.get("seed", params.get("seed"))
    return Result(
        task=_task(entry),
        outputs=outputs,
        params=params,
        seed=_seed(seed),
        status=str(entry.get("status") or "task_postprocess_end"),
        timeline=_timeline(entry.get("timeline")),
        elapsed=_float(entry.get("elapsed")),
        wall_time=_float(entry.get("wall_time")),
        cost=_float(entry.get("cost")),
        record=dict(entry.get("record") or {}),
        sandbox=_is_sandbox(entry),
    )


def _pending_entries(client: Any) -> list[dict[str, Any]]:
    ledger = ledger_of(client)
    here = _norm_url(getattr(client, "base_url", None))
    entries = []
    for token, entry in ledger.tasks().items():
        if entry.get("finished") or not token or not entry.get("task_id"):
            continue
        there = _norm_url(_base_url(entry))
        # A task lives on the server it was sent to; another server would not know it.
        if here and there and here != there:
            continue
        entries.append(entry)
    entries.sort(key=_submitted)
    return entries


def _ensure_finished(ledger: Ledger, entry: Mapping[str, Any], *, outcome: str,
                     message: str = "", result: Result | None = None) -> None:
    """Record the end unless the client already did, so the task is not resumed again."""
    token = str(entry["token"])
    if ledger.tasks().get(token, {}).get("finished"):
        return
    fields: dict[str, Any] = {"task_id": entry.get("task_id"), "token": token,
                              "outcome": outcome, "resumed": True}
    if result is not None:
        fields.update(status=result.status, elapsed=result.elapsed, cost=result.cost,
                      timeline=result.timeline,
                      outputs=[{"name": o.name, "content_type": o.content_type, "size": o.size,
                                "url": o.url, "sha256": o.sha256, "path": o.path}
                               for o in result.outputs])
    if message:
        fields["debugerror"] = message
    ledger.append("finished", **fields)


def _with_ledger_facts(result: Result, entry: Mapping[str, Any]) -> Result:
    """Fill what a wait by token cannot know (model, params) from the submitted event."""
    if result.params and result.model:
        return result
    params = dict(result.params or entry.get("params") or {})
    task = Task(id=result.task.id or str(entry.get("task_id", "")), token=result.task.token,
                model=result.model or str(entry.get("model", "")), params=params,
                submitted_at=result.task.submitted_at or _submitted(entry))
    seed = result.seed if result.seed is not None else _seed(params.get("seed"))
    return Result(task=task, outputs=result.outputs, params=params, seed=seed,
                  status=result.status,
                  timeline=result.timeline, elapsed=result.elapsed, wall_time=result.wall_time,
                  cost=result.cost, record=result.record, sandbox=result.sandbox)


def _outcome(err: TaskError) -> str:
    from .errors import Moderated, TaskCancelled, TaskFailed

    if isinstance(err, Moderated):
        return "moderated"
    if isinstance(err, TaskFailed):
        return "failed"
    if isinstance(err, TaskCancelled):
        return "cancelled"
    return "error"


def _task(entry: Mapping[str, Any]) -> Task:
    return Task(id=str(entry.get("task_id", "")), token=str(entry.get("token", "")),
                model=str(entry.get("model", "")), params=dict(entry.get("params") or {}),
                submitted_at=_submitted(entry))


def _output(raw: Mapping[str, Any], cache: OutputCache) -> Output:
    name = str(raw.get("name", ""))
    content_type = str(raw.get("content_type") or raw.get("contenttype") or "")
    digest = str(raw.get("sha256") or "")
    return Output(name=name, content_type=content_type, size=int(_float(raw.get("size"))),
                  url=str(raw.get("url", "")), sha256=digest,
                  path=_local_path(str(raw.get("path") or ""), digest, name, content_type, cache))


def _local_path(path: str, digest: str, name: str, content_type: str,
                cache: OutputCache) -> str:
    if path and Path(path).is_file():
        return path
    if not digest:
        return ""
    # The cache may have moved (another WIRO_WIDGETS_HOME): look the content up by its hash.
    suffixes = [Path(name).suffix, f".{IMAGE_TYPES.get(content_type, '')}", ".jpeg", ""]
    for suffix in dict.fromkeys(s for s in suffixes if s != "."):
        candidate = cache.path_for(digest, suffix)
        if candidate.is_file():
            return str(candidate)
    return ""


def _succeeded(entry: Mapping[str, Any]) -> bool:
    outcome = entry.get("outcome")
    if outcome is not None:
        return bool(outcome == "succeeded")
    return entry.get("status") == "task_postprocess_end" and str(entry.get("pexit")) == "0"


def _same_model(slug: str, wanted: str) -> bool:
    return slug == wanted or slug.rsplit("/", 1)[-1] == wanted


def _submitted(entry: Mapping[str, Any]) -> float:
    return _float(entry.get("submitted_at") or entry.get("submitted_time") or entry.get("time"))


def _unix(since: dt.datetime | float | None) -> float | None:
    if since is None:
        return None
    if isinstance(since, dt.datetime):
        return since.timestamp()  # a naive datetime is taken as local time
    return float(since)


def _timeline(raw: Any) -> dict[str, float]:
    if isinstance(raw, Mapping):
        return {str(k): _float(v) for k, v in raw.items()}
    if isinstance(raw, Iterable) and not isinstance(raw, (str, bytes)):
        out = {}
        for item in raw:
            if isinstance(item, (list, tuple)) and len(item) == 2:
                out[str(item[0])] = _float(item[1])
        return out
    return {}


def _base_url(entry: Mapping[str, Any]) -> str | None:
    info = entry.get("client")
    if isinstance(info, Mapping) and info.get("base_url"):
        return str(info["base_url"])
    value = entry.get("base_url")
    return str(value) if value else None


def _norm_url(url: Any) -> str:
    return str(url).rstrip("/") if url else ""


def _is_sandbox(entry: Mapping[str, Any]) -> bool:
    if entry.get("sandbox") is not None:
        return bool(entry["sandbox"])
    info = entry.get("client")
    if isinstance(info, Mapping) and info.get("sandbox") is not None:
        return bool(info["sandbox"])
    url = _base_url(entry) or ""
    return any(f"//{host}" in url for host in _LOOPBACK)


def _seed(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
