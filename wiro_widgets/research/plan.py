"""Starting a sweep: its cells planned, each checked locally, its cost estimated and held
against the budget before the first Run; then it runs.

Example:
    >>> sweep = run_sweep(client, "black-forest-labs/flux-2-flex", prompt="a fox",
    ...                   seed=[1, 2, 3], guidance=[2.5, 4.5, 7.0])
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import BudgetExceeded, ValidationError
from ..schema import ModelSpec
from .cells import split_axes
from .client_like import ClientLike
from .notebook_progress import notebook_progress
from .sweep import MODEL_AXIS, Sweep, SweepProgress

__all__ = ["run_sweep"]


def run_sweep(client: ClientLike, model: str | Sequence[str], *, max_concurrency: int = 4,
              on_progress: Callable[[SweepProgress], None] | None = None,
              cancel_event: threading.Event | None = None, **params: Any) -> Sweep:
    """Run the product of the list-valued parameters and return the `Sweep`.

    Every cell is checked locally first (nothing is sent when one is invalid), and the count and
    estimated cost are reported before the first Run. When the client has a budget that the
    estimate would pass, `BudgetExceeded` is raised and nothing is sent.

    Several models make ``model`` the first axis: the same prompt runs on each, and each
    model's parameters are checked by its own spec. A parameter that some of the models lack
    is dropped for those models (noted in ``sweep.notes``): settings such as ``steps`` or
    ``resolution`` belong to one model family, and refusing them would make a comparison
    across families impossible. A parameter no model has is refused.

    Args:
        client: the `WiroClient` to run with.
        model: ``owner/model``, or a list of them.
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
    models = [model] if isinstance(model, str) else list(dict.fromkeys(model))
    if not models:
        raise ValueError("model: give at least one model")
    specs = {name: client.spec(name) for name in models}
    axes, fixed = split_axes(params, specs.values())
    dropped = _dropped(specs, [*axes, *fixed])
    if len(models) > 1:
        axes = {MODEL_AXIS: models, **axes}
    files = next((s.file_param.py_name for s in specs.values() if s and s.file_param), None)
    sweep = Sweep(client, models[0] if len(models) == 1 else " vs ".join(models), axes, fixed,
                  max_concurrency=max_concurrency, on_progress=on_progress or notebook_progress(),
                  cancel_event=cancel_event, file_param=files, dropped=dropped)
    for cell in sweep.cells:
        cell_model, cell_params = sweep.request(cell)
        client.validate(cell_model, **cell_params)
    sweep.estimate = _estimate(client, sweep)
    _check_budget(client, sweep)
    return sweep.run()


def _dropped(specs: Mapping[str, ModelSpec | None], names: Sequence[str]
             ) -> dict[str, tuple[str, ...]]:
    """Per model, the parameters it lacks (models without a spec take everything).

    Raises:
        ValidationError: a parameter no model has.
    """
    if len(specs) < 2:
        return {}
    lacking: dict[str, tuple[str, ...]] = {}
    for model, spec in specs.items():
        lacking[model] = tuple(n for n in names if spec is not None and not _has(spec, n))
    for name in names:
        if all(name in lacking[m] for m in specs):
            raise ValidationError(name, "<any value>", "is a parameter of none of the "
                                  f"models swept ({', '.join(specs)})")
    return {m: v for m, v in lacking.items() if v}


def _has(spec: ModelSpec, name: str) -> bool:
    try:
        spec.param(name)
    except KeyError:
        return False
    return True


def _estimate(client: ClientLike, sweep: Sweep) -> float | None:
    total = 0.0
    for cell in sweep.cells:
        model, params = sweep.request(cell)
        one = client.estimate_cost(model, **params)
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
