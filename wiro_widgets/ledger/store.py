"""The run ledger: a JSON Lines file of typed events under ``WIRO_WIDGETS_HOME``.

A `Submitted` event is written for every task *before* the client waits on it, and a
`Finished` event when it ends; `RunUnknown` records a Run whose answer was lost (see
`ledger.events` for every kind). Events of one task share its ``token``. Writers in several
threads or processes take a file lock around each append, so lines never interleave.

Example:
    >>> ledger = Ledger()                   # WIRO_WIDGETS_HOME or the user cache dir
    >>> ledger.write(Submitted(task_id="12", token="abc", model="a/b"))
    >>> ledger.tasks()["abc"].is_finished
    False
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock

from ..redaction import redact
from .events import Detached, Event, Finished, RunUnknown, Submitted, TaskEntry, parse_event

__all__ = ["LEDGER_VERSION", "Ledger", "home_dir"]

LEDGER_VERSION = 1


def home_dir(home: str | Path | None = None) -> Path:
    """Where the ledger and cache live: ``home``, else ``WIRO_WIDGETS_HOME``, else the
    platform's user cache dir for ``wiro-widgets``."""
    chosen = home or os.environ.get("WIRO_WIDGETS_HOME") or platformdirs.user_cache_dir(
        "wiro-widgets"
    )
    path = Path(chosen).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


class Ledger:
    """Append-only JSON Lines record of every task, safe across threads and processes.

    Args:
        home: the folder holding ``ledger.jsonl`` (see `home_dir`).
    """

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = home_dir(home)
        self.path = self.home / "ledger.jsonl"
        self._lock = FileLock(str(self.home / "ledger.jsonl.lock"))

    def write(self, event: Submitted | Finished | RunUnknown | Detached) -> dict[str, Any]:
        """Write one typed event (see `ledger.events`); returns the line as written.

        Example:
            >>> ledger.write(Detached(task_id="12", token="abc", reason="timeout"))
        """
        return self.append(event.KIND, **event.fields())

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Write one event line of kind ``event``; returns it as written. Secrets are scrubbed
        from every string. Package code writes typed events with `write`.

        Example:
            >>> ledger.append("note", token="abc", text="checked by hand")
        """
        record = {"v": LEDGER_VERSION, "event": event, "time": round(time.time(), 3), **fields}
        line = redact(json.dumps(record, ensure_ascii=False, default=_jsonable, sort_keys=True))
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            # Text that is not valid Unicode (an unpaired surrogate) still gets its event,
            # escaped: a task the ledger fails to record is a billed task lost to resume().
            line = redact(json.dumps(record, ensure_ascii=True, default=_jsonable,
                                     sort_keys=True))
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return dict(json.loads(line))

    def events(self) -> Iterator[dict[str, Any]]:
        """Every line as written (a dict), in order. A torn last line (a writer killed
        mid-write) is skipped. `read` gives the same events typed."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict):
                    yield event

    def read(self) -> Iterator[Event]:
        """Every event, typed (see `ledger.events.parse_event`), in order.

        Example:
            >>> [e.KIND for e in ledger.read() if isinstance(e, Finished)]
        """
        for raw in self.events():
            yield parse_event(raw)

    def tasks(self) -> dict[str, TaskEntry]:
        """Each task's events merged by token, in the order tasks first appear.

        Example:
            >>> entry = ledger.tasks()["abc"]
            >>> entry.is_finished, entry.outcome, entry.params
        """
        merged: dict[str, TaskEntry] = {}
        for event in self.read():
            token = getattr(event, "token", "")
            if token:
                merged.setdefault(token, TaskEntry(token)).add(event)
        return merged


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)
