"""The output cache: files kept by content hash under ``<home>/cache`` (``cache/ab/ab12...png``),
so results still load after their URLs expire.

A file is served only when its bytes still hash to the digest it was stored under: a file
replaced after the fact is reported and never shown (nor saved with the recipe of the
image it replaced). A file is hashed once per process while its size and time stay the same.

Example:
    >>> digest, path = OutputCache().put(png_bytes, ".png")
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from ..redaction import get_logger
from .store import home_dir

__all__ = ["OutputCache", "file_sha256"]

log = get_logger(__name__)
_CHUNK = 1024 * 1024
#: (path, inode, size, mtime) -> the SHA-256 the file had then.
_HASHED: dict[tuple[str, int, int, int], str] = {}
_REPORTED: set[tuple[str, str]] = set()
_LOCK = threading.Lock()


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class OutputCache:
    """Output files kept by SHA-256 under ``<home>/cache``.

    Example:
        >>> cache = OutputCache()
        >>> digest, path = cache.put(png_bytes, suffix=".png")
        >>> cache.path_for(digest, ".png") == path
        True
    """

    def __init__(self, home: str | Path | None = None) -> None:
        self.root = home_dir(home, create=False) / "cache"

    def path_for(self, digest: str, suffix: str = "") -> Path:
        return self.root / digest[:2] / f"{digest}{suffix}"

    def put(self, data: bytes, suffix: str = "") -> tuple[str, Path]:
        """Store ``data`` (once per content) and return its digest and path."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest, suffix)
        if not (path.is_file() and self.verify(path, digest)):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return digest, path

    def get(self, digest: str, suffix: str = "") -> bytes | None:
        """The bytes stored under ``digest`` (None when missing or changed)."""
        path = self.path_for(digest, suffix)
        if not path.is_file():
            return None
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            self._report(path, digest)
            return None
        return data

    def verify(self, path: str | Path, digest: str) -> bool:
        """Whether the file at ``path`` still holds exactly the bytes hashed ``digest``; a
        mismatch is reported once (a warning naming the file).

        Example:
            >>> cache.verify(result.outputs[0].path, result.outputs[0].sha256)
            True
        """
        file = Path(path)
        try:
            stat = file.stat()
            key = (str(file), stat.st_ino, stat.st_size, stat.st_mtime_ns)
            with _LOCK:
                known = _HASHED.get(key)
            if known is None:
                known = file_sha256(file)
                with _LOCK:
                    _HASHED[key] = known
        except OSError:
            return False
        if known == digest.lower():
            return True
        self._report(file, digest)
        return False

    def find(self, digest: str, *, path: str = "", suffixes: Iterable[str] = ()) -> str:
        """The local file holding the output hashed ``digest``: ``path`` when it still does,
        else the cache's copy under one of ``suffixes``; "" when none does.

        Example:
            >>> cache.find(output.sha256, path=output.path, suffixes=[".png"])
            '/home/me/.cache/wiro-widgets/cache/ab/ab12....png'
        """
        candidates = [Path(path)] if path else []
        candidates += [self.path_for(digest, s) for s in dict.fromkeys(suffixes)]
        for candidate in candidates:
            if candidate.is_file() and self.verify(candidate, digest):
                return str(candidate)
        return ""

    @staticmethod
    def _report(path: Path, digest: str) -> None:
        with _LOCK:
            if (str(path), digest) in _REPORTED:
                return
            _REPORTED.add((str(path), digest))
        log.warning("%s no longer holds the output it was saved as (SHA-256 %s...): it was "
                    "changed or replaced after the fact, so it is not served", path,
                    digest[:12])
