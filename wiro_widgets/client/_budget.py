"""The client's budget: money spent, money that may be spent, and the refusal in between.

While a task may bill, its estimate counts against the budget (the worst case) until it
ends and its real cost replaces it: a running task, a task whose wait timed out and
detached, a task collected by ``wait(token)`` or ``resume()``, and a Run whose outcome is
unknown all stay reserved. A cost that is missing, malformed or negative is not trusted: the
estimate counts instead, so a cost never lowers the total. A task is counted once, however
often it is waited for.

The estimate is taken from the real output size: a size input of 0 or left out ("match the
reference") means the first reference image's size, as the model does (the largest size
the model allows when that image is a URL whose size is unknown here).

Example:
    >>> budget = Budget(limit=0.10)
    >>> hold = budget.reserve(0.06)           # before the Run
    >>> budget.assign(hold, "token-1")        # the Run created task token-1
    >>> budget.settle("token-1", "0.055")     # it ended
    0.055
    >>> budget.spent
    0.055
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

from PIL import Image

from ..errors import BudgetExceeded
from ..protocol import parse_number
from ..redaction import get_logger
from ..references import Reference
from ..schema import ModelSpec, ParamSpec
from ._config import check_budget
from ._prepare import Prepared

__all__ = ["Budget", "run_estimate"]

log = get_logger("wiro_widgets")


class Budget:
    """Spent and reserved USD of one client; safe across threads.

    Args:
        limit: USD; None for no limit.
    """

    def __init__(self, limit: float | None = None) -> None:
        self._limit = check_budget(limit)
        self._lock = threading.Lock()
        self._spent = 0.0
        self._reserved: dict[object, float] = {}
        self._settled: set[str] = set()

    @property
    def limit(self) -> float | None:
        return self._limit

    @limit.setter
    def limit(self, value: float | None) -> None:
        self._limit = check_budget(value)

    @property
    def spent(self) -> float:
        """USD of the tasks that ended (their ``totalcost``, or the estimate when the
        record's cost could not be trusted)."""
        with self._lock:
            return round(self._spent, 9)

    @property
    def reserved(self) -> float:
        """USD estimated for tasks that may still bill (running, detached, unknown)."""
        with self._lock:
            return round(sum(self._reserved.values()), 9)

    def reserve(self, estimate: float | None) -> object:
        """Hold ``estimate`` for a Run about to be sent; returns the hold's key.

        Raises:
            BudgetExceeded: spent + reserved + this estimate would pass the limit.
        """
        key = object()
        cost = estimate or 0.0
        with self._lock:
            if self._limit is not None:
                running = sum(self._reserved.values())
                if self._spent + running + cost > self._limit + 1e-9:
                    raise BudgetExceeded(
                        f"this run (est. ${cost:.4f}) could pass the budget of "
                        f"${self._limit:.4f}: ${self._spent:.4f} spent and ${running:.4f} "
                        "estimated for tasks that may still bill; nothing was sent",
                        spent=self._spent, estimate=cost, budget=self._limit)
            self._reserved[key] = cost
        return key

    def assign(self, key: object, new_key: str) -> None:
        """Move a hold to ``new_key``: the task token the Run created (or a lost Run's
        ledger id, until its task is found)."""
        with self._lock:
            if key in self._reserved:
                self._reserved[new_key] = self._reserved.pop(key)

    def knows(self, token: str) -> bool:
        """Whether task ``token`` is held or was counted already."""
        with self._lock:
            return token in self._reserved or token in self._settled

    def hold(self, token: str, estimate: float | None) -> None:
        """Count task ``token`` as possibly billing, unless it is held or counted already
        (a task waited for by token, or resumed, after another wait left it running). The
        task exists already, so this never refuses."""
        with self._lock:
            if token in self._reserved or token in self._settled:
                return
            self._reserved[token] = estimate or 0.0

    def release(self, key: object) -> None:
        """Drop a hold (by key or task token) without any charge: nothing was created."""
        with self._lock:
            self._reserved.pop(key, None)

    def settle(self, token: str, totalcost: Any) -> float:
        """Task ``token`` ended: its hold goes and its cost counts, once. Returns the USD
        counted (0 when it was counted before).

        Args:
            token: the task token.
            totalcost: the record's ``totalcost`` as it came. Missing, malformed or
                negative: the task's estimate counts instead (the worst case).
        """
        cost = parse_number(totalcost)
        with self._lock:
            if token in self._settled:
                return 0.0
            held = self._reserved.pop(token, 0.0)
            if cost is None or not math.isfinite(cost) or cost < 0:
                if totalcost not in (None, ""):
                    log.warning("task record gave the cost %r; counting the estimate $%.4f",
                                str(totalcost)[:40], held)
                cost = held
            self._spent += cost
            self._settled.add(token)
        return cost


def run_estimate(prepared: Prepared) -> float | None:
    """The USD estimate of one Run, from the output size the model will really make.

    Example:
        >>> run_estimate(prepare(MODEL, {"prompt": "a", "width": 0, "height": 0,
        ...                              "input_images": ["2048x2048.png"]}))
        0.251658
    """
    spec = prepared.spec
    if spec is None or spec.form.size is None:
        return prepared.estimate
    refs = list(prepared.body.files.get(spec.file_param.name, [])) if spec.file_param else []
    width, height = (spec.param(name) for name in spec.form.size)
    first = _pixels(refs[0]) if refs else None
    size = [_output_side(param, prepared.body.fields.get(param.name), refs, first, axis)
            for axis, param in enumerate((width, height))]
    params = {**prepared.params, width.py_name: size[0], height.py_name: size[1]}
    estimate = _estimate(spec, params)
    return prepared.estimate if estimate is None else estimate


def _output_side(param: ParamSpec, sent: Any, refs: Sequence[Reference],
                 first: tuple[int, int] | None, axis: int) -> float:
    """One side of the output: what was sent, else what the model takes in its place."""
    value = parse_number(sent)
    if value:
        return value
    if refs and param.zero_means:
        # 0 or left out: the first reference's size, as the model does; the largest size
        # allowed when it cannot be known here (a URL).
        largest = param.maximum or 2048
        return min(first[axis], largest) if first else largest
    return parse_number(param.default) or 0.0


def _pixels(ref: Reference) -> tuple[int, int] | None:
    if ref.width and ref.height:
        return ref.width, ref.height
    if ref.is_url:
        return None
    try:
        with ref.open() as handle, Image.open(handle) as image:
            width, height = image.size
            return int(width), int(height)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        log.debug("could not read the size of %s: %s", ref.name, err)
        return None


def _estimate(spec: ModelSpec, params: dict[str, Any]) -> float | None:
    try:
        return spec.estimate_cost(params)
    except (TypeError, ValueError):
        return None
