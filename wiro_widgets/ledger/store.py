"""The run ledger: a JSON Lines file of typed events under ``WIRO_WIDGETS_HOME``.

A `Submitted` event is written for every task *before* the client waits on it, and a
`Finished` event when it ends; `RunUnknown` records a Run whose answer was lost (see
`ledger.events` for every kind). Events of one task share its ``token``. Writers in several
threads or processes take a file lock around each append, so lines never interleave.

Every line stands alone. A write cut short (a full disk, a process killed mid-write) leaves
a fragment without its newline: the next writer starts a new line first, so its event is
never glued onto the fragment. Readers skip lines that are not a JSON object (a fragment,
a tear inside a multi-byte character, any garbage) with one warning naming the file and the
line number, and load everything else.

Example:
    >>> ledger = Ledger()                   # WIRO_WIDGETS_HOME or the user cache dir
    >>> ledger.write(Submitted(task_id="12", token="abc", model="a/b"))
    >>> ledger.tasks()["abc"].is_finished
    False
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock

from ..errors import ConfigError
from ..redaction import get_logger, redact
from .events import Detached, Event, Finished, RunUnknown, Submitted, TaskEntry, parse_event
from .jobs import JobEvent, JobStarted, NotSent, Sending, parse_job_event

__all__ = ["LEDGER_VERSION", "Ledger", "home_dir"]

LEDGER_VERSION = 1
#: Bytes written (and removed) to prove the home can take the events of a run: a
#: ``submitted`` and a ``finished`` line with a long prompt and ten references fit easily.
PROBE_BYTES = 64 * 1024

log = get_logger(__name__)
_WARNED: set[tuple[str, int, int]] = set()
_WARNED_LOCK = threading.Lock()
_THREAD_LOCKS: dict[str, threading.Lock] = {}


def _thread_lock(path: Path) -> threading.Lock:
    """One lock per ledger file for the threads of this process (every `Ledger` of it)."""
    with _WARNED_LOCK:
        return _THREAD_LOCKS.setdefault(str(path.resolve()), threading.Lock())


def home_dir(home: str | Path | None = None, *, create: bool = True) -> Path:
    """Where the ledger and cache live: ``home``, else ``WIRO_WIDGETS_HOME``, else the
    platform's user cache dir for ``wiro-widgets`` (made unless ``create`` is False)."""
    chosen = home or os.environ.get("WIRO_WIDGETS_HOME") or platformdirs.user_cache_dir(
        "wiro-widgets"
    )
    path = Path(chosen).expanduser()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


