"""The run ledger and the output cache, on disk under ``WIRO_WIDGETS_HOME``.

The ledger is a JSON Lines file of events. A ``submitted`` event is written for every task
*before* the client waits on it, and a ``finished`` event when it ends; a ``run_unknown`` event
records a Run whose answer was lost. Events of one task share its ``token``. Writers in several
threads or processes take a file lock around each append, so lines never interleave.

The cache keeps output files by content hash (``cache/ab/ab12...png``), so results still load
after their URLs expire.

Example:
    >>> ledger = Ledger()                   # WIRO_WIDGETS_HOME or the user cache dir
    >>> for event in ledger.events():
    ...     print(event["event"], event.get("task_id"))
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock

from .redaction import redact

__all__ = ["LEDGER_VERSION", "Ledger", "OutputCache", "home_dir"]

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

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Write one event; returns it as written. Secrets are scrubbed from every string.

        Example:
            >>> ledger.append("submitted", task_id="12", token="abc", model="a/b", params={})
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
        """Every event in order. A torn last line (a writer killed mid-write) is skipped."""
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

    def tasks(self) -> dict[str, dict[str, Any]]:
        """Events merged per task token, oldest first: ``submitted`` fields overlaid by the
        ``finished`` ones, with ``finished`` False until the task ended."""
        merged: dict[str, dict[str, Any]] = {}
        for event in self.events():
            token = event.get("token")
            if not token:
                continue
            entry = merged.setdefault(token, {"finished": False})
            kind = event.get("event")
            if kind == "submitted":
                entry.update({k: v for k, v in event.items() if k != "event"})
                entry.setdefault("submitted_time", event.get("time"))
            elif kind == "finished":
                entry.update({k: v for k, v in event.items() if k != "event"})
                entry["finished"] = True
            else:
                entry.setdefault("notes", []).append(event)
        return merged


class OutputCache:
    """Output files kept by SHA-256 under ``<home>/cache``.

    Example:
        >>> cache = OutputCache()
        >>> digest, path = cache.put(png_bytes, suffix=".png")
        >>> cache.path_for(digest, ".png") == path
        True
    """

    def __init__(self, home: str | Path | None = None) -> None:
        self.root = home_dir(home) / "cache"
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, digest: str, suffix: str = "") -> Path:
        return self.root / digest[:2] / f"{digest}{suffix}"

    def put(self, data: bytes, suffix: str = "") -> tuple[str, Path]:
        """Store ``data`` (once per content) and return its digest and path."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest, suffix)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return digest, path

    def get(self, digest: str, suffix: str = "") -> bytes | None:
        """The bytes stored under ``digest``, or None."""
        path = self.path_for(digest, suffix)
        return path.read_bytes() if path.exists() else None


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
