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
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import TaskError
from ..ledger import OutputCache
from ..protocol import parse_number
from ..redaction import get_logger
from ..results import Result
from ..specs import get_spec
from . import sweep_grid
from .cells import Cell
from .client_like import ClientLike, ledger_of
from .export import ExportItem, export_items
from .job_names import derived_name, job_digest
from .job_results import error_of, result_of
from .job_state import CellState, JobStatus, read_job
from .runner import BUSY_RETRY, JobProgress, JobRunner

__all__ = ["BUSY_RETRY", "MODEL_AXIS", "Sweep", "SweepProgress"]

#: The axis name of a sweep across models (``client.sweep(model=[...])``).
MODEL_AXIS = "model"

log = get_logger(__name__)


@dataclass(frozen=True)
class SweepProgress:
    """What a sweep is doing, passed to ``on_progress`` after every change.

    Attributes:
        event: ``start``, ``submitted``, ``busy`` (code 96, backing off), ``finished``,
            ``failed``, ``cancelled`` or ``done``.
        reused: cells that ended in an earlier run of the sweep (counted in the others).
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
    reused: int = 0

    @property
    def done(self) -> int:
        """Cells that ended, either way."""
        return self.succeeded + self.failed + self.not_run

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


class Sweep:
    """The runs of a parameter sweep, laid out on its axes; a named, resumable job.

    Build it with `run_sweep` (or ``client.sweep``). Its cells are recorded in the ledger
    under its ``name`` (derived from what it runs when not given): running the same sweep
    again, after an exception, a Ctrl-C, a kernel restart or a killed process, follows the
    cells still running, reuses the finished ones and sends only the rest. While it runs,
    `cancel` stops it as a whole: unsent cells are dropped and every running task is
    cancelled through the client.

    Attributes:
        name: the sweep's name in the ledger.
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
        reused: cells whose result (or failure) came from an earlier run of the sweep.
    """

    kind = "sweep"

    def __init__(self, client: ClientLike, model: str, axes: Mapping[str, list[Any]],
                 params: Mapping[str, Any], *, max_concurrency: int = 4,
                 on_progress: Callable[[SweepProgress], None] | None = None,
                 cancel_event: threading.Event | None = None,
                 estimate: float | None = None, file_param: str | None = None,
                 dropped: Mapping[str, tuple[str, ...]] | None = None,
                 name: str | None = None, on_interrupt: str = "detach",
                 progress: bool = True, rerun: bool = False,
                 checked: list[tuple[str, dict[str, Any]]] | None = None) -> None:
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
        self.reused: list[Cell] = []
        self.estimate = estimate
        self.max_concurrency = max(1, int(max_concurrency))
        self._client = client
        self._on_progress = on_progress
        self._cancel = cancel_event or threading.Event()
        self._on_interrupt, self._progress, self._rerun = on_interrupt, progress, rerun
        self._checked = checked
        self.digest = ""
        self.name = name or ""
        self._by_cell: dict[Cell, Result] = {}
        self._lock = threading.Lock()
        self._runner: JobRunner | None = None
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()
        self._started = False
        self._plan()

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

    # --- the job ----------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self.cells)

    @property
    def source(self) -> str:
        return ""

    @property
    def excluded(self) -> int:
        return 0

    def cells_to_run(self, wanted: Callable[[int], bool]
                     ) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(index, model, parameters) of the cells ``wanted`` accepts (the runner's plan)."""
        for index, cell in enumerate(self.cells):
            if wanted(index):
                yield (index, *self.request(cell))

    def label(self, index: int) -> str:
        return self.cells[index].label

    def restored(self, state: CellState) -> None:
        cell = self.cells[state.index]
        with self._lock:
            self.reused.append(cell)
            if state.state == "done":
                self._by_cell[cell] = result_of(state, OutputCache(ledger_of(self._client).home))
            else:
                self.errors[cell] = error_of(state)

    def ended(self, index: int, outcome: Result | BaseException) -> None:
        cell = self.cells[index]
        with self._lock:
            if isinstance(outcome, Result):
                self._by_cell[cell] = outcome
            else:
                self.errors[cell] = outcome

    def not_sent(self, index: int) -> None:
        with self._lock:
            self.not_run.append(self.cells[index])

    def status(self) -> JobStatus:
        """Done / running / to do / failed, and the spend, as the ledger says now.

        Example:
            >>> client.sweep(MODEL, prompt="a fox", seed=[1, 2, 3], name="foxes").status()
            JobStatus('foxes': 3 done, 0 running, 0 to do, 0 failed, $0.1887 spent)
        """
        return read_job(ledger_of(self._client), self.name).status(len(self.cells))

    def _plan(self) -> None:
        checked = self._checked or [self.request(cell) for cell in self.cells]
        self.digest = job_digest(checked)
        self.name = self.name or derived_name("sweep", self.models, self.digest)

    # --- running ----------------------------------------------------------------------------

    def run(self) -> Sweep:
        """Run every cell still to do and return when all have ended; ``on_progress`` runs
        on this thread.

        Ctrl-C (a kernel interrupt) stops sending; the running tasks go on (run the sweep
        again to collect them) or, with ``on_interrupt="cancel"``, are cancelled. Then it
        re-raises.
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

    def grid_image(self, *, cell_size: int = 256, font_size: int | None = None,
                   title: str | None = None) -> Image.Image:
        """One contact sheet with axis labels, for papers and slides.

        Args:
            cell_size: the longer side of each thumbnail, in pixels.
            font_size: label size (default: a 14th of ``cell_size``, at least 12 px,
                readable on a projector).
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

    def export(self, directory: str | Path, *, format: str = "imagefolder",
               cell_size: int = 256) -> Path:
        """Write the sweep as a dataset into ``directory``.

        ``format="imagefolder"`` (the default) writes Hugging Face's ``imagefolder``
        layout (``images/`` and ``metadata.jsonl``: file name, every parameter, model,
        seed, task id, cost, timestamps; see `research.export`), plus ``grid.png``,
        ``sweep.json`` (axes, cells, tasks, costs, errors) and ``ledger.jsonl`` (this
        sweep's ledger events); returns ``sweep.json``. ``format="parquet"`` writes
        ``data.parquet`` with the images embedded and returns it.

        Example:
            >>> sweep.export("paper/figure-3")
            >>> datasets.load_dataset("imagefolder", data_dir="paper/figure-3")
        """
        folder = Path(directory).expanduser()
        by_cell = self.by_cell
        index = {cell: i for i, cell in enumerate(self.cells)}

        def items() -> Iterator[ExportItem]:
            for cell, result in by_cell.items():
                yield ExportItem(index[cell], result, self.name,
                                 {"cell": cell.label} if self.axes else {})

        written = export_items(items, folder, format=format)
        if format == "parquet":
            return written
        self.grid_image(cell_size=cell_size).save(folder / "grid.png")
        files = _files_by_index(written)
        path = folder / "sweep.json"
        path.write_text(json.dumps(self._summary(files), indent=2, default=str,
                                   ensure_ascii=False) + "\n", encoding="utf-8")
        self._export_ledger(folder / "ledger.jsonl")
        return path

    def _summary(self, files: Mapping[int, list[str]]) -> dict[str, Any]:
        by_cell = self.by_cell
        return {
            "name": self.name, "model": self.model, "params": self.params, "axes": self.axes,
            "estimate": self.estimate, "cost": self.cost,
            "cells": [{
                "values": dict(cell.values),
                "task_id": by_cell[cell].task_id if cell in by_cell else None,
                "files": files.get(i, []),
                "cost": by_cell[cell].cost if cell in by_cell else None,
                "error": str(self.errors[cell]) if cell in self.errors else None,
                "not_run": cell in self.not_run,
            } for i, cell in enumerate(self.cells)],
        }

    def _export_ledger(self, path: Path) -> None:
        tokens = {r.token for r in self.results} | {
            str(e.token) for e in self.errors.values() if isinstance(e, TaskError) and e.token}
        with open(path, "w", encoding="utf-8") as handle:
            for event in ledger_of(self._client).events():
                if event.get("token") in tokens:
                    handle.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")

    # --- internals --------------------------------------------------------------------------

    def _claim(self) -> None:
        if self._started:
            raise RuntimeError("this sweep has already been started")
        self._started = True

    def _drive(self) -> None:
        """Run the job; deliver progress on this thread."""
        try:
            self._runner = JobRunner(
                self._client, self, self, max_concurrency=self.max_concurrency,
                on_progress=self._relay, cancel_event=self._cancel,
                on_interrupt=self._on_interrupt, progress=self._progress, fresh=self._rerun)
            self._runner.run()
        finally:
            self._finished.set()

    def _relay(self, progress: JobProgress) -> None:
        if self._on_progress is None:
            return
        cell = self.cells[progress.index] if progress.index is not None else None
        message = self.caption() if progress.event == "done" else progress.message
        self._on_progress(SweepProgress(
            event=progress.event, total=progress.total, succeeded=progress.succeeded,
            failed=progress.failed, not_run=progress.not_run, running=progress.running,
            waiting=progress.waiting, estimate=progress.estimate, cost=progress.cost,
            window=progress.window, message=message, cell=cell, sweep=self,
            reused=progress.reused))


def _files_by_index(metadata: Path) -> dict[int, list[str]]:
    """Cell index -> the image files written for it (from ``metadata.jsonl``)."""
    files: dict[int, list[str]] = {}
    with open(metadata, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            files.setdefault(int(row["index"]), []).append(str(row["file_name"]))
    return files
