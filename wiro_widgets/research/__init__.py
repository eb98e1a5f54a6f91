"""Research on top of the client: history and resume from the ledger, sweeps, comparison.

These helpers take the client as a `ClientLike` (they never import `WiroClient`); the client
offers them as ``client.history()``, ``client.resume()`` and ``client.sweep()``.

Example:
    >>> from wiro_widgets.research import compare, load_history
    >>> compare(load_history(client, limit=3))
"""

from __future__ import annotations

from .cells import Cell, SweepOver, split_axes, sweep_over
from .client_like import ClientLike, ledger_of
from .comparison import Comparison, compare
from .history import load_history, pending, result_from_entry, resume
from .plan import run_sweep
from .sweep import Sweep, SweepProgress

__all__ = [
    "Cell",
    "ClientLike",
    "Comparison",
    "Sweep",
    "SweepOver",
    "SweepProgress",
    "compare",
    "ledger_of",
    "load_history",
    "pending",
    "result_from_entry",
    "resume",
    "run_sweep",
    "split_axes",
    "sweep_over",
]
