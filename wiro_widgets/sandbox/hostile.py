"""Hostile outputs: what a successful task can return instead of its picture
(``Faults.hostile_output``), to prove a client turns each into a clear error.

- ``nul_in_name``: the picture, but the output's ``name`` holds a NUL byte (``0\\x00.png``);
- ``svg``: an SVG file (``0.svg``, ``image/svg+xml``), not a raster image;
- ``truncated_png``: a PNG cut off half-way (``0.png``, its real, short size declared);
- ``pixel_bomb``: a PNG of a few kilobytes that decodes to 8192 x 8192 pixels (67 MP);
- ``huge_size``: the record declares 2 GiB and the URL streams 2 GiB (a PNG start, then
  zeros) with that ``Content-Length``, until the client hangs up.

Example:
    >>> outputs = make_hostile("svg", outputs, store, ttl=600.0, public_root=root)
    >>> outputs[0]["contenttype"]
    'image/svg+xml'
"""

from __future__ import annotations

import io
import struct
import threading
import zlib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from PIL import Image
from werkzeug.wrappers import Response

from .files import FileStore, StoredFile

__all__ = ["BOMB_SIDE", "HUGE_SIZE", "declared_stream", "make_hostile", "pixel_bomb"]

#: The side of the pixel bomb, in pixels (8192 x 8192 = 67 MP, under Pillow's own guard).
BOMB_SIDE = 8192
#: The size a ``huge_size`` output declares and streams: 2 GiB.
HUGE_SIZE = 2 << 30
_CHUNK = 1 << 20
_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512">'
    b'<rect width="512" height="512" fill="#c81028"/>'
    b'<text x="256" y="256" fill="#fff" font-size="40" text-anchor="middle">SANDBOX SVG</text>'
    b"</svg>"
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


@lru_cache(maxsize=1)
def pixel_bomb() -> bytes:
    """A valid 1-bit greyscale PNG of `BOMB_SIDE` squared pixels, a few kilobytes long.

    Example:
        >>> len(pixel_bomb()) < 20_000
        True
    """
    header = struct.pack(">IIBBBBB", BOMB_SIDE, BOMB_SIDE, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + BOMB_SIDE // 8)  # filter byte, then one bit per pixel
    pixels = zlib.compress(row * BOMB_SIDE, 9)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels)
            + _chunk(b"IEND", b""))


def _as_png(data: bytes) -> bytes:
    if data.startswith(b"\x89PNG"):
        return data
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(data)) as image:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def make_hostile(kind: str, outputs: list[dict[str, Any]], store: FileStore, *, ttl: float,
                 public_root: str) -> list[dict[str, Any]]:
    """The task's outputs with the first one made hostile (``_path`` kept for the engine).

    Raises:
        ValueError: ``kind`` is not one of `faults.HOSTILE_OUTPUTS`.
    """
    if not outputs:
        return outputs
    first = dict(outputs[0])
    if kind == "nul_in_name":
        stem, _, suffix = str(first["name"]).rpartition(".")
        first["name"] = f"{stem}\x00.{suffix}"
        return [first, *outputs[1:]]
    original = store.get(first["_path"])
    picture = original.path.read_bytes() if original is not None else b""
    declared: int | None = None
    if kind == "svg":
        data, name, content_type = _SVG, "0.svg", "image/svg+xml"
    elif kind == "truncated_png":
        whole = _as_png(picture)
        data, name, content_type = whole[: len(whole) // 2], "0.png", "image/png"
    elif kind == "pixel_bomb":
        data, name, content_type = pixel_bomb(), "0.png", "image/png"
    elif kind == "huge_size":
        data, name, content_type, declared = _as_png(picture), "0.png", "image/png", HUGE_SIZE
    else:
        raise ValueError(f"unknown hostile output {kind!r}")
    stored = store.put_output(data, name, content_type, ttl, declared_size=declared)
    store.remove([first["_path"]])
    first.update(name=name, contenttype=content_type, size=str(declared or stored.size),
                 url=public_root + stored.url_path, _path=stored.url_path)
    return [first, *outputs[1:]]


def declared_stream(item: StoredFile, stopping: threading.Event) -> Response:
    """Serve ``item`` as its declared size: its bytes, then zeros, with that Content-Length.

    The stream ends early (the connection closed short) when ``stopping`` is set.
    """
    total = item.declared_size or item.size

    def chunks() -> Iterator[bytes]:
        head = item.path.read_bytes()[:total]
        yield head
        sent = len(head)
        zeros = bytes(_CHUNK)
        while sent < total and not stopping.is_set():
            piece = zeros[: min(_CHUNK, total - sent)]
            yield piece
            sent += len(piece)

    response = Response(chunks(), mimetype=item.content_type, direct_passthrough=True)
    response.headers["Content-Length"] = str(total)
    return response
