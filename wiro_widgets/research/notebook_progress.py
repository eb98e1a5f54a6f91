"""A sweep's progress as one line in a notebook, updated in place (the default when a sweep
runs in a Jupyter kernel without an ``on_progress`` callback).

Example:
    >>> show = notebook_progress()      # None outside a kernel
    >>> client.sweep(MODEL, prompt="a fox", seed=[1, 2, 3], on_progress=show)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["ProgressLike", "notebook_progress"]


class ProgressLike(Protocol):
    """What the line shows of a `sweep.SweepProgress`."""

    @property
    def event(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def done(self) -> int: ...

    @property
    def total(self) -> int: ...

    @property
    def running(self) -> int: ...

    @property
    def failed(self) -> int: ...

    @property
    def not_run(self) -> int: ...

    @property
    def estimate(self) -> float | None: ...

    @property
    def cost(self) -> float: ...


def notebook_progress() -> Callable[[ProgressLike], None] | None:
    """A one-line display updated in place when running in a Jupyter kernel, else None."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return None
    handle: Any = None
    last = 0.0

    def show(progress: ProgressLike) -> None:
        nonlocal handle, last
        now = time.monotonic()
        if progress.event not in ("start", "done") and now - last < 0.2:
            return  # a busy sweep would otherwise flood the front end
        last = now
        cost = f" · est. ${progress.estimate:.4f}" if progress.estimate is not None else ""
        dropped = f" · {progress.not_run} not run" if progress.not_run else ""
        text = (f"sweep: {progress.done}/{progress.total} ended · {progress.running} running"
                f" · {progress.failed} failed{dropped}{cost} · spent ${progress.cost:.4f}")
        if progress.event == "start":
            text = f"sweep: {progress.message}"
        bundle = {"text/plain": text}
        if handle is None:
            handle = display(bundle, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        else:
            handle.update(bundle, raw=True)

    return show

