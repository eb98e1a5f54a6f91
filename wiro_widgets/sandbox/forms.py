"""Request bodies: JSON, ``multipart/form-data`` or urlencoded, read into one ordered list of
fields so that repeated file and URL parts keep the order the client sent them in.

Multipart bodies go through werkzeug's streaming ``MultipartDecoder`` (the parser behind
``request.files``) rather than ``request.form``/``request.files``, because those split text
and file parts into two dicts and lose their relative order, which decides which reference is
"image 1". File parts are spooled to disk inside the sandbox's own folder, and the limits
(body size, part count, text field size, bytes per file) are checked while streaming.

Example:
    >>> body = parse_body(request, tmp_dir=store.tmp_dir, max_file_bytes=100 << 20)
    >>> body.first("prompt"), [p.filename for p in body.files("inputImage")]
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from werkzeug.wrappers import Request

__all__ = ["Body", "BodyError", "FilePart", "FileTooLarge", "parse_body"]

_CHUNK = 64 * 1024
_SPOOL_IN_MEMORY = 1 << 20
#: Largest JSON or urlencoded body read into memory (file bytes only come by multipart).
MAX_JSON_BYTES = 16 << 20
#: Largest text (non-file) multipart field.
MAX_TEXT_FIELD = 1 << 20
MAX_PARTS = 1000


class BodyError(Exception):
    """The body cannot be read: HTTP 413 when too large, else a code-0 envelope."""

    def __init__(self, message: str, *, http_status: int = 200) -> None:
        self.http_status = http_status
        super().__init__(message)


class FileTooLarge(BodyError):
    """One uploaded file is over the per-file limit."""

    def __init__(self, name: str, filename: str, limit: int) -> None:
        self.name, self.filename, self.limit = name, filename, limit
        size = f"{limit / (1 << 20):g} MB" if limit >= 1 << 20 else f"{limit} bytes"
        super().__init__(
            f"Request files [{name}] file '{filename}' is larger than the {size} limit per file"
        )


@dataclass
class FilePart:
    """One uploaded file part, spooled (memory, then disk in the sandbox's folder)."""

    name: str
    filename: str
    content_type: str | None
    stream: IO[bytes]
    size: int = 0
    sha256: str = ""

    def read(self) -> bytes:
        self.stream.seek(0)
        return self.stream.read()

    def head(self, count: int = 32) -> bytes:
        self.stream.seek(0)
        data = self.stream.read(count)
        self.stream.seek(0)
        return data

    def close(self) -> None:
        self.stream.close()


@dataclass
class Body:
    """A parsed body: ``items`` in arrival order; a value is a str, a `FilePart`, or (JSON)
    any JSON value."""

    kind: str
    items: list[tuple[str, Any]] = field(default_factory=list)
    json: dict[str, Any] | None = None
    parts: list[tuple[str, str | None, str | None, int]] = field(default_factory=list)

    def values(self, name: str) -> list[Any]:
        """Every value given for ``name``, JSON arrays flattened, in order."""
        out: list[Any] = []
        for key, value in self.items:
            if key == name:
                out.extend(value if isinstance(value, list) else [value])
        return out

    def first(self, name: str) -> Any:
        values = [v for v in self.values(name) if not (isinstance(v, str) and v == "")]
        return values[0] if values else None

    def files(self, name: str) -> list[FilePart]:
        return [v for v in self.values(name) if isinstance(v, FilePart)]

    def scalars(self) -> dict[str, Any]:
        """Non-file fields by name (the last non-empty value when a name repeats)."""
        out: dict[str, Any] = {}
        for key, value in self.items:
            if isinstance(value, FilePart):
                continue
            if isinstance(value, str) and value == "" and key in out:
                continue
            out[key] = value
        return out

    def close(self) -> None:
        for _, value in self.items:
            if isinstance(value, FilePart):
                value.close()


def parse_body(request: Request, *, tmp_dir: Path, max_file_bytes: int) -> Body:
    """Read the request body into a `Body`.

    Args:
        request: the werkzeug request (``max_content_length`` already set).
        tmp_dir: where big file parts are spooled.
        max_file_bytes: the per-file limit for multipart file parts.

    Raises:
        BodyError: malformed or too large; the caller answers with the Wiro envelope.
    """
    mimetype, options = parse_options_header(request.headers.get("Content-Type", ""))
    try:
        stream = request.stream
        if mimetype == "multipart/form-data" and options.get("boundary"):
            return _multipart(stream, options["boundary"].encode("latin-1"), tmp_dir,
                              max_file_bytes)
        raw = _read_up_to(stream, MAX_JSON_BYTES + 1)
    except RequestEntityTooLarge:
        raise BodyError("Request body is too large.", http_status=413) from None
    except HTTPException:
        raise BodyError("Request parameters are invalid.") from None
    if len(raw) > MAX_JSON_BYTES:
        raise BodyError("Request body is too large for a JSON body; send files as "
                        "multipart/form-data.", http_status=413)
    text = raw.strip()
    if not text:
        return Body(kind="empty")
    if mimetype == "application/x-www-form-urlencoded" and not text.startswith(b"{"):
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                              max_num_fields=MAX_PARTS)
        except (UnicodeDecodeError, ValueError):
            raise BodyError("Request parameters are invalid.") from None
        return Body(kind="form", items=list(pairs),
                    parts=[(k, None, None, len(v.encode())) for k, v in pairs])
    # JSON: declared, or undeclared/mislabelled but clearly a JSON object (Wiro's own model
    # page samples send JSON with a multipart Content-Type and no boundary).
    if mimetype in ("application/json", "", "multipart/form-data", "text/plain",
                    "application/x-www-form-urlencoded") or mimetype.endswith("+json"):
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BodyError("Request parameters are invalid.") from None
        if not isinstance(data, dict):
            raise BodyError("Request parameters are invalid.")
        return Body(kind="json", items=list(data.items()), json=data)
    raise BodyError("Request parameters are invalid.")


