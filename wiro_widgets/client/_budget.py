"""The client's budget: money spent, money that may be spent, and the refusal in between.

While a task runs its cost is unknown, so its estimate counts against the budget (the worst
case) until it ends and its real cost replaces it. A Run whose outcome is unknown keeps its
estimate reserved: a task may exist and bill.

Example:
    >>> budget = Budget(limit=0.10)
    >>> hold = budget.reserve(0.06)           # before the Run
    >>> budget.assign(hold, "token-1")        # the Run created task token-1
    >>> budget.settle("token-1", cost=0.055)  # it ended
    >>> budget.spent
    0.055
"""

from __future__ import annotations

import threading

from ..errors import BudgetExceeded
from ._config import check_budget

__all__ = ["Budget"]


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

    @property
    def limit(self) -> float | None:
        return self._limit

    @limit.setter
    def limit(self, value: float | None) -> None:
        self._limit = check_budget(value)

    @property
    def spent(self) -> float:
        """USD of the tasks that ended (their ``totalcost``)."""
        with self._lock:
            return round(self._spent, 9)

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
                        "estimated for tasks still running; nothing was sent",
                        spent=self._spent, estimate=cost, budget=self._limit)
            self._reserved[key] = cost
        return key

    def assign(self, key: object, token: str) -> None:
        """The Run created task ``token``: its hold now belongs to the task."""
        with self._lock:
            self._reserved[token] = self._reserved.pop(key, 0.0)

    def release(self, key: object) -> None:
        """Drop a hold (by key or task token) without any charge."""
        with self._lock:
            self._reserved.pop(key, None)

    def settle(self, token: str, cost: float) -> None:
        """Task ``token`` ended: its hold goes and its real cost counts."""
        with self._lock:
            self._reserved.pop(token, None)
            self._spent += cost
