"""One task followed by the hub (`_hub`): when to read its ``Task/Detail`` next.

The schedule is `client.wait`'s (`_follow.FollowConfig`): a safety read every
``safety_interval`` while the socket is live; without it, reads from ``first_interval``
growing by ``growth`` while nothing changes, up to ``max_interval``; every
``final_interval`` once a final frame came, until Detail agrees. Only the hub's dispatcher
thread touches a `Watched`.

Example:
    >>> watched = Watched(task, on_end, FollowConfig())
    >>> watched.seen("task_output", FollowConfig(), socket_live=True)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..results import Result, Task
from ._follow import FollowConfig

__all__ = ["Watched"]


class Watched:
    """A followed task, its callback and its read schedule.

    Attributes:
        busy: a Detail read is in flight.
        closing: it ended (or is being stopped): no more reads.
    """

    def __init__(self, task: Task, on_end: Callable[[Result | BaseException], None],
                 config: FollowConfig) -> None:
        self.task = task
        self.on_end = on_end
        self.added = time.monotonic()
        self.interval = config.first_interval
        # Without the socket the first read comes at once (a task followed again may have
        # ended long ago); `start` puts it off while the socket is live, whose first frame
        # repeats the task's status.
        self.next_poll = self.added
        self._safety = config.safety_interval
        self.busy = False
        self.closing = False
        self.final = False
        self.status = ""
        self._pexit_since: float | None = None
        self._unknown_since: float | None = None

    def start(self, socket_live: bool) -> None:
        """Joined the hub's table: with a live socket, the first read is a safety read."""
        if socket_live:
            self.next_poll = time.monotonic() + self._safety

    def schedule(self, interval: float) -> None:
        self.interval = interval
        self.next_poll = time.monotonic() + interval

    def poll_now(self) -> None:
        self.next_poll = time.monotonic()

    def final_frame(self, interval: float) -> None:
        """A frame said the task ended: read Detail now, and often until it agrees."""
        self.final = True
        self.interval = interval
        self.poll_now()

    def socket_lost(self) -> None:
        """Without the socket, fall back to frequent reads."""
        self.next_poll = min(self.next_poll, time.monotonic() + 0.5)

    def seen(self, status: str, config: FollowConfig, *, socket_live: bool) -> None:
        """A read showed a known, running status: schedule the next one."""
        self._unknown_since = None
        changed = status != self.status
        self.status = status
        if self.final:
            self.schedule(config.final_interval)
        elif socket_live:
            self.schedule(config.safety_interval)
        elif changed:
            self.schedule(config.first_interval)
        else:
            self.schedule(min(config.max_interval, self.interval * config.growth))

    def lacks_pexit(self, record: dict[str, Any], config: FollowConfig) -> bool:
        """A finished record without its exit code yet (Detail may lag the end a moment):
        True while that lasts less than ``pexit_grace`` (read again soon)."""
        status = str(record.get("status") or "")
        if status != "task_postprocess_end" or str(record.get("pexit", "")) != "":
            return False
        now = time.monotonic()
        self._pexit_since = self._pexit_since or now
        if now - self._pexit_since < config.pexit_grace:
            self.schedule(config.final_interval)
            return True
        return False

    def unknown_for(self, config: FollowConfig) -> float:
        """Seconds an unknown status has lasted (0 at the first sight)."""
        now = time.monotonic()
        self._unknown_since = self._unknown_since or now
        return now - self._unknown_since
