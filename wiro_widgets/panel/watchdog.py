"""The connection's clock: how long since the server was last heard from, and what that means.

The client reports a change (a status, a step) as it sees it, but stays silent while nothing
changes, so silence alone does not mean the server is gone. After a few silent seconds the
watchdog asks the server itself (a cheap Task/Detail read on its own thread): any answer, even
an error answer, is contact. Without contact for ``lost_after`` seconds the connection is
called lost; after ``give_up_after`` seconds the batch stops waiting (the tasks are left
running on the server, recorded as pending, so they can be collected later).

Example:
    >>> dog = Watchdog(lost_after=8, give_up_after=25)
    >>> dog.contact()                               # a TaskUpdate arrived
    >>> dog.check(running=True, probe=lambda: client.detail(task))   # every tick
    None
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Watchdog"]


class Watchdog:
    """Says ``lost``, ``back`` and ``gave_up`` from the time since the last contact.

    Args:
        probe_after: seconds of silence before the server is asked directly.
        lost_after: seconds without contact before the connection is called lost.
        give_up_after: seconds without contact before waiting stops.
        clock: a monotonic clock (tests may pass their own).
    """

    def __init__(self, *, probe_after: float = 3.0, lost_after: float = 8.0,
                 give_up_after: float = 25.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.probe_after = probe_after
        self.lost_after = lost_after
        self.give_up_after = give_up_after
        self._clock = clock
        self._last = clock()
        self._lost = False
        self._gave_up = False
        self._probing = False
        self._lock = threading.Lock()

    @property
    def lost(self) -> bool:
        return self._lost

    def contact(self) -> None:
        """The server was heard from (an update, or any answer to a probe)."""
        with self._lock:
            self._last = self._clock()

    def silent_for(self) -> float:
        """Seconds since the last contact."""
        with self._lock:
            return self._clock() - self._last

    def check(self, *, running: bool, probe: Callable[[], None] | None = None) -> str | None:
        """Judge the silence (call it every tick); returns ``lost``, ``back``, ``gave_up``
        when the verdict changes, else None. ``probe`` asks the server (on its own thread)."""
        if not running:
            self.contact()  # nothing is being waited on: no silence to judge
            return None
        silence = self.silent_for()
        if silence >= self.probe_after and probe is not None:
            self._start_probe(probe)
        if self._gave_up:
            return None
        if not self._lost and silence >= self.lost_after:
            self._lost = True
            return "lost"
        if self._lost and silence < self.lost_after:
            self._lost = False
            return "back"
        if self._lost and silence >= self.give_up_after:
            self._gave_up = True
            return "gave_up"
        return None

    def _start_probe(self, probe: Callable[[], None]) -> None:
        with self._lock:
            if self._probing:
                return
            self._probing = True
        threading.Thread(target=self._run_probe, args=(probe,), name="wiro-probe",
                         daemon=True).start()

    def _run_probe(self, probe: Callable[[], None]) -> None:
        from ..errors import ApiError

        try:
            probe()
            self.contact()
        except ApiError:
            self.contact()  # the server answered, if only to refuse
        except Exception:  # noqa: S110  # unreachable: the silence goes on, which is the point
            pass
        finally:
            with self._lock:
                self._probing = False
