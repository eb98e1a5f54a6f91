"""Fault injection: the sandbox misbehaving on purpose, the ways real services and networks do,
so clients can be tested against it.

`Faults` holds the knobs (one frozen value, replaced whole by ``sb.set_faults``); `FaultDice`
makes the seeded random draws behind the rates. What each knob does lives with its concern:
HTTP answers in `misbehave`, hostile outputs in `hostile`, the rest in the task engine.

Example:
    >>> sb = Sandbox(faults=Faults(error_rate=0.2, seed=7))       # 20% of responses fail
    >>> sb.set_faults({"lost_run_rate": 1.0})                       # every Run answer is lost
    >>> sb.set_faults(Faults(kill="refuse", list_delay=5.0))       # Kill refused, late listing
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["ENDPOINTS", "FAULT_KINDS", "HOSTILE_OUTPUTS", "STOP_FAULTS", "FaultDice", "Faults"]

#: What a faulty HTTP response can be: a 500 envelope, a 429 envelope with ``Retry-After``,
#: a 200 answer whose JSON is cut off, a connection closed with no answer at all, or a
#: response held back for ``stall_seconds`` (then answered normally).
FAULT_KINDS = ("500", "429", "garbled", "drop", "stall")

#: Endpoint names for the per-endpoint knobs (``redirect``, ``trickle``): the API path after
#: ``/v1/`` (``Run`` for every ``/v1/Run/{owner}/{model}``), ``output`` for a GET of an output
#: file (``/cdn/...``) and ``file`` for a GET of an uploaded file (``/v1/File/<token>/<name>``).
ENDPOINTS = ("Run", "Task/Detail", "Task/List", "Task/Cancel", "Task/Kill", "File/Upload",
             "Tool/Detail", "Tool/List", "Tool/Explore", "output", "file")

#: What ``cancel`` and ``kill`` can do instead of stopping a task: answer Wiro's code-1
#: refusal, or answer as a success while the task goes on.
STOP_FAULTS = ("refuse", "ignore")

#: The hostile outputs a successful task can have instead of its picture (see `hostile`).
HOSTILE_OUTPUTS = ("nul_in_name", "svg", "truncated_png", "pixel_bomb", "huge_size")

_RATES = ("error_rate", "lost_run_rate", "run_504_rate", "socket_drop_rate",
          "interim_error_rate")
_NON_NEGATIVE = ("latency", "stall_seconds", "list_delay", "trickle_ms", "detail_mb")


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and how often. Every knob is off by default; times are real seconds
    (not divided by the sandbox's ``speed``).

    Attributes:
        error_rate: fraction of HTTP responses replaced by one of ``kinds``, chosen at
            random. For Run, the fault happens before any task is created.
        latency: seconds added to every HTTP response.
        kinds: the fault kinds ``error_rate`` picks from (see `FAULT_KINDS`).
        stall_seconds: how long a ``stall`` fault holds a response.
        retry_after: the ``Retry-After`` seconds sent with a 429 fault.
        lost_run_rate: fraction of Runs whose task is created and then the connection is
            dropped with no answer, so the caller cannot know the task id.
        run_504_rate: fraction of Runs whose task is created and then answered by a
            gateway's HTML page with HTTP 504 (the task goes on).
        clock_skew: seconds added to the server's clock: every timestamp it reports
            (``createtime`` and the other task times, output and upload ``addedtime``) and
            the HTTP ``Date`` header. Negative: the server is behind.
        list_delay: seconds a new task stays out of ``Task/List`` (Detail finds it at once).
        cancel: ``"refuse"``: Task/Cancel answers code 1 "Task is not in a cancellable
            state."; ``"ignore"``: it answers as a success (the record shown as
            ``task_cancel``) but the task goes on. None: Cancel works.
        kill: the same for Task/Kill (its refusal: "Task could not be killed: ...").
        redirect: endpoints (see `ENDPOINTS`) answered with a redirect to another host
            (``sb.other_host``), which records the headers it receives.
        redirect_status: 307 (method and body kept) or 302 (clients turn a POST into a GET).
        trickle: endpoints whose answer body is sent one byte at a time.
        trickle_ms: milliseconds between two bytes of a trickled answer.
        detail_mb: Task/Detail answers padded to about this many megabytes (a model log in
            ``debugoutput``); 0: no padding.
        hostile_output: what a successful task returns instead of its picture (see
            `HOSTILE_OUTPUTS`): an output name with a NUL byte, an SVG, a truncated PNG, a
            small PNG of 67 megapixels, or an output that declares 2 GB and streams it.
        task_error_status: a task that fails before its model runs (the ``error-me``
            prompt) ends at Task/Detail status ``task_error`` (Wiro-MCP's reading) instead
            of the documented ``task_postprocess_end`` with ``pexit "1"``.
        interim_error_rate: chance per progress step of an interim ``task_error`` log frame
            (a stderr warning; the task still succeeds, ``debugerror`` holds the lines).
        socket_drop_rate: chance per WebSocket frame that the server closes the connection
            abruptly (no close frame) instead of sending it.
        seed: seeds the dice, so a failing pattern can be replayed (None: random).

    Example:
        >>> Faults(error_rate=1.0, kinds=("429",), retry_after=2)
        >>> Faults(redirect=("Run", "Task/Detail"), trickle=("output",), trickle_ms=500)
    """

    error_rate: float = 0.0
    latency: float = 0.0
    lost_run_rate: float = 0.0
    socket_drop_rate: float = 0.0
    stall_seconds: float = 2.0
    retry_after: int = 1
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int | None = None
    run_504_rate: float = 0.0
    clock_skew: float = 0.0
    list_delay: float = 0.0
    cancel: str | None = None
    kill: str | None = None
    redirect: tuple[str, ...] = ()
    redirect_status: int = 307
    trickle: tuple[str, ...] = ()
    trickle_ms: float = 1000.0
    detail_mb: float = 0.0
    hostile_output: str | None = None
    task_error_status: bool = False
    interim_error_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"Faults.{name} must be from 0 to 1, got {value!r}")
        for name in _NON_NEGATIVE:
            if float(getattr(self, name)) < 0:
                raise ValueError(f"Faults.{name} must not be negative")
        if int(self.retry_after) < 0:
            raise ValueError("Faults.retry_after must not be negative")
        if self.redirect_status not in (301, 302, 303, 307, 308):
            raise ValueError(f"Faults.redirect_status must be a redirect (307, 302, ...), "
                             f"got {self.redirect_status!r}")
        object.__setattr__(self, "kinds", _choices("kinds", self.kinds, FAULT_KINDS,
                                                   empty=False))
        object.__setattr__(self, "redirect", _choices("redirect", self.redirect, ENDPOINTS))
        object.__setattr__(self, "trickle", _choices("trickle", self.trickle, ENDPOINTS))
        for name, allowed in (("cancel", STOP_FAULTS), ("kill", STOP_FAULTS),
                              ("hostile_output", HOSTILE_OUTPUTS)):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ValueError(f"Faults.{name} must be None or one of {', '.join(allowed)}; "
                                 f"got {value!r}")

    @classmethod
    def coerce(cls, value: Faults | Mapping[str, Any] | None) -> Faults:
        """A `Faults` from itself, a dict of its fields, or None (no faults).

        Example:
            >>> Faults.coerce({"error_rate": 0.5}).error_rate
            0.5
            >>> Faults.coerce({"trickle": "output"}).trickle
            ('output',)
        """
        if value is None:
            return cls()
        if isinstance(value, Faults):
            return value
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(value))

    @property
    def active(self) -> bool:
        """Whether anything can go wrong at all."""
        return self != Faults(stall_seconds=self.stall_seconds, retry_after=self.retry_after,
                              kinds=self.kinds, seed=self.seed,
                              redirect_status=self.redirect_status,
                              trickle_ms=self.trickle_ms)


