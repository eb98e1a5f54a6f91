"""Uploaded reference images, kept as files in a local folder (``wiro-uploads/`` beside the
notebook by default).

A file keeps what a pick in the browser brought in, so "Copy as code" can name it (the code
runs as pasted), "reuse settings" finds the references of earlier runs by their SHA-256, and
the bytes do not stay in the kernel's memory. Names start with the content's hash, so the
same image picked twice is stored once.

Example:
    >>> store = UploadStore("wiro-uploads")
    >>> ref = store.put(Reference.from_bytes("cat.png", png_bytes))
    >>> ref.path
    PosixPath('wiro-uploads/3f2a9c81d0b4-cat.png')
    >>> store.find(ref.sha256) == ref.path
    True
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ..redaction import get_logger
from ..references import Reference

__all__ = ["UploadStore"]

log = get_logger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PREFIX = 12


class UploadStore:
    """A folder of uploaded references, named ``<sha256[:12]>-<name>``.

    Args:
        folder: where the files go (created on the first upload); relative paths are kept
            relative, so generated code runs from the notebook's folder.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def put(self, ref: Reference) -> Reference:
        """Store ``ref``'s bytes and return it backed by the file; unchanged (in memory) when
        it has no bytes, no hash, or the folder cannot be written."""
        if ref.data is None or not ref.sha256:
            return ref
        path = self.folder / f"{ref.sha256[:_PREFIX]}-{_safe(ref.name)}"
        try:
            if not path.is_file() or path.stat().st_size != len(ref.data):
                self.folder.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(path.name + ".part")
                partial.write_bytes(ref.data)
                partial.replace(path)
        except OSError as err:
            log.warning("could not keep %s in %s (%s); it stays in memory", ref.name,
                        self.folder, err)
            return ref
        return dataclasses.replace(ref, path=path, data=None, checked=False)

    def find(self, sha256: str | None) -> Path | None:
        """The stored file with this content hash, if any."""
        if not sha256 or not self.folder.is_dir():
            return None
        return next((p for p in sorted(self.folder.glob(f"{sha256[:_PREFIX]}-*"))
                     if not p.name.endswith(".part")), None)


def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("_", Path(name).name).strip("._") or "image"
    return cleaned[-80:]
