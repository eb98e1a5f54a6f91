"""Gates: hold sandbox tasks at a chosen status until a test releases them.

A test that must act "while the task is queued" or "while it is generating" should not guess
from the sandbox's scaled clock. A `Gate` makes the moment certain: every task that reaches
the gate's status (or, for ``task_output``, the given step) while the gate is open stops
there, visible to Task/Detail and the WebSocket, until the test releases it. Cancel and
Kill still work on a held task, and end the hold.

Without an open gate nothing is ever held. Closing a gate (the end of its ``with`` block)
releases every task it holds, and so does stopping the sandbox.

Example:
    >>> with sb.gate("task_start") as gate:
    ...     task = client.submit("black-forest-labs/flux-2-flex", prompt="a fox")
    ...     gate.wait_reached(task.id)           # held at task_start: running, not generating
    ...     client.kill(task)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from ..protocol import STATUS_ORDER, TERMINAL_STATUSES

__all__ = ["HOLDABLE", "Gate", "GateKeeper"]

#: The statuses a task can be held at, in Wiro's order: everything before its final status.
HOLDABLE = STATUS_ORDER[: STATUS_ORDER.index("task_postprocess_end")]
_ENDED = TERMINAL_STATUSES

#: The status of a task by id (None: no such task); called with the keeper's lock held.
StatusOf = Callable[[str], str | None]


class Gate:
    """Holds every task that reaches ``status`` (at ``step``) until released.

    Made by `Sandbox.gate`; open from then until `close` (or the end of its ``with`` block).

    Example:
        >>> with sb.gate("task_output", step=3) as gate:
        ...     task = client.submit(model, prompt="a fox", steps=20)
        ...     gate.wait_reached(task.id)        # the third progress frame was sent
        ...     gate.release(task.id)             # carry on
    """

    def __init__(self, keeper: GateKeeper, status: str, step: int | None = None) -> None:
        self._keeper = keeper
        self.status = status
        self.step = step
        self._reached: list[str] = []
        self._released: set[str] = set()
        self._open = True

    # -- the test's side ---------------------------------------------------------------------
    def wait_reached(self, task_id: str | None = None, timeout: float = 30.0) -> str:
        """Block until the task (or, without ``task_id``, any task) is held here; its id.

        Raises:
            TimeoutError: nothing reached the gate within ``timeout`` seconds, or the task
                ended first (a Cancel, or a failure trigger that stops earlier).
        """
        deadline = time.monotonic() + timeout
        with self._keeper.condition:
            while True:
                found = self._first_reached(task_id)
                if found is not None:
                    return found
                ended = self._keeper.status_of(task_id) if task_id is not None else None
                if ended in _ENDED:
                    raise TimeoutError(f"task {task_id} ended ({ended}) before {self}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    what = f"task {task_id}" if task_id is not None else "no task"
                    now = f" (it is at {ended})" if ended else ""
                    raise TimeoutError(f"{what} reached {self} within {timeout:g} s{now}")
                self._keeper.condition.wait(remaining)

    def release(self, task_id: str | None = None) -> None:
        """Let a held task (or, without ``task_id``, every task held here) carry on.

        A released task is not held by this gate again; tasks arriving later still are.
        """
        with self._keeper.condition:
            self._released.update(self._reached if task_id is None else [task_id])
            self._keeper.condition.notify_all()

    def close(self) -> None:
        """Release everything and stop holding new tasks. Safe to call more than once."""
        self._keeper.remove(self)

    @property
    def reached(self) -> list[str]:
        """Ids of the tasks that reached this gate, in order (released ones included)."""
        with self._keeper.condition:
            return list(self._reached)

    @property
    def held(self) -> list[str]:
        """Ids of the tasks held here now (reached, not released, not ended)."""
        with self._keeper.condition:
            return [i for i in self._reached if self.holds(i)
                    and self._keeper.status_of(i) not in _ENDED]

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __str__(self) -> str:
        at = f" step {self.step}" if self.step is not None else ""
        return f"the gate at {self.status}{at}"

    def __repr__(self) -> str:
        state = "open" if self._open else "closed"
        return f"Gate({self.status!r}, step={self.step}, {state}, reached={len(self._reached)})"

    # -- the keeper's side (its lock held) ---------------------------------------------------
    def holds(self, task_id: str) -> bool:
        return self._open and task_id in self._reached and task_id not in self._released

    def _matches(self, status: str, message: Any) -> bool:
        if not self._open or status != self.status:
            return False
        if self.step is None:
            return True
        step = message.get("stepCurrent") if isinstance(message, Mapping) else None
        return str(step) == str(self.step)

    def _note(self, task_id: str, status: str, message: Any) -> bool:
        if task_id in self._reached or not self._matches(status, message):
            return False
        self._reached.append(task_id)
        return True

    def _first_reached(self, task_id: str | None) -> str | None:
        if task_id is None:
            return self._reached[0] if self._reached else None
        return task_id if task_id in self._reached else None


class GateKeeper:
    """The engine's side: the open gates, noting arrivals and holding lifecycle threads.

    Shares the engine's condition (its lock and the notifications sent when a task ends), so
    a status change and its arrival at a gate are one atomic step.

    Example:
        >>> keeper = GateKeeper(engine_condition, status_of)
        >>> keeper.reached(task_id, "task_start", None)   # under the engine's lock
        >>> keeper.hold(task_id, over=lambda: task_has_ended)
    """

    def __init__(self, condition: threading.Condition, status_of: StatusOf) -> None:
        self.condition = condition
        self.status_of = status_of
        self._gates: list[Gate] = []
        self._closed = False

    def open(self, status: str, *, step: int | None = None) -> Gate:
        """A new open gate at ``status`` (``step`` only with ``task_output``)."""
        if status not in HOLDABLE:
            raise ValueError(f"a task cannot be held at {status!r}; use one of "
                             f"{', '.join(HOLDABLE)}")
        if step is not None and (status != "task_output" or step < 1):
            raise ValueError("step (1 or more) goes with task_output only")
        gate = Gate(self, status, step)
        with self.condition:
            if self._closed:
                raise RuntimeError("the sandbox is stopping")
            self._gates.append(gate)
        return gate

    def remove(self, gate: Gate) -> None:
        """Close ``gate``: everything it holds carries on."""
        with self.condition:
            gate._open = False
            if gate in self._gates:
                self._gates.remove(gate)
            self.condition.notify_all()

    def close(self) -> None:
        """Close every gate and refuse new ones (the sandbox is stopping)."""
        with self.condition:
            self._closed = True
            for gate in list(self._gates):
                self.remove(gate)

    def reached(self, task_id: str, status: str, message: Any) -> None:
        """Note that a task reached ``status`` (the caller holds the engine's lock)."""
        noted = False
        for gate in self._gates:
            noted = gate._note(task_id, status, message) or noted
        if noted:
            self.condition.notify_all()

    def hold(self, task_id: str, over: Callable[[], bool]) -> None:
        """Block while an open gate holds the task, unless ``over()`` (ended, stopping)."""
        with self.condition:
            while not over() and any(gate.holds(task_id) for gate in self._gates):
                self.condition.wait()
