"""The output cache: files kept by content hash under ``<home>/cache`` (``cache/ab/ab12...png``),
so results still load after their URLs expire.

Example:
    >>> digest, path = OutputCache().put(png_bytes, ".png")
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .store import home_dir

__all__ = ["OutputCache"]


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
