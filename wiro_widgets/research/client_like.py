"""What the research helpers need of a client, and nothing more: `ClientLike`.

Research sits below the client in the package's layers: it never imports `WiroClient`. The
client offers ``client.history()``, ``client.resume()`` and ``client.sweep()`` by calling
down into research with itself, and research talks back through this Protocol. Any object
with these members works (a test double, another client).

Example:
    >>> def newest(client: ClientLike) -> Result:
    ...     return load_history(client, limit=1)[0]
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..ledger import JobCell, Ledger
from ..results import Result, Task, TaskUpdate
from ..schema import ModelSpec

__all__ = ["ClientLike", "WatchLike", "ledger_of", "reused_result"]


class WatchLike(Protocol):
    """A task the client follows in the background (``client.watch``)."""

    def cancel(self) -> None: ...

    def detach(self) -> None: ...


class ClientLike(Protocol):
    """The members of `WiroClient` that history, resume, sweeps and batches use."""

    @property
    def base_url(self) -> str: ...

    @property
    def ledger(self) -> Ledger | None: ...

    @property
    def home(self) -> Path: ...

    @property
    def budget(self) -> float | None: ...

    @property
    def spent(self) -> float: ...

    @property
    def reserved(self) -> float: ...

    @property
    def key_fingerprint(self) -> str: ...

    def spec(self, model: str) -> ModelSpec | None: ...

    def validate(self, model: str, **params: Any) -> dict[str, Any]: ...

    def estimate_cost(self, model: str, **params: Any) -> float | None: ...

    def submit(self, model: str, *, busy_timeout: float | None = None,
               **params: Any) -> Task: ...

    def wait(self, task: Task | str, *,
             on_update: Callable[[TaskUpdate], None] | None = None,
             timeout: float | None = None, on_timeout: str | None = None,
             cancel_event: threading.Event | None = None,
             detach_on_interrupt: bool = False) -> Result: ...

    def cancel(self, task: Task | str) -> dict[str, Any]: ...

    def submit_cell(self, cell: JobCell, model: str, *, busy_timeout: float | None = None,
                    **params: Any) -> Task: ...

    def watch(self, task: Task,
              on_end: Callable[[Result | BaseException], None]) -> WatchLike: ...

    def recover_job(self, name: str) -> list[tuple[int, Task]]: ...


def ledger_of(client: ClientLike | None) -> Ledger:
    """The ledger a client writes to (or the one in its home when it writes none); the
    default ledger for None.

    Example:
        >>> ledger_of(client).path
        PosixPath('/home/me/.cache/wiro-widgets/ledger.jsonl')
    """
    if client is None:
        return Ledger()
    return client.ledger if client.ledger is not None else Ledger(client.home)


def reused_result(client: Any, model: str, params: dict[str, Any]) -> Result | None:
    """The earlier run answering a sweep's or batch's cell when the client reuses
    (``WiroClient(reuse=True)``: see ``client.reusable``), else None. A cell the client
    would refuse is left to `submit_cell` to report.

    Example:
        >>> reused_result(client, MODEL, {"prompt": "a fox", "seed": 7})
        Result(task='5012', ..., cost=0.0, reused=True)
    """
    find = getattr(client, "reusable", None)
    if not getattr(client, "reuse", False) or find is None:
        return None
    try:
        found = find(model, **params)
    except Exception:
        return None
    return found if isinstance(found, Result) else None
