"""The progress bar of sweeps and batches: `tqdm.auto` (a widget in a notebook, text in a
terminal) with done, failed, running, the ETA and the dollars spent.

In a notebook the bar's widget is shown with a plain-text twin, which the bar replaces
with its final line when it closes, so a saved notebook (or a front end without widgets)
still says how the job ended.

Example:
    >>> bar = ProgressBar("fox-study", total=9, initial=2)
    >>> bar.show(progress)          # a `JobProgress`
    >>> bar.close(progress)
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ProgressBar", "ProgressLine", "progress_line"]


class ProgressLine(Protocol):
    """What the bar shows of a `runner.JobProgress`."""

    @property
    def done(self) -> int: ...

    @property
    def total(self) -> int: ...

    @property
    def succeeded(self) -> int: ...

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


def progress_line(kind: str, progress: ProgressLine) -> str:
    """``sweep: 4/9 ended · 2 running · 1 failed · est. $0.57 · spent $0.25``."""
    cost = f" · est. ${progress.estimate:.4f}" if progress.estimate is not None else ""
    dropped = f" · {progress.not_run} not run" if progress.not_run else ""
    return (f"{kind}: {progress.done}/{progress.total} ended · {progress.running} running"
            f" · {progress.failed} failed{dropped}{cost} · spent ${progress.cost:.4f}")


class ProgressBar:
    """One bar for one run of a job.

    Args:
        label: the job's name (the bar's description).
        total: its cells.
        initial: cells that ended in earlier runs (not counted in the rate or the ETA).
        kind: ``sweep`` or ``batch`` (the plain-text line).
    """

    def __init__(self, label: str, *, total: int, initial: int = 0,
                 kind: str = "batch") -> None:
        # Imported here: tqdm.auto looks for IPython, which `import wiro_widgets` must not pay.
        from tqdm.auto import tqdm as auto_tqdm

        self.kind = kind
        self._handle: Any = None
        cls: Any = auto_tqdm
        options: dict[str, Any] = {"total": total, "initial": initial, "desc": label,
                                   "unit": "task", "dynamic_ncols": True}
        if _is_notebook_bar(cls):
            self._bar = cls(display=False, **options)
            self._show_widget(f"{kind}: {initial}/{total} ended before this run")
        else:
            self._bar = cls(**options)

    def show(self, progress: ProgressLine) -> None:
        """Move the bar to ``progress`` (ended cells) and refresh its figures."""
        postfix = (f"{progress.failed} failed, {progress.running} running, "
                   f"${progress.cost:.4f} spent")
        self._bar.set_postfix_str(postfix, refresh=False)
        step = progress.done - self._bar.n
        if step > 0:
            self._bar.update(step)
        else:
            self._bar.refresh()

    def close(self, progress: ProgressLine | None = None) -> None:
        """Leave the bar as it ended (with its final line as plain text in a notebook)."""
        if progress is not None:
            self.show(progress)
        self._bar.close()
        if self._handle is not None and progress is not None:
            bundle = self._bundle(progress_line(self.kind, progress))
            self._handle.update(bundle, raw=True)

    def _show_widget(self, text: str) -> None:
        from IPython.display import display

        self._handle = display(self._bundle(text), raw=True, display_id=True)  # type: ignore[no-untyped-call]
        self._bar.displayed = True

    def _bundle(self, text: str) -> dict[str, Any]:
        view = self._bar.container._repr_mimebundle_()
        return {**{k: v for k, v in view.items() if k != "text/plain"}, "text/plain": text}


def _is_notebook_bar(cls: Any) -> bool:
    try:
        from tqdm.notebook import tqdm_notebook
    except ImportError:  # pragma: no cover - tqdm ships it
        return False
    return isinstance(cls, type) and issubclass(cls, tqdm_notebook)
