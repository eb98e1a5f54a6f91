"""Starting a sweep: its cells planned, each checked locally, its cost estimated and held
against the budget before the first Run; then it runs as a named, resumable job.

Running the same sweep again (same name: the one given, or the one derived from what it
runs) resumes it: finished cells are reused, running ones followed, only the rest sent (see
`runner`). Another sweep whose cells repeat tasks of the ledger that are not its own (a
succeeded or still-running task with exactly a cell's parameters) would bill them again:
it is refused with `AlreadyRun` (nothing sent) unless ``rerun=True``.

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
from .client_like import ClientLike, ledger_of, reused_result
from .job_state import read_job
from .sweep import MODEL_AXIS, Sweep, SweepProgress

__all__ = ["run_sweep"]


def run_sweep(client: ClientLike, model: str | Sequence[str], *, max_concurrency: int = 4,
              on_progress: Callable[[SweepProgress], None] | None = None,
              cancel_event: threading.Event | None = None, rerun: bool = False,
              name: str | None = None, on_interrupt: str = "detach", progress: bool = True,
              **params: Any) -> Sweep:
    """Run the product of the list-valued parameters as a named job; return the `Sweep`.

    Every cell is checked locally first, then the budget (nothing is sent when either says
    no: `ValidationError`, `BudgetExceeded`). The same sweep run again resumes; cells that
    repeat other tasks of the ledger raise `AlreadyRun` unless ``rerun`` is True.

    Several models make ``model`` the first axis: the same prompt runs on each, and each
    model's parameters are checked by its own spec. A parameter that some of the models lack
    is dropped for those models (noted in ``sweep.notes``): settings such as ``steps`` or
    ``resolution`` belong to one model family, and refusing them would make a comparison
    across families impossible. A parameter no model has is refused.

    Args:
        client: the `WiroClient` to run with.
        model: ``owner/model``, or a list of them.
        max_concurrency: the most runs in flight (fewer while the server answers code 96).
        on_progress: called with a `SweepProgress` after each change, on this thread.
        cancel_event: set it (from another thread) to cancel the whole sweep.
        rerun: run (and bill) every cell again, this sweep's finished ones and other
            tasks of the ledger with the same parameters alike.
        name: the sweep's name in the ledger (default: derived from what it runs).
        on_interrupt: on Ctrl-C (or an exception in ``on_progress``), ``"detach"`` leaves
            running tasks running (the next run collects them) or ``"cancel"`` stops them.
        progress: show a progress bar (a widget in a notebook, text in a terminal).
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
    specs = {m: client.spec(m) for m in models}
    axes, fixed = split_axes(params, specs.values())
    dropped = _dropped(specs, [*axes, *fixed])
    if len(models) > 1:
        axes = {MODEL_AXIS: models, **axes}
    files = next((s.file_param.py_name for s in specs.values() if s and s.file_param), None)
    title = models[0] if len(models) == 1 else " vs ".join(models)
    checked = _checked(client, Sweep(client, title, axes, fixed, file_param=files,
                                     dropped=dropped, checked=[]))
    sweep = Sweep(client, title, axes, fixed, max_concurrency=max_concurrency,
                  on_progress=on_progress, cancel_event=cancel_event, file_param=files,
                  dropped=dropped, name=name, on_interrupt=on_interrupt, progress=progress,
                  rerun=rerun, checked=checked)
    _check_money(client, sweep, checked, rerun)
    return sweep.run()


def _check_money(client: ClientLike, sweep: Sweep, checked: list[tuple[str, dict[str, Any]]],
                 rerun: bool) -> None:
    """Refuse repeats of other tasks, and cells still to run that could pass the budget."""
    record = read_job(ledger_of(client), sweep.name)
    if not rerun:
        _refuse_repeats(client, sweep, checked, record.tokens)
    sweep.estimate = _estimate(client, sweep)
    to_do = [i for i in range(len(sweep.cells)) if rerun or record.state(i) == "to_do"]
    _check_budget(client, sweep, _estimate(client, sweep, to_do), len(to_do))


def _checked(client: ClientLike, plan: Sweep) -> list[tuple[str, dict[str, Any]]]:
    """Each cell's model and parameters, checked (nothing is sent when one is invalid)."""
    checked = []
    for cell in plan.cells:
        model, params = plan.request(cell)
        checked.append((model, client.validate(model, **params)))
    return checked


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


def _estimate(client: ClientLike, sweep: Sweep,
              indices: Sequence[int] | None = None) -> float | None:
    total = 0.0
    for index in range(len(sweep.cells)) if indices is None else indices:
        model, params = sweep.request(sweep.cells[index])
        one = client.estimate_cost(model, **params)
        if one is None:
            return None
        total += float(one)
    return round(total, 6)


def _check_budget(client: ClientLike, sweep: Sweep, estimate: float | None,
                  runs: int) -> None:
    """Refuse when the cells still to run could pass the budget (before any Run)."""
    budget = client.budget
    if budget is None or estimate is None:
        return
    spent = float(client.spent or 0.0)
    held = float(client.reserved or 0.0)
    if spent + held + estimate > float(budget) + 1e-9:
        what = (f"this sweep of {runs} runs" if runs == len(sweep.cells) else
                f"the {runs} runs left of this sweep of {len(sweep.cells)}")
        raise BudgetExceeded(
            f"{what} is estimated at ${estimate:.4f}; with "
            f"${spent:.4f} already spent and ${held:.4f} estimated for tasks that may still "
            f"bill it would pass the budget of ${float(budget):.4f}. Nothing was sent.",
            spent=spent, estimate=estimate, budget=float(budget),
        )


def _refuse_repeats(client: ClientLike, sweep: Sweep,
                    checked: list[tuple[str, dict[str, Any]]], own: set[str]) -> None:
    """Raise `AlreadyRun` when the ledger holds a task (succeeded, or not ended) with exactly
    the parameters of some cells, sent to this client's server, that is not one of this
    sweep's own (``own``: its task tokens, which it resumes)."""
    earlier: dict[tuple[str, str], str] = {}
    here = client.base_url.rstrip("/")
    models = {model for model, _ in checked}
    for entry in ledger_of(client).tasks().values():
        if entry.model not in models or entry.outcome not in (None, "succeeded"):
            continue
        if entry.token in own:
            continue
        if entry.base_url and entry.base_url.rstrip("/") != here:
            continue
        earlier.setdefault((entry.model, _canonical(entry.params)), entry.task_id)
    repeats = [(cell, earlier[key])
               for cell, (model, params) in zip(sweep.cells, checked, strict=True)
               if (key := (model, _canonical(params))) in earlier
               # a client that reuses answers such a cell from the ledger, unbilled
               and reused_result(client, *sweep.request(cell)) is None]
    if not repeats:
        return
    tasks = tuple(task for _, task in repeats)
    shown = ", ".join(f"{cell.label} (task {task})" for cell, task in repeats[:5])
    more = f" and {len(repeats) - 5} more" if len(repeats) > 5 else ""
    raise AlreadyRun(
        f"{len(repeats)} of the {len(sweep.cells)} runs of this sweep already ran with the "
        f"same parameters: {shown}{more}. Running them again would bill them again, so "
        "nothing was sent. Their results are in client.history() (a task still running is "
        "collected by client.resume()); the same sweep run again (same name) resumes instead; "
        "pass rerun=True to run and bill them all again.",
        tasks=tasks)


def _canonical(params: Mapping[str, Any]) -> str:
    """Parameters as the ledger keeps them (JSON), comparable whatever their origin."""
    return json.dumps(json.loads(json.dumps(params, default=str)), sort_keys=True)
