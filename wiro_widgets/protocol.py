"""Every fact about Wiro's wire format, once: statuses, the success rule, outcomes, error
codes, record fields, number parsing and the loopback rule.

The client, live following, history, sweeps, the panel and the sandbox all read these facts
from here, so they cannot disagree. This module imports nothing of the package.

Where Wiro's own sources disagree (``reference/official-clients.md`` section 9), the comment
at the fact says which reading this package follows.

Example:
    >>> from wiro_widgets import protocol
    >>> protocol.succeeded({"status": "task_postprocess_end", "pexit": "0"})
    True
    >>> protocol.outcome_of({"status": "task_cancel"})
    'cancelled'
    >>> protocol.parse_number("4.5"), protocol.parse_number(""), protocol.parse_number("x")
    (4.5, None, None)
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from typing import Any, Final, Literal
from urllib.parse import urlsplit

__all__ = [
    "CANCELLABLE_STATUSES",
    "FINAL_FRAMES",
    "KILLABLE_STATUSES",
    "KNOWN_STATUSES",
    "LOG_FRAMES",
    "MAX_UPLOAD_BYTES",
    "OUTCOMES",
    "STATUS_ORDER",
    "STATUS_RANK",
    "TERMINAL_STATUSES",
    "TIMESTAMP_FIELDS",
    "ErrorCode",
    "Outcome",
    "cancel_body",
    "detail_key",
    "is_loopback_url",
    "kill_body",
    "outcome_of",
    "parse_number",
    "parse_seed",
    "succeeded",
    "timeline_of",
]

# -- statuses -------------------------------------------------------------------------------

#: Wiro's documented status order (tasks.md), first to last.
STATUS_ORDER: Final = (
    "task_queue",
    "task_accept",
    "task_preprocess_start",
    "task_preprocess_end",
    "task_assign",
    "task_start",
    "task_output",
    "task_output_full",
    "task_end",
    "task_postprocess_start",
    "task_postprocess_end",
)
#: Statuses after which a task never changes. ``task_error`` is terminal only as a
#: Task/Detail *status*: section 9 has the docs and the SDKs call it an interim stderr line
#: and Wiro-MCP call it a failure; we follow Wiro-MCP for Detail's status and the docs for
#: socket frames (a ``task_error`` frame is a log line that prompts a Detail read).
TERMINAL_STATUSES: Final = frozenset({"task_postprocess_end", "task_cancel", "task_error"})
#: Statuses in which Task/Cancel works: still queued, no worker assigned yet.
CANCELLABLE_STATUSES: Final = frozenset(STATUS_ORDER[: STATUS_ORDER.index("task_assign")])
#: Statuses in which Task/Kill works: a worker is assigned and the model has not ended.
KILLABLE_STATUSES: Final = frozenset(
    STATUS_ORDER[STATUS_ORDER.index("task_assign"): STATUS_ORDER.index("task_end")])
#: Every status or frame type a client may see; anything else in Task/Detail is unknown.
KNOWN_STATUSES: Final = frozenset(STATUS_ORDER) | TERMINAL_STATUSES | {
    "task_error_full", "task_stream_ready", "task_stream_end", "task_cost",
}
#: Socket frames after which Task/Detail is read at once for the final word. Section 9: the
#: docs name ``task_postprocess_end`` as the last frame while their sample code closes on
#: ``task_end``; both count here, and the verdict always comes from Task/Detail (frames carry
#: no ``pexit``).
FINAL_FRAMES: Final = frozenset({"task_postprocess_end", "task_cancel", "task_end",
                                 "task_error_full"})
#: Socket frames that carry the model's stderr: log lines, never a verdict. The docs call a
#: ``task_error`` frame "an interim log event, not a final failure... the task may still
#: complete successfully" and every SDK maps it to a non-terminal status (section 9); only
#: Task/Detail's final record decides how a task ended.
LOG_FRAMES: Final = frozenset({"task_error", "task_error_full"})
#: Position of each status, for "never go backwards"; cancel and error rank last.
STATUS_RANK: Final[Mapping[str, int]] = {
    **{status: i for i, status in enumerate(STATUS_ORDER)},
    "task_cancel": len(STATUS_ORDER),
    "task_error": len(STATUS_ORDER),
}
#: The task record's time fields, by the status they stamp (Unix seconds as strings).
TIMESTAMP_FIELDS: Final[Mapping[str, str]] = {
    "task_queue": "createtime",
    "task_accept": "accepttime",
    "task_preprocess_start": "preprocessstarttime",
    "task_preprocess_end": "preprocessendtime",
    "task_assign": "assigntime",
    "task_start": "starttime",
    "task_end": "endtime",
    "task_postprocess_start": "postprocessstarttime",
    "task_postprocess_end": "postprocessendtime",
    "task_cancel": "canceltime",
}

# -- outcomes -------------------------------------------------------------------------------

Outcome = Literal["succeeded", "failed", "moderated", "cancelled", "error", "timeout"]
#: How a task ended, as the ledger and the errors name it.
OUTCOMES: Final[tuple[Outcome, ...]] = ("succeeded", "failed", "moderated", "cancelled",
                                        "error", "timeout")


def succeeded(record: Mapping[str, Any]) -> bool:
    """Wiro's success rule: ``task_postprocess_end`` with ``pexit`` ``"0"``.

    Example:
        >>> succeeded({"status": "task_postprocess_end", "pexit": "1"})
        False
    """
    return (str(record.get("status")) == "task_postprocess_end"
            and str(record.get("pexit")) == "0")


def outcome_of(record: Mapping[str, Any]) -> Outcome:
    """The outcome of a terminal task record (moderation is read from ``debugerror``).

    Example:
        >>> outcome_of({"status": "task_postprocess_end", "pexit": "1",
        ...             "debugerror": "Request Moderated: ..."})
        'moderated'
    """
    status = str(record.get("status") or "")
    if succeeded(record):
        return "succeeded"
    if status == "task_cancel":
        return "cancelled"
    if status == "task_error":
        return "error"
    if "moderated" in str(record.get("debugerror") or "").lower():
        return "moderated"
    return "failed"


# -- errors and limits ----------------------------------------------------------------------


class ErrorCode:
    """Wiro's error codes (``errors[0].code`` of a ``result: false`` envelope)."""

    VALIDATION: Final = 0
    NOT_FOUND: Final = 1
    CONCURRENCY_LIMIT: Final = 96
    INSUFFICIENT_BALANCE: Final = 97
    SIGN_IN: Final = 98
    UNAUTHORIZED: Final = 99


