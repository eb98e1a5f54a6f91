"""One process runs a named job at a time: a lock file per job under ``<home>/jobs``.

Two notebooks running the same batch would send its cells twice; the second is refused
with `JobBusy` instead. The lock is the operating system's (``filelock``), so a process
that dies, even by SIGKILL, releases it.

Example:
    >>> with job_lock(client.home, "fox-study"):
    ...     ...                       # nothing else runs "fox-study" meanwhile
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import JobBusy

__all__ = ["job_file_stem", "job_lock"]


def job_file_stem(name: str) -> str:
    """A file name for a job's name: readable, and distinct for distinct names.

    Example:
        >>> job_file_stem("guidance study #2")
        'guidance-study-2-5f1c0e9a'
    """
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:60] or "job"
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


@contextmanager
def job_lock(home: Path, name: str) -> Iterator[None]:
    """Hold job ``name``'s lock for the block.

    Raises:
        JobBusy: another process (or thread) runs the job now.
    """
    folder = Path(home) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / f"{job_file_stem(name)}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise JobBusy(f"{name!r} is running in another process or thread now; wait for it "
                      "to end (or stop it) before running it here") from None
    try:
        yield
    finally:
        lock.release()
