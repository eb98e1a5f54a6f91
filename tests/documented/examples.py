"""The documented examples in ``examples/``: read verbatim, with only placeholders rewritten.

Two rewrites, both listed in ``examples/SOURCES.md``, make the documents usable against a local
server, and nothing else is changed:

- the output host ``https://cdn1.wiro.ai/`` becomes the local server's origin, so the client
  downloads a real image of the documented size from it;
- a socket frame's abbreviated token (``"eDcCm5yy..."``, the docs' shorthand for the token of
  their Run example) becomes the full token the client subscribed with.

Example:
    >>> render("run.json", "http://127.0.0.1:8000")[:1]
    '{'
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from functools import lru_cache
from pathlib import Path

from PIL import Image

__all__ = [
    "CDN_PLACEHOLDER",
    "DOCUMENTED_OUTPUT_SIZE",
    "EXAMPLES",
    "content_type",
    "example_text",
    "expand_token",
    "padded_png",
    "render",
]

EXAMPLES = Path(__file__).parent / "examples"
#: The output host of every documented output URL.
CDN_PLACEHOLDER = "https://cdn1.wiro.ai/"
#: ``"size": "202472"``: every documented output announces this many bytes.
DOCUMENTED_OUTPUT_SIZE = 202472
_ABBREVIATED_TOKEN = re.compile(r'"tasktoken": "([A-Za-z0-9]+)\.\.\."')
_TYPES = {".json": "application/json", ".txt": "application/json",
          ".html": "text/html; charset=utf-8"}


def example_text(name: str) -> str:
    """A file of ``examples/`` as written (the final newline of the file is not part of it).

    Example:
        >>> example_text("error-balance-97.json").splitlines()[0]
        '{'
    """
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    return text[:-1] if text.endswith("\n") else text


def render(name: str, origin: str) -> str:
    """The example with its output host pointed at ``origin`` (``http://host:port``)."""
    return example_text(name).replace(CDN_PLACEHOLDER, origin.rstrip("/") + "/")


def expand_token(frame: str, token: str) -> str:
    """Replace an abbreviated ``tasktoken`` (``"eDcCm5yy..."``) with ``token`` when the
    abbreviation is the start of it; other tokens are left alone.

    Example:
        >>> expand_token('{"tasktoken": "abc..."}', "abcdef")
        '{"tasktoken": "abcdef"}'
    """

    def expand(match: re.Match[str]) -> str:
        if token.startswith(match[1]):
            return f'"tasktoken": "{token}"'
        return match[0]

    return _ABBREVIATED_TOKEN.sub(expand, frame)


def content_type(name: str) -> str:
    """The Content-Type an example is served with."""
    return _TYPES.get(Path(name).suffix, "application/octet-stream")


@lru_cache(maxsize=4)
def padded_png(size: int = DOCUMENTED_OUTPUT_SIZE, width: int = 64, height: int = 48) -> bytes:
    """A real ``width`` x ``height`` PNG of exactly ``size`` bytes.

    The documented outputs announce ``"size": "202472"`` and the client checks a download
    against it, so the picture is padded with a ``tEXt`` comment chunk up to that size.
    """
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="PNG")
    plain = buffer.getvalue()
    iend = plain.rindex(b"IEND") - 4  # the chunk starts with its 4-byte length
    padding = size - len(plain) - 12  # a chunk adds length, type and CRC: 12 bytes
    keyword = b"Comment\x00"
    if padding < len(keyword):
        raise ValueError(f"a {width}x{height} PNG does not fit in {size} bytes")
    data = keyword + b"d" * (padding - len(keyword))
    chunk = (struct.pack(">I", len(data)) + b"tEXt" + data
             + struct.pack(">I", zlib.crc32(b"tEXt" + data) & 0xFFFFFFFF))
    png = plain[:iend] + chunk + plain[iend:]
    assert len(png) == size
    return png
