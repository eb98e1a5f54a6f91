"""The run ledger (typed events in a JSON Lines file) and the output cache, on disk under
``WIRO_WIDGETS_HOME``.

Example:
    >>> from wiro_widgets.ledger import Ledger
    >>> for entry in Ledger().tasks().values():
    ...     print(entry.task_id, entry.outcome)
"""

from __future__ import annotations

from .cache import OutputCache
from .events import (
    ClientInfo,
    Detached,
    Event,
    Finished,
    OtherEvent,
    OutputFile,
    RunUnknown,
    Submitted,
    TaskEntry,
    parse_event,
)
from .jobs import JobCell, JobEvent, JobStarted, NotSent, Sending, parse_job_event
from .store import LEDGER_VERSION, Ledger, home_dir

__all__ = [
    "LEDGER_VERSION",
    "ClientInfo",
    "Detached",
    "Event",
    "Finished",
    "JobCell",
    "JobEvent",
    "JobStarted",
    "Ledger",
    "NotSent",
    "OtherEvent",
    "OutputCache",
    "OutputFile",
    "RunUnknown",
    "Sending",
    "Submitted",
    "TaskEntry",
    "home_dir",
    "parse_event",
    "parse_job_event",
]
