"""Research on top of the client: history and resume from the ledger, resumable sweeps and
batches, their export as datasets, comparison.

These helpers take the client as a `ClientLike` (they never import `WiroClient`); the client
offers them as ``client.history()``, ``client.resume()`` and ``client.sweep()``.

Example:
    >>> from wiro_widgets.research import compare, load_history
    >>> compare(load_history(client, limit=3))
"""

from __future__ import annotations

from .batch import Batch, BatchProgress
from .batch_start import run_batch
from .cells import Cell, SweepOver, split_axes, sweep_over
from .client_like import ClientLike, ledger_of
from .comparison import Comparison, compare
from .history import load_history, pending, result_from_entry, resume
from .job_state import JobStatus, read_job
from .pack import PackReport, pack
from .plan import run_sweep
from .runner import JobProgress
from .sweep import Sweep, SweepProgress

__all__ = [
    "Batch",
    "BatchProgress",
    "Cell",
    "ClientLike",
    "Comparison",
    "JobProgress",
    "JobStatus",
    "PackReport",
    "Sweep",
    "SweepOver",
    "SweepProgress",
    "compare",
    "ledger_of",
    "load_history",
    "pack",
    "pending",
    "read_job",
    "result_from_entry",
    "resume",
    "run_batch",
    "run_sweep",
    "split_axes",
    "sweep_over",
]
