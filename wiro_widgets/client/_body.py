"""The Run body: JSON when no bytes travel, else a streamed ``multipart/form-data`` body.

URL references go as a JSON array in a JSON body; as soon as one reference carries bytes,
every field and reference becomes a part of one multipart body, each reference one part of
the same field in the caller's order. Files on disk are read while sending, never whole into
memory.

Example:
    >>> body = build_body({"prompt": "a fox"}, {"inputImage": refs})
    >>> with body.open() as (data, headers):
    ...     requests.post(url, data=data, headers=headers)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from requests_toolbelt import MultipartEncoder

from ..references import Reference

__all__ = ["RequestBody", "build_body"]



@dataclass(frozen=True)
class RequestBody:
    """A Run body that can be opened (and so sent) more than once.

    Attributes:
        fields: the non-file fields by API name.
        files: file inputs by API name, each a list of references in order.
        multipart: True when any reference carries bytes.
    """

    fields: Mapping[str, Any]
    files: Mapping[str, Sequence[Reference]] = field(default_factory=dict)

    @property
    def multipart(self) -> bool:
        return any(not r.is_url for refs in self.files.values() for r in refs)

    @contextlib.contextmanager
    def open(self) -> Iterator[tuple[Any, dict[str, str]]]:
        """Yield ``(data, headers)`` for one request; file handles close afterwards."""
        if not self.multipart:
            payload = dict(self.fields)
            for name, refs in self.files.items():
                if refs:
                    payload[name] = [r.url for r in refs]
            yield json.dumps(payload).encode(), {"Content-Type": "application/json"}
            return
        with contextlib.ExitStack() as stack:
            parts: list[tuple[str, Any]] = []
            for name, value in self.fields.items():
                parts.extend((name, text) for text in _form_values(value))
            for name, refs in self.files.items():
                for ref in refs:
                    if ref.is_url:
                        parts.append((name, str(ref.url)))
                    else:
                        stream = stack.enter_context(ref.open())
                        parts.append((name, (ref.name, stream, ref.content_type)))
            encoder = MultipartEncoder(fields=parts)
            yield encoder, {"Content-Type": encoder.content_type}

    def size_hint(self) -> int:
        """Bytes of file data in the body (for choosing an upload timeout)."""
        return sum(r.size or 0 for refs in self.files.values() for r in refs)


def build_body(fields: Mapping[str, Any],
               files: Mapping[str, Sequence[Reference]] | None = None) -> RequestBody:
    """The Run body for API-named ``fields`` and file inputs ``files``.

    Example:
        >>> build_body({"prompt": "a fox", "steps": 20}).multipart
        False
    """
    clean = {k: v for k, v in fields.items() if v is not None}
    return RequestBody(fields=clean, files=dict(files or {}))


def _form_values(value: Any) -> list[str]:
    """Text values of one multipart field; lists become repeated parts."""
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _form_values(item)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (dict,)):
        return [json.dumps(value)]
    return [str(value)]
