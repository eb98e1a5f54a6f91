"""Starting a sweep: its cells planned, each checked locally, its cost estimated and held
against the budget before the first Run; then it runs.

Running a sweep again (after an interruption, say) would bill again every cell that already
ran: when the ledger holds a successful or still-running task with exactly a cell's
parameters, the sweep is refused with `AlreadyRun` (nothing sent) unless ``rerun=True``.
Resuming only the missing cells is a separate feature; this guard only keeps a second bill
from happening silently.

Example:
    >>> sweep = run_sweep(client, "black-forest-labs/flux-2-flex", prompt="a fox",
    ...                   seed=[1, 2, 3], guidance=[2.5, 4.5, 7.0])
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import AlreadyRun, BudgetExceeded, ValidationError
from ..schema import ModelSpec
from .cells import split_axes
from .client_like import ClientLike, ledger_of
from .notebook_progress import notebook_progress
from .sweep import MODEL_AXIS, Sweep, SweepProgress

__all__ = ["run_sweep"]


def run_sweep(client: ClientLike, model: str | Sequence[str], *, max_concurrency: int = 4,
              on_progress: Callable[[SweepProgress], None] | None = None,
              cancel_event: threading.Event | None = None, rerun: bool = False,
              **params: Any) -> Sweep:
    """Run the product of the list-valued parameters and return the `Sweep`.

    Every cell is checked locally first (nothing is sent when one is invalid), and the count and
    estimated cost are reported before the first Run. When the client has a budget that the
    estimate would pass, `BudgetExceeded` is raised and nothing is sent. When cells already
    ran with the same parameters (the ledger says so), `AlreadyRun` is raised and nothing is
    sent, unless ``rerun`` is True.

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
        rerun: run (and bill) cells again that already ran with the same parameters.
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
    checked = []
    for cell in sweep.cells:
        cell_model, cell_params = sweep.request(cell)
        checked.append((cell_model, client.validate(cell_model, **cell_params)))
    if not rerun:
        _refuse_repeats(client, sweep, checked)
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
    held = float(client.reserved or 0.0)
    if spent + held + sweep.estimate > float(budget) + 1e-9:
        raise BudgetExceeded(
            f"this sweep of {len(sweep.cells)} runs is estimated at ${sweep.estimate:.4f}; with "
            f"${spent:.4f} already spent and ${held:.4f} estimated for tasks that may still "
            f"bill it would pass the budget of ${float(budget):.4f}. Nothing was sent.",
            spent=spent, estimate=sweep.estimate, budget=float(budget),
        )


def _refuse_repeats(client: ClientLike, sweep: Sweep,
                    checked: list[tuple[str, dict[str, Any]]]) -> None:
    """Raise `AlreadyRun` when the ledger holds a task (succeeded, or not ended) with exactly
    the parameters of some cells, sent to this client's server."""
    earlier: dict[tuple[str, str], str] = {}
    here = client.base_url.rstrip("/")
    models = {model for model, _ in checked}
    for entry in ledger_of(client).tasks().values():
        if entry.model not in models or entry.outcome not in (None, "succeeded"):
            continue
        if entry.base_url and entry.base_url.rstrip("/") != here:
            continue
        earlier.setdefault((entry.model, _canonical(entry.params)), entry.task_id)
    repeats = [(cell, earlier[key])
               for cell, (model, params) in zip(sweep.cells, checked, strict=True)
               if (key := (model, _canonical(params))) in earlier]
    if not repeats:
        return
    tasks = tuple(task for _, task in repeats)
    shown = ", ".join(f"{cell.label} (task {task})" for cell, task in repeats[:5])
    more = f" and {len(repeats) - 5} more" if len(repeats) > 5 else ""
    raise AlreadyRun(
        f"{len(repeats)} of the {len(sweep.cells)} runs of this sweep already ran with the "
        f"same parameters: {shown}{more}. Running them again would bill them again, so "
        "nothing was sent. Their results are in client.history() (a task still running is "
        "collected by client.resume()); pass rerun=True to run and bill them all again.",
        tasks=tasks)


def _canonical(params: Mapping[str, Any]) -> str:
    """Parameters as the ledger keeps them (JSON), comparable whatever their origin."""
    return json.dumps(json.loads(json.dumps(params, default=str)), sort_keys=True)
