"""Starting a sweep: its cells planned, each checked locally, its cost estimated and held
against the budget before the first Run; then it runs.

Example:
    >>> sweep = run_sweep(client, "black-forest-labs/flux-2-flex", prompt="a fox",
    ...                   seed=[1, 2, 3], guidance=[2.5, 4.5, 7.0])
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import BudgetExceeded
from ..specs import get_spec
from .cells import Cell, split_axes
from .client_like import ClientLike
from .notebook_progress import notebook_progress
from .sweep import Sweep, SweepProgress

__all__ = ["run_sweep"]


def run_sweep(client: ClientLike, model: str, *, max_concurrency: int = 4,
              on_progress: Callable[[SweepProgress], None] | None = None,
              cancel_event: threading.Event | None = None, **params: Any) -> Sweep:
    """Run the product of the list-valued parameters and return the `Sweep`.

    Every cell is checked locally first (nothing is sent when one is invalid), and the count and
    estimated cost are reported before the first Run. When the client has a budget that the
    estimate would pass, `BudgetExceeded` is raised and nothing is sent.

    Args:
        client: the `WiroClient` to run with.
        model: ``owner/model``.
        max_concurrency: the most runs in flight at once; fewer while the server answers
            code 96.
        on_progress: called with a `SweepProgress` after each change, on this thread.
            Without it, a notebook shows a one-line progress display.
        cancel_event: set it (from another thread) to cancel the whole sweep.
        **params: fixed values, or lists (tuples, ranges) of values to sweep; the model's
            file input (``input_images``) is swept only through `sweep_over`.

    Example:
        >>> sweep = run_sweep(client, "black-forest-labs/flux-2-flex", prompt="a fox",
        ...                   seed=[1, 2, 3], guidance=[2.5, 4.5, 7.0], max_concurrency=4)
        >>> len(sweep.results), sweep.cost
        (9, 0.5661)
    """
    axes, fixed = split_axes(params, get_spec(model))
    sweep = Sweep(client, model, axes, fixed, max_concurrency=max_concurrency,
                  on_progress=on_progress or notebook_progress(), cancel_event=cancel_event)
    for cell in sweep.cells:
        client.validate(model, **{**fixed, **cell.values})
    sweep.estimate = _estimate(client, model, fixed, sweep.cells)
    _check_budget(client, sweep)
    return sweep.run()


def _estimate(client: ClientLike, model: str, fixed: Mapping[str, Any],
              cells: list[Cell]) -> float | None:
    total = 0.0
    for cell in cells:
        one = client.estimate_cost(model, **{**fixed, **cell.values})
        if one is None:
            return None
        total += float(one)
    return round(total, 6)


def _check_budget(client: ClientLike, sweep: Sweep) -> None:
    budget = client.budget
    if budget is None or sweep.estimate is None:
        return
    spent = float(client.spent or 0.0)
    if spent + sweep.estimate > float(budget) + 1e-9:
        raise BudgetExceeded(
            f"this sweep of {len(sweep.cells)} runs is estimated at ${sweep.estimate:.4f}; with "
            f"${spent:.4f} already spent it would pass the budget of ${float(budget):.4f}. "
            "Nothing was sent.",
            spent=spent, estimate=sweep.estimate, budget=float(budget),
        )
