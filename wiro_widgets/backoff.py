"""How long to wait before asking again: one backoff rule for every retry loop.

Reads that failed (`client` transport), Runs refused with code 96, sweeps backing off from
code 96, the WebSocket reconnecting and the stop confirmation's polls all take their delays
from `backoff_delay` with a `RetryPolicy`. A server's ``Retry-After`` always wins (capped).

Example:
    >>> policy = RetryPolicy(base=0.5, cap=4.0)
    >>> [backoff_delay(n, policy, rng=lambda lo, hi: hi) for n in (1, 2, 3, 4, 5)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    >>> backoff_delay(1, policy, retry_after=3.0)
    3.0
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["READ_RETRY", "RetryPolicy", "backoff_delay"]


@dataclass(frozen=True)
class RetryPolicy:
    """How a loop waits between attempts.

    Attributes:
        budget: total seconds spent retrying (attempts stop once it is used up).
        base: the first backoff ceiling in seconds.
        cap: the largest backoff ceiling.
        retry_after_cap: the longest ``Retry-After`` honoured.
        busy: also retry code 96 (concurrency limit).
        growth: the factor the ceiling grows by per attempt.
        jitter: wait a random time up to the ceiling ("full jitter"), so many waiters
            spread apart; False waits the ceiling itself.
    """

    budget: float = 30.0
    base: float = 0.25
    cap: float = 8.0
    retry_after_cap: float = 30.0
    busy: bool = True
    growth: float = 2.0
    jitter: bool = True


#: How reads (Task/Detail, downloads, Cancel/Kill) are retried.
READ_RETRY = RetryPolicy()


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after: float | None = None,
                  rng: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): full jitter over an
    exponential ceiling, or the server's ``Retry-After`` (capped) when it gave one.

    Example:
        >>> 0 <= backoff_delay(3, RetryPolicy()) <= 1.0
        True
    """
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, policy.retry_after_cap)
    ceiling = min(policy.cap, policy.base * policy.growth ** max(0, attempt - 1))
    return rng(0.0, ceiling) if policy.jitter else ceiling