def _choices(name: str, value: Any, allowed: tuple[str, ...], *,
             empty: bool = True) -> tuple[str, ...]:
    """A tuple of names from a name or a sequence of names, each one of ``allowed``."""
    chosen = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
    unknown = [v for v in chosen if v not in allowed]
    if unknown or (not chosen and not empty):
        need = "a non-empty choice" if not empty else "a choice"
        raise ValueError(f"Faults.{name} must be {need} of {', '.join(allowed)}; "
                         f"got {list(chosen)!r}")
    return chosen


class FaultDice:
    """The seeded random draws behind `Faults`, safe to share between threads.

    HTTP and WebSocket draws use separate streams, so socket timing never changes which
    HTTP requests fail: with one seed and a serial client the HTTP pattern replays exactly.
    Each task draws from its own stream (`task_random`), seeded by the order tasks were
    created in, so concurrent tasks never change each other's pattern.
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
        """Whether this accepted Run's answer is lost (the connection dropped)."""
        return self._http_chance(self.faults.lost_run_rate)

    def gateway_run(self) -> bool:
        """Whether this accepted Run is answered by a gateway's 504 page."""
        return self._http_chance(self.faults.run_504_rate)

    def _http_chance(self, rate: float) -> bool:
        with self._lock:
            return bool(rate) and self._http.random() < rate

    def drop_socket(self) -> bool:
        """Whether the socket connection is dropped instead of sending this frame."""
        with self._lock:
            return bool(self.faults.socket_drop_rate) and (
                self._socket.random() < self.faults.socket_drop_rate
            )

    def task_random(self, ordinal: int) -> random.Random:
        """The random stream of the ``ordinal``-th task created (0 first)."""
        seed = self.faults.seed
        return random.Random(None if seed is None else f"{seed}:task:{ordinal}")
