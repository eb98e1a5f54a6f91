"""Counts the reliability suite collects, printed in the test summary and kept in
RELIABILITY.md.

Each test adds what it tried and what it found; `conftest.pytest_terminal_summary` turns the
totals into a table. Counters are process-wide and thread-safe (the fault test runs threads).
"""

from __future__ import annotations

import threading
from collections import Counter

_LOCK = threading.Lock()
COUNTS: Counter[str] = Counter()
#: Extra facts shown under the table (e.g. the fault seed).
NOTES: dict[str, str] = {}


def add(name: str, amount: int = 1) -> None:
    """Add ``amount`` to the counter ``name``."""
    with _LOCK:
        COUNTS[name] += amount


def note(name: str, text: str) -> None:
    """Keep one line of context for the summary."""
    with _LOCK:
        NOTES[name] = text


def snapshot() -> tuple[dict[str, int], dict[str, str]]:
    with _LOCK:
        return dict(COUNTS), dict(NOTES)