def _read_up_to(stream: IO[bytes], limit: int) -> bytes:
    """Read until the end or ``limit`` bytes (one ``read`` may return less than asked)."""
    buffer = bytearray()
    while len(buffer) < limit:
        data = stream.read(min(_CHUNK, limit - len(buffer)))
        if not data:
            break
        buffer.extend(data)
    return bytes(buffer)


def _chunks(stream: IO[bytes]) -> Iterator[bytes | None]:
    while True:
        data = stream.read(_CHUNK)
        if not data:
            break
        yield data
    yield None


def _file_data(body: Body, part: FilePart, event: Data, digest: Any,
               max_file_bytes: int) -> None:
    """Spool one piece of a file part; on its last piece, record the part."""
    part.size += len(event.data)
    if part.size > max_file_bytes:
        raise FileTooLarge(part.name, part.filename, max_file_bytes)
    part.stream.write(event.data)
    digest.update(event.data)
    if not event.more_data:
        part.sha256 = digest.hexdigest()
        part.stream.seek(0)
        body.parts.append((part.name, part.filename, part.content_type, part.size))


def _multipart(stream: IO[bytes], boundary: bytes, tmp_dir: Path,
               max_file_bytes: int) -> Body:
    decoder = MultipartDecoder(boundary, max_form_memory_size=None, max_parts=MAX_PARTS)
    body = Body(kind="multipart")
    current: Field | File | None = None
    text: list[bytes] = []
    text_size = 0
    part: FilePart | None = None
    digest = hashlib.sha256()
    try:
        for chunk in _chunks(stream):
            decoder.receive_data(chunk)
            event = decoder.next_event()
            while not isinstance(event, (Epilogue, NeedData)):
                if isinstance(event, File):
                    current = event
                    digest = hashlib.sha256()
                    spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by Body
                        max_size=_SPOOL_IN_MEMORY, dir=str(tmp_dir))
                    part = FilePart(event.name or "", event.filename, event.headers.get(
                        "content-type"), spool)
                    body.items.append((event.name, part))
                elif isinstance(event, Field):
                    current, text, text_size, part = event, [], 0, None
                elif isinstance(event, Data) and current is not None:
                    if part is not None:
                        _file_data(body, part, event, digest, max_file_bytes)
                    else:
                        text_size += len(event.data)
                        if text_size > MAX_TEXT_FIELD:
                            raise BodyError(
                                f"Request parameter [{current.name}] is too long "
                                f"(over {MAX_TEXT_FIELD} bytes)."
                            )
                        text.append(event.data)
                        if not event.more_data:
                            value = b"".join(text).decode("utf-8", "replace")
                            body.items.append((current.name or "", value))
                            body.parts.append((current.name or "", None, None, text_size))
                event = decoder.next_event()
    except BodyError:
        body.close()
        raise
    except RequestEntityTooLarge:
        body.close()
        raise BodyError("Request body is too large.", http_status=413) from None
    except (ValueError, HTTPException):
        body.close()
        raise BodyError("Request parameters are invalid.") from None
    if decoder.state.name != "COMPLETE":
        body.close()
        raise BodyError("Request parameters are invalid.")
    return body