#: Wiro's documented upload limit per file.
MAX_UPLOAD_BYTES: Final = 100 * 1024 * 1024

# -- request keys ---------------------------------------------------------------------------


def detail_key(task_id: str, token: str = "") -> dict[str, str]:
    """The Task/Detail body naming a task: its id when known, else its token.

    Example:
        >>> detail_key("", "abc")
        {'tasktoken': 'abc'}
    """
    return {"taskid": task_id} if task_id else {"tasktoken": token}


def cancel_body(task_id: str, token: str) -> dict[str, str]:
    """The Task/Cancel body. Section 9: the docs name ``tasktoken``, the SDKs ``taskid``;
    both are sent, so either reading of the server finds the task."""
    return {"taskid": task_id, "tasktoken": token}


def kill_body(task_id: str, token: str) -> dict[str, str]:
    """The Task/Kill body: ``taskid`` and ``socketaccesstoken`` (section 9, as for Cancel)."""
    return {"taskid": task_id, "socketaccesstoken": token}


# -- values ---------------------------------------------------------------------------------


def parse_number(value: Any) -> float | None:
    """A number from a record field (Wiro sends numbers as strings); None when the value is
    missing, empty, a bool, not a number, or not finite. Callers pick their own default.

    Example:
        >>> parse_number("0.0629"), parse_number(3), parse_number(None), parse_number("nan")
        (0.0629, 3.0, None, None)
    """
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def parse_seed(value: Any) -> int | None:
    """A seed from a parameter value: a whole number, else None.

    Example:
        >>> parse_seed("123"), parse_seed(7.0), parse_seed(2.5), parse_seed(None)
        (123, 7, None, None)
    """
    number = parse_number(value)
    return int(number) if number is not None and number.is_integer() else None


def timeline_of(record: Mapping[str, Any]) -> dict[str, float]:
    """Status -> Unix time, from a task record's time fields (unset ones left out).

    Example:
        >>> timeline_of({"createtime": "1700000000", "starttime": "0"})
        {'task_queue': 1700000000.0}
    """
    timeline: dict[str, float] = {}
    for status, key in TIMESTAMP_FIELDS.items():
        when = parse_number(record.get(key))
        if when:
            timeline[status] = when
    return timeline


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is this machine: ``localhost`` (and ``*.localhost``), any
    address in 127.0.0.0/8, or ``::1``.

    Example:
        >>> is_loopback_url("http://127.0.0.2:8000/v1"), is_loopback_url("https://api.wiro.ai")
        (True, False)
    """
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
