"""Parameter sweeps: the product of listed values, run concurrently, shown as a labelled grid.

List-valued parameters are the axes (``seed=[1, 2, 3]``); the others are fixed (see `cells`).
A model's file input is always one list of images, so it is swept only when marked:
``input_images=sweep_over([[cat], [cat, dog]])``. The count and, where known, the estimated cost
are logged and reported before anything runs. Runs go out through a concurrency `Governor`
that treats Wiro's code 96 (too many active tasks) as back-pressure: the submission is retried
after a jittered backoff with a smaller window. Code 96 means no task was created, so a retry
never duplicates a Run. How the sweep looks (HTML grid, contact sheet) is in `sweep_grid`.

Example:
    >>> sweep = client.sweep("black-forest-labs/flux-2-flex", prompt="a lighthouse at dusk",
    ...                      seed=[1, 2, 3], guidance=[2.5, 4.5, 7.0])
    >>> sweep                         # in a notebook: rows = seed, columns = guidance
    >>> sweep.grid_image().save("grid.png")
    >>> sweep.errors                  # {Cell(seed=2, guidance=7.0): TaskFailed(...)}
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..backoff import RetryPolicy, backoff_delay
from ..errors import ConcurrencyLimit, TaskCancelled, TaskError
from ..protocol import parse_number
from ..redaction import get_logger
from ..results import Result, Task
from ..specs import get_spec
from . import sweep_grid
from .cells import Cell
from .client_like import ClientLike, ledger_of
from .governor import Governor

__all__ = ["BUSY_RETRY", "MODEL_AXIS", "Sweep", "SweepProgress"]

#: The axis name of a sweep across models (``client.sweep(model=[...])``).
MODEL_AXIS = "model"

log = get_logger(__name__)

#: How a cell waits after a code-96 answer before submitting again (full jitter spreads the
#: retries of several waiting cells apart; a ``Retry-After`` wins).
BUSY_RETRY = RetryPolicy(base=0.25, cap=8.0)



@dataclass(frozen=True)
class SweepProgress:
    """What a sweep is doing, passed to ``on_progress`` after every change.

    Attributes:
        event: ``start``, ``submitted``, ``busy`` (code 96, backing off), ``finished``,
            ``failed``, ``cancelled`` or ``done``.
        total: the number of cells.
        succeeded, failed, not_run, running, waiting: cells in each state (``failed``: ended
            with an error, cancelled ones included; ``not_run``: dropped by a cancel before
            being sent; ``waiting``: not sent yet).
        estimate: the estimated cost of the whole sweep in USD, when known.
        cost: the cost of the finished runs so far.
        window: how many runs the governor currently lets run at once.
        cell: the cell this event is about, if any.
        message: a human line for logs and progress bars.
        sweep: the running sweep (call ``progress.sweep.cancel()`` to stop it).
    """

    event: str
    total: int
    succeeded: int
    failed: int
    not_run: int
    running: int
    waiting: int
    estimate: float | None
    cost: float
    window: int
    message: str
    cell: Cell | None = None
    sweep: Sweep | None = field(default=None, repr=False, compare=False)

    @property
    def done(self) -> int:
        """Cells that ended, either way."""
        return self.succeeded + self.failed + self.not_run

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


class Sweep:
    """The runs of a parameter sweep, laid out on its axes.

    Build it with `run_sweep` (or ``client.sweep``). While it runs, `cancel` stops it as a whole:
    unsent cells are dropped and every running task is cancelled through the client.

    Attributes:
        model: the model swept.
        axes: the varied parameters and their values, in order (rows, then columns).
        params: the fixed parameters.
        cells: every point of the sweep, in product order.
        errors: cell -> the error that ended it (failed, moderated, cancelled, refused).
        not_run: cells never submitted (the sweep was cancelled first).
        estimate: the estimated cost of all cells in USD, or None when unknown.
        file_param: the model's file input (its swept values are labelled by file name).
        models: the models swept (one, or the values of the ``model`` axis).
        dropped: per model, the parameters it lacks, left out of its runs.
        notes: those drops, in words.
    """

    def __init__(self, client: ClientLike, model: str, axes: Mapping[str, list[Any]],
                 params: Mapping[str, Any], *, max_concurrency: int = 4,
                 on_progress: Callable[[SweepProgress], None] | None = None,
                 cancel_event: threading.Event | None = None,
                 estimate: float | None = None, file_param: str | None = None,
                 dropped: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.model = model
        if file_param is None:
            spec = get_spec(model)
            file_param = spec.file_param.py_name if spec and spec.file_param else None
        self.file_param = file_param
        self.dropped: dict[str, tuple[str, ...]] = dict(dropped or {})
        self.notes = [f"{m} has no {', '.join(names)}: left out of its runs"
                      for m, names in self.dropped.items()]
        self.axes: dict[str, list[Any]] = {k: list(v) for k, v in axes.items()}
        self.params: dict[str, Any] = dict(params)
        files = frozenset({self.file_param} & set(self.axes) if self.file_param else ())
        self.cells: list[Cell] = [
            Cell(index, {k: self.axes[k][i] for k, i in zip(self.axes, index, strict=True)},
                 files)
            for index in itertools.product(*(range(len(v)) for v in self.axes.values()))
        ]
        self.errors: dict[Cell, BaseException] = {}
        self.not_run: list[Cell] = []
        self.estimate = estimate
        self.max_concurrency = max(1, int(max_concurrency))
        self._client = client
        self._on_progress = on_progress
        self._cancel = cancel_event or threading.Event()
        self._by_cell: dict[Cell, Result] = {}
        self._running: dict[Cell, Task] = {}
        self._lock = threading.Lock()
        self._events: queue.SimpleQueue[SweepProgress] = queue.SimpleQueue()
        self._governor = Governor(self.max_concurrency)
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()
        self._started = False

    @property
    def models(self) -> list[str]:
        return list(self.axes.get(MODEL_AXIS, [self.model]))

    def request(self, cell: Cell) -> tuple[str, dict[str, Any]]:
        """The model and the parameters of one cell (without those its model lacks)."""
        model = str(cell.values.get(MODEL_AXIS, self.model))
        params = {**self.params, **{k: v for k, v in cell.values.items() if k != MODEL_AXIS}}
        for name in self.dropped.get(model, ()):
            params.pop(name, None)
        return model, params

    # --- running ----------------------------------------------------------------------------

    def run(self) -> Sweep:
        """Run every cell and return when all have ended; ``on_progress`` runs on this thread.

        Ctrl-C (a kernel interrupt) cancels the whole sweep, then re-raises.
        """
        self._claim()
        self._drive()
        return self

    def start(self) -> Sweep:
        """Run in a background thread and return at once; see `wait` and `cancel`.

        Example:
            >>> sweep = Sweep(...).start(); ...; sweep.cancel(); sweep.wait()
        """
        self._claim()
        self._thread = threading.Thread(target=self._drive, name="wiro-sweep", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the sweep ended; False when ``timeout`` ran out first."""
        return self._finished.wait(timeout)

    def cancel(self) -> None:
        """Stop the sweep: nothing more is sent and every running task is cancelled."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        """True once every cell has ended (or was dropped by a cancel)."""
        return self._finished.is_set()

    # --- results ----------------------------------------------------------------------------

    @property
    def results(self) -> list[Result]:
        """The successful results, in cell order."""
        with self._lock:
            return [self._by_cell[c] for c in self.cells if c in self._by_cell]

    @property
    def by_cell(self) -> dict[Cell, Result]:
        """Cell -> its result, for the cells that succeeded."""
        with self._lock:
            return {c: self._by_cell[c] for c in self.cells if c in self._by_cell}

    @property
    def cost(self) -> float:
        """USD billed for this sweep's tasks (successes, and any charge a failure reported)."""
        with self._lock:
            total = sum(r.cost for r in self._by_cell.values())
            for err in self.errors.values():
                if isinstance(err, TaskError):
                    total += parse_number(err.record.get("totalcost")) or 0.0
        return round(total, 6)

    def get(self, **values: Any) -> Result | None:
        """The result at the cell with these axis values, or None.

        Example:
            >>> sweep.get(seed=2, guidance=4.5)
        """
        for cell in self.cells:
            if all(k in cell.values and cell.values[k] == v for k, v in values.items()):
                return self.by_cell.get(cell)
        return None

    def __getitem__(self, cell: Cell) -> Result:
        with self._lock:
            return self._by_cell[cell]

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.cells)

    def __repr__(self) -> str:
        shape = " × ".join(f"{k}[{len(v)}]" for k, v in self.axes.items()) or "single run"
        return (f"Sweep({self.model!r}, {shape}, succeeded={len(self.results)}, "
                f"failed={len(self.errors)}, not_run={len(self.not_run)}, cost={self.cost})")

    # --- display ----------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        """A labelled grid of small thumbnails: columns = the last axis, rows = the rest."""
        return sweep_grid.grid_html(self)

    def caption(self) -> str:
        """``9 runs over seed × guidance · 8 done · 1 failed · est. $0.5661 · cost $0.5032``."""
        axes = " × ".join(self.axes) or "no varied parameter"
        parts = [f"{len(self.cells)} runs over {axes}", f"{len(self.results)} done"]
        if self.errors:
            parts.append(f"{len(self.errors)} failed")
        if self.not_run:
            parts.append(f"{len(self.not_run)} not run")
        if self.estimate is not None:
            parts.append(f"est. ${self.estimate:.4f}")
        parts.append(f"cost ${self.cost:.4f}")
        return " · ".join(parts)

    def grid_image(self, *, cell_size: int = 256, font_size: int = 14,
                   title: str | None = None) -> Image.Image:
        """One contact sheet with axis labels, for papers and slides.

        Args:
            cell_size: the longer side of each thumbnail, in pixels.
            font_size: label size.
            title: a line above the grid; default: model and prompt.

        Example:
            >>> sweep.grid_image(cell_size=320).save("guidance-vs-seed.png")
        """
        return sweep_grid.grid_image(self, cell_size=cell_size, font_size=font_size,
                                     title=title)

    def save(self, directory: str | Path, *, sidecar: bool = True) -> list[Path]:
        """Save every result's images with their parameters embedded (see `Result.save`)."""
        paths: list[Path] = []
        for result in self.results:
            paths.extend(result.save(directory, sidecar=sidecar))
        return paths

    def export(self, directory: str | Path, *, cell_size: int = 256) -> Path:
        """Write the images, ``grid.png``, ``sweep.json`` (axes, cells, tasks, costs, errors) and
        ``ledger.jsonl`` (this sweep's ledger events) into ``directory``; returns ``sweep.json``.

        Example:
            >>> sweep.export("paper/figure-3")
        """
        folder = Path(directory).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        saved = {id(r): [p.name for p in r.save(folder)] for r in self.results}
        self.grid_image(cell_size=cell_size).save(folder / "grid.png")
        by_cell = self.by_cell
        record = {
            "model": self.model, "params": self.params, "axes": self.axes,
            "estimate": self.estimate, "cost": self.cost,
            "cells": [{
                "values": dict(cell.values),
                "task_id": by_cell[cell].task_id if cell in by_cell else None,
                "files": saved.get(id(by_cell[cell]), []) if cell in by_cell else [],
                "cost": by_cell[cell].cost if cell in by_cell else None,
                "error": str(self.errors[cell]) if cell in self.errors else None,
                "not_run": cell in self.not_run,
            } for cell in self.cells],
        }
        tokens = {r.token for r in self.results} | {
            str(e.token) for e in self.errors.values() if isinstance(e, TaskError) and e.token}
        with open(folder / "ledger.jsonl", "w", encoding="utf-8") as handle:
            for event in ledger_of(self._client).events():
                if event.get("token") in tokens:
                    handle.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
        path = folder / "sweep.json"
        path.write_text(json.dumps(record, indent=2, default=str, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        return path

    # --- internals --------------------------------------------------------------------------

    def _claim(self) -> None:
        if self._started:
            raise RuntimeError("this sweep has already been started")
        self._started = True

    def _drive(self) -> None:
        """Run the cells on a pool; deliver progress on this thread; cancel all on any exit."""
        try:
            self._emit("start", message=self._start_message())
            workers = min(self.max_concurrency, len(self.cells)) or 1
            with ThreadPoolExecutor(workers, thread_name_prefix="wiro-sweep") as pool:
                futures = [pool.submit(self._run_cell, cell) for cell in self.cells]
                try:
                    self._pump(futures)
                except BaseException:
                    # Ctrl-C or a raising callback: stop everything before leaving.
                    self.cancel()
                    wait_futures(futures)
                    self._deliver(quiet=True)
                    raise
            self._deliver()
            self._emit("done", message=self.caption())
            self._deliver()
        finally:
            self._finished.set()

    def _pump(self, futures: list[Future[None]]) -> None:
        pending = set(futures)
        while pending:
            _, pending = wait_futures(pending, timeout=0.05)
            self._deliver()
        for future in futures:
            future.result()  # a bug in a worker surfaces here rather than vanishing

    def _deliver(self, *, quiet: bool = False) -> None:
        """Hand queued progress to the callback; ``quiet`` drops it (the callback failed)."""
        while True:
            try:
                progress = self._events.get_nowait()
            except queue.Empty:
                return
            if self._on_progress is not None and not quiet:
                self._on_progress(progress)

    def _run_cell(self, cell: Cell) -> None:
        model, params = self.request(cell)
        attempt = 0
        while True:
            if not self._governor.acquire(self._cancel):
                self._drop(cell)
                return
            try:
                task = self._client.submit(model, busy_timeout=0, **params)
            except ConcurrencyLimit as err:
                window = self._governor.busy()
                attempt += 1
                delay = backoff_delay(attempt, BUSY_RETRY, err.retry_after)
                self._emit("busy", cell, f"server busy (code 96): {cell.label} retries in "
                           f"{delay:.1f}s; running {window} at a time")
                if self._cancel.wait(delay):
                    self._drop(cell)
                    return
                continue
            except Exception as err:
                self._governor.release()
                self._fail(cell, err)
                return
            break
        self._governor.accepted()
        with self._lock:
            self._running[cell] = task
        self._emit("submitted", cell, f"{cell.label}: task {task.id} submitted")
        try:
            if self._cancel.is_set():
                # Cancelled while the Run was in flight: stop this task before it runs long.
                self._client.cancel(task)
                raise TaskCancelled("cancelled with its sweep", task_id=task.id, token=task.token)
            result = self._client.wait(task, cancel_event=self._cancel)
        except Exception as err:
            self._fail(cell, err)
        else:
            with self._lock:
                self._by_cell[cell] = result
            self._emit("finished", cell, f"{cell.label}: done (task {result.task_id})")
        finally:
            with self._lock:
                self._running.pop(cell, None)
            self._governor.release()

    def _fail(self, cell: Cell, err: BaseException) -> None:
        with self._lock:
            self.errors[cell] = err
        event = "cancelled" if isinstance(err, TaskCancelled) else "failed"
        self._emit(event, cell, f"{cell.label}: {type(err).__name__}: {err}")

    def _drop(self, cell: Cell) -> None:
        with self._lock:
            self.not_run.append(cell)
        self._emit("cancelled", cell, f"{cell.label}: not run (sweep cancelled)")

    def _emit(self, event: str, cell: Cell | None = None, message: str = "") -> None:
        with self._lock:
            succeeded = len(self._by_cell)
            failed = len(self.errors)
            dropped = len(self.not_run)
            running = len(self._running)
        progress = SweepProgress(
            event=event, total=len(self.cells), succeeded=succeeded, failed=failed,
            not_run=dropped, running=running,
            waiting=len(self.cells) - succeeded - failed - dropped - running,
            estimate=self.estimate, cost=self.cost, window=self._governor.window,
            message=message, cell=cell, sweep=self,
        )
        if event in ("start", "done", "busy", "failed"):
            log.info("sweep: %s", message)
        else:
            log.debug("sweep: %s", message)
        self._events.put(progress)

    def _start_message(self) -> str:
        axes = " × ".join(f"{k}[{len(v)}]" for k, v in self.axes.items()) or "one run"
        cost = f", estimated ${self.estimate:.4f}" if self.estimate is not None else \
            ", cost unknown"
        return f"{len(self.cells)} runs of {self.model} over {axes}{cost}"