class Ledger:
    """Append-only JSON Lines record of every task, safe across threads and processes.

    Args:
        home: the folder holding ``ledger.jsonl`` (see `home_dir`). It is made on the first
            write, so a read-only home still reads.
    """

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = home_dir(home, create=False)
        self.path = self.home / "ledger.jsonl"
        self._lock = FileLock(str(self.home / "ledger.jsonl.lock"))
        self._threads = _thread_lock(self.path)

    def write(self, event: Submitted | Finished | RunUnknown | Detached | JobStarted | Sending
              | NotSent) -> dict[str, Any]:
        """Write one typed event (see `ledger.events`, `ledger.jobs`); returns the line as
        written.

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
            data = line.encode("utf-8")
        except UnicodeEncodeError:
            # Text that is not valid Unicode (an unpaired surrogate) still gets its event,
            # escaped: a task the ledger fails to record is a billed task lost to resume().
            line = redact(json.dumps(record, ensure_ascii=True, default=_jsonable,
                                     sort_keys=True))
            data = line.encode("utf-8")
        self.home.mkdir(parents=True, exist_ok=True)
        # Threads of this process queue on a plain lock first: the file lock polls (every
        # 50 ms) when it is taken, which made many threads' lines wait far longer than
        # their writes take. The file lock still keeps other processes' lines apart.
        with self._threads, self._lock, open(self.path, "ab+") as handle:
            handle.write(_fresh_line(handle) + data + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        return dict(json.loads(line))

    def check_writable(self) -> None:
        """Prove that events can be written here now: the folder exists, the ledger opens
        for appending, and `PROBE_BYTES` fit on the disk (written, synced, removed).

        Raises:
            ConfigError: naming the folder and what failed.

        Example:
            >>> Ledger("/read-only/place").check_writable()
            Traceback (most recent call last):
            ConfigError: cannot write the run ledger in /read-only/place (...)
        """
        probe = self.home / f".probe-{os.getpid()}-{threading.get_ident()}"
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab"):
                pass
            with open(probe, "wb") as handle:
                handle.write(b"\0" * PROBE_BYTES)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as err:
            raise ConfigError(
                f"cannot write the run ledger in {self.home} ({err.strerror or err}); "
                "nothing was sent, so nothing was billed. Free some space or fix the "
                "folder's permissions, point WIRO_WIDGETS_HOME (or home=) at a writable "
                "folder, or pass ledger=False to run without a ledger (tasks then cannot "
                "be resumed after a restart)") from None
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()

    def events(self) -> Iterator[dict[str, Any]]:
        """Every line as written (a dict), in order. A line that is not a JSON object (a
        writer killed mid-write, a full disk, garbage) is skipped with a warning. `read`
        gives the same events typed."""
        if not self.path.is_file():
            return
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    event = json.loads(raw.decode("utf-8"))
                except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
                    event = None
                if isinstance(event, dict):
                    yield event
                else:
                    self._skipped(number, raw)

    def read(self) -> Iterator[Event | JobEvent]:
        """Every event, typed (see `ledger.events.parse_event` and
        `ledger.jobs.parse_job_event`), in order.

        Example:
            >>> [e.KIND for e in ledger.read() if isinstance(e, Finished)]
        """
        for raw in self.events():
            yield parse_job_event(raw) or parse_event(raw)

    def tasks(self) -> dict[str, TaskEntry]:
        """Each task's events merged by token, in the order tasks first appear.

        Example:
            >>> entry = ledger.tasks()["abc"]
            >>> entry.is_finished, entry.outcome, entry.params
        """
        merged: dict[str, TaskEntry] = {}
        for event in self.read():
            token = getattr(event, "token", "")
            if token and not isinstance(event, (JobStarted, Sending, NotSent)):
                merged.setdefault(token, TaskEntry(token)).add(event)
        return merged

    def unknown_runs(self) -> list[RunUnknown]:
        """Runs whose outcome is still unknown: `RunUnknown` entries that no `Submitted`
        event has adopted and no `NotSent` closed (by ``run_id``), oldest first.

        Example:
            >>> [run.fingerprint for run in ledger.unknown_runs()]
            ['3f2a9c1b7d4e']
        """
        unknown: dict[str, RunUnknown] = {}
        adopted: set[str] = set()
        for event in self.read():
            if isinstance(event, RunUnknown) and event.run_id:
                unknown[event.run_id] = event
            elif isinstance(event, (Submitted, NotSent)) and event.run_id:
                adopted.add(event.run_id)  # adopted, or proven to have made no task
        return [run for run_id, run in unknown.items() if run_id not in adopted]

    def _skipped(self, number: int, raw: bytes) -> None:
        key = (str(self.path), number, hash(raw))
        with _WARNED_LOCK:
            if key in _WARNED:
                return
            _WARNED.add(key)
        log.warning("%s, line %d: not a complete ledger event (%d bytes; a write cut "
                    "short?); skipped", self.path, number, len(raw))


def _fresh_line(handle: Any) -> bytes:
    """A newline when the file does not end with one (a fragment left by a write cut
    short), so the next event starts a line of its own."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    if size == 0:
        return b""
    handle.seek(size - 1)
    return b"" if handle.read(1) == b"\n" else b"\n"


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
