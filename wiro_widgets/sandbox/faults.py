"""Fault injection: the sandbox misbehaving on purpose, so clients can be tested against it.

Example:
    >>> sb = Sandbox(faults=Faults(error_rate=0.2, seed=7))       # 20% of responses fail
    >>> sb.set_faults({"lost_run_rate": 1.0})                       # every Run answer is lost
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["FAULT_KINDS", "FaultDice", "Faults"]

#: What a faulty HTTP response can be: a 500 envelope, a 429 envelope with ``Retry-After``,
#: a 200 answer whose JSON is cut off, a connection closed with no answer at all, or a
#: response held back for ``stall_seconds`` (then answered normally).
FAULT_KINDS = ("500", "429", "garbled", "drop", "stall")


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and how often.

    Attributes:
        error_rate: fraction of HTTP responses replaced by one of ``kinds``, chosen at
            random. For Run, the fault happens before any task is created.
        latency: seconds added to every HTTP response.
        lost_run_rate: fraction of Runs whose task is created and then the connection is
            dropped with no answer, so the caller cannot know the task id.
        socket_drop_rate: chance per WebSocket frame that the server closes the connection
            abruptly (no close frame) instead of sending it.
        stall_seconds: how long a ``stall`` fault holds a response.
        retry_after: the ``Retry-After`` seconds sent with a 429 fault.
        kinds: the fault kinds ``error_rate`` picks from (see `FAULT_KINDS`).
        seed: seeds the dice, so a failing pattern can be replayed (None: random).

    Example:
        >>> Faults(error_rate=1.0, kinds=("429",), retry_after=2)
    """

    error_rate: float = 0.0
    latency: float = 0.0
    lost_run_rate: float = 0.0
    socket_drop_rate: float = 0.0
    stall_seconds: float = 2.0
    retry_after: int = 1
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "lost_run_rate", "socket_drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"Faults.{name} must be from 0 to 1, got {value!r}")
        for name in ("latency", "stall_seconds"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"Faults.{name} must not be negative")
        if int(self.retry_after) < 0:
            raise ValueError("Faults.retry_after must not be negative")
        kinds = tuple(str(k) for k in self.kinds)
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(
                f"Faults.kinds must be a non-empty choice of {', '.join(FAULT_KINDS)}; "
                f"got {list(self.kinds)!r}"
            )
        object.__setattr__(self, "kinds", kinds)

    @classmethod
    def coerce(cls, value: Faults | Mapping[str, Any] | None) -> Faults:
        """A `Faults` from itself, a dict of its fields, or None (no faults).

        Example:
            >>> Faults.coerce({"error_rate": 0.5}).error_rate
            0.5
        """
        if value is None:
            return cls()
        if isinstance(value, Faults):
            return value
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {unknown}; known: {sorted(known)}")
        data = dict(value)
        if "kinds" in data:
            kinds = data["kinds"]
            data["kinds"] = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        return cls(**data)

    @property
    def active(self) -> bool:
        """Whether anything can go wrong at all."""
        return bool(
            self.error_rate or self.latency or self.lost_run_rate or self.socket_drop_rate
        )


class FaultDice:
    """The seeded random draws behind `Faults`, safe to share between threads.

    HTTP and WebSocket draws use separate streams, so socket timing never changes which
    HTTP requests fail: with one seed and a serial client the HTTP pattern replays exactly.
    """

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self.faults = faults
        self._http = random.Random(faults.seed)
        self._socket = random.Random(None if faults.seed is None else faults.seed + 1)

    def http_fault(self) -> str | None:
        """The fault kind for this HTTP response, or None for a normal answer."""
        with self._lock:
            if not self.faults.error_rate:
                return None
            if self._http.random() >= self.faults.error_rate:
                return None
            return self._http.choice(self.faults.kinds)

    def lose_run(self) -> bool:
        """Whether this accepted Run's answer is lost."""
        with self._lock:
            return bool(self.faults.lost_run_rate) and (
                self._http.random() < self.faults.lost_run_rate
            )

    def drop_socket(self) -> bool:
        """Whether the socket connection is dropped instead of sending this frame."""
        with self._lock:
            return bool(self.faults.socket_drop_rate) and (
                self._socket.random() < self.faults.socket_drop_rate
            )
