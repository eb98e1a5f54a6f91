"""How many runs of a sweep may be in flight: a window that shrinks on Wiro's code 96 (too
many active tasks) and grows back after a clean run of submissions.

Code 96 means no task was created, so a submission retried after it never duplicates a Run.

Example:
    >>> governor = Governor(4)
    >>> governor.acquire(cancel_event)       # a slot, before submitting
    True
    >>> governor.busy()                      # the server said 96: fewer at a time
    3
"""

from __future__ import annotations

import threading

__all__ = ["Governor"]


class Governor:
    """How many runs may be in flight; shrinks on code 96, grows back after a run of successes.

    A slot is held from just before a submission until its task ends (or the server answered
    code 96, which means no task exists).

    Args:
        limit: the most runs in flight at once.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.window = self.limit
        self.active = 0
        self._streak = 0
        self._cond = threading.Condition()

    def acquire(self, cancel: threading.Event) -> bool:
        """Wait for a slot; False when ``cancel`` was set first."""
        with self._cond:
            while self.active >= self.window and not cancel.is_set():
                # Woken by a release; the timeout only lets a cancel be seen promptly.
                self._cond.wait(0.05)
            if cancel.is_set():
                return False
            self.active += 1
            return True

    def occupy(self) -> None:
        """Count a run already in flight (a task followed again): it takes a slot, even past
        the window."""
        with self._cond:
            self.active += 1

    def accepted(self) -> None:
        """A submission was accepted."""
        with self._cond:
            self._streak += 1
            # Probe for a larger limit (the balance may have grown) after a clean run of submits.
            if self.window < self.limit and self._streak >= 2 * self.window:
                self.window += 1
                self._streak = 0
                self._cond.notify_all()

    def busy(self) -> int:
        """The server refused (code 96): give the slot back and fit the window to what runs."""
        with self._cond:
            self.active -= 1
            self._streak = 0
            self.window = max(1, min(self.window - 1, self.active))
            self._cond.notify_all()
            return self.window

    def release(self) -> None:
        """A run ended: its slot is free."""
        with self._cond:
            self.active -= 1
            self._cond.notify_all()
