"""The sandbox's file store: uploaded inputs under ``/v1/File/<token>/<name>`` and outputs
under ``/cdn/<hash>/<name>``, with expiring output URLs.

Files are looked up by their URL path in a table, never by joining a request path to the
disk: a request can only ever reach a file this store wrote into its own folder.

Example:
    >>> store = FileStore(Path("/tmp/sb"))
    >>> item = store.put_output(png_bytes, "0.png", "image/png", ttl=600)
    >>> store.get(item.url_path).path.read_bytes() == png_bytes
    True
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["FileStore", "StoredFile", "random_token"]

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def random_token(length: int = 30) -> str:
    """An alphanumeric token like Wiro's ``socketaccesstoken`` (30 characters)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


@dataclass(frozen=True)
class StoredFile:
    """One file the sandbox serves.

    Attributes:
        url_path: the path part of its URL (``/cdn/<hash>/0.png``).
        path: where it lives inside the store's folder.
        name: the file name in the URL.
        content_type: its MIME type.
        size: bytes.
        sha256: hex digest of the bytes.
        created: Unix time it was stored.
        expires: Unix time after which it is gone (None: kept while the sandbox runs).
        declared_size: the size it is served as, when larger than the file (a hostile
            output's stream; None: its real size).
    """

    url_path: str
    path: Path
    name: str
    content_type: str
    size: int
    sha256: str
    created: float
    expires: float | None = None
    declared_size: int | None = None

    def expired(self, now: float | None = None) -> bool:
        return self.expires is not None and (now or time.time()) >= self.expires


class FileStore:
    """Files in one folder, served by URL path; outputs expire after their TTL."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        for sub in ("files", "cdn", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}

    # -- writing ----------------------------------------------------------------------------
    def put_input(
        self, token: str, name: str, source: bytes | IO[bytes], content_type: str
    ) -> StoredFile:
        """Store an uploaded file as ``/v1/File/<token>/<name>``."""
        return self._put(f"/v1/File/{token}/{name}", ("files", token, name), source,
                         content_type, None)

    def put_output(self, data: bytes, name: str, content_type: str, ttl: float, *,
                   declared_size: int | None = None) -> StoredFile:
        """Store an output as ``/cdn/<hash>/<name>``, gone after ``ttl`` seconds
        (``declared_size``: served as that many bytes, see `StoredFile`)."""
        raw = secrets.token_hex(32)
        folder = "-".join(raw[i:i + 8] for i in range(0, 64, 8))
        self.sweep()
        return self._put(f"/cdn/{folder}/{name}", ("cdn", folder, name), data, content_type,
                         time.time() + ttl, declared_size)

    def _put(self, url_path: str, parts: tuple[str, str, str], source: bytes | IO[bytes],
             content_type: str, expires: float | None,
             declared_size: int | None = None) -> StoredFile:
        folder = self.root.joinpath(*parts[:2])
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / parts[2]
        digest = hashlib.sha256()
        size = 0
        with path.open("wb") as out:
            if isinstance(source, (bytes, bytearray)):
                out.write(source)
                digest.update(source)
                size = len(source)
            else:
                source.seek(0)
                while chunk := source.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        item = StoredFile(url_path, path, parts[2], content_type, size, digest.hexdigest(),
                          time.time(), expires, declared_size)
        with self._lock:
            self._files[url_path] = item
        return item

    # -- reading ----------------------------------------------------------------------------
    def get(self, url_path: str) -> StoredFile | None:
        """The live file at this URL path, or None (unknown or expired)."""
        with self._lock:
            item = self._files.get(url_path)
        if item is None:
            return None
        if item.expired():
            self._remove([item])
            return None
        return item

    def sweep(self) -> None:
        """Delete expired outputs from disk."""
        now = time.time()
        with self._lock:
            gone = [f for f in self._files.values() if f.expired(now)]
        self._remove(gone)

    def remove(self, url_paths: Iterable[str]) -> None:
        """Forget and delete these files (e.g. inputs of a Run that was refused)."""
        with self._lock:
            items = [self._files[p] for p in url_paths if p in self._files]
        self._remove(items)

    def remove_files(self, paths: Iterable[Path]) -> None:
        """Forget and delete the files stored at these paths on disk."""
        wanted = set(paths)
        with self._lock:
            items = [f for f in self._files.values() if f.path in wanted]
        self._remove(items)

    def _remove(self, items: list[StoredFile]) -> None:
        for item in items:
            with self._lock:
                self._files.pop(item.url_path, None)
            folder = item.path.parent
            item.path.unlink(missing_ok=True)
            # An output folder holds one file; an upload folder may hold several.
            if folder.parent.name == "cdn":
                shutil.rmtree(folder, ignore_errors=True)
