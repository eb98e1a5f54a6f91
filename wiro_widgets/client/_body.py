"""The Run body: JSON when no bytes travel, else a streamed ``multipart/form-data`` body.

Each file input is encoded the way its type requires (``wiro-api.md`` section 2, "File
inputs - exact encodings"; Wiro's model-parameters.md):

- ``combinefileinput``: JSON ``{id}: [url, ...]`` (the SDKs' array); multipart: one ``{id}``
  part per entry, a file or a URL as text, in the caller's order.
- ``fileinput``: JSON ``{id}Url: url``; multipart: bytes as an ``{id}`` file with an empty
  ``{id}Url``, or a URL as an empty ``{id}`` with ``{id}Url``.
- ``multifileinput``: JSON ``{id}Url: "url,url"``; multipart: one ``{id}`` part per file,
  URLs comma-separated in ``{id}Url``.

As soon as one reference carries bytes, every field and reference becomes a part of one
multipart body. Files on disk are read while sending, never whole into memory.

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

__all__ = ["COMBINE", "FILE", "MULTI", "RequestBody", "build_body"]

COMBINE, FILE, MULTI = "combinefileinput", "fileinput", "multifileinput"



@dataclass(frozen=True)
class RequestBody:
    """A Run body that can be opened (and so sent) more than once.

    Attributes:
        fields: the non-file fields by API name.
        files: file inputs by API name, each a list of references in order.
        kinds: each file input's type (``fileinput``, ``multifileinput``,
            ``combinefileinput``); inputs not listed are ``combinefileinput``.
        multipart: True when any reference carries bytes.
    """

    fields: Mapping[str, Any]
    files: Mapping[str, Sequence[Reference]] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)

    def kind(self, name: str) -> str:
        """The type of file input ``name`` (``combinefileinput`` unless told)."""
        return self.kinds.get(name, COMBINE)

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
                    payload.update(_json_files(name, self.kind(name), refs))
            yield json.dumps(payload).encode(), {"Content-Type": "application/json"}
            return
        with contextlib.ExitStack() as stack:
            parts: list[tuple[str, Any]] = []
            for name, value in self.fields.items():
                parts.extend((name, text) for text in _form_values(value))
            for name, refs in self.files.items():
                for part_name, ref in _form_files(name, self.kind(name), refs):
                    if isinstance(ref, str):
                        parts.append((part_name, ref))
                    else:
                        stream = stack.enter_context(ref.open())
                        parts.append((part_name, (ref.name, stream, ref.content_type)))
            encoder = MultipartEncoder(fields=parts)
            yield encoder, {"Content-Type": encoder.content_type}

    def size_hint(self) -> int:
        """Bytes of file data in the body (for choosing an upload timeout)."""
        return sum(r.size or 0 for refs in self.files.values() for r in refs)


def build_body(fields: Mapping[str, Any],
               files: Mapping[str, Sequence[Reference]] | None = None,
               kinds: Mapping[str, str] | None = None) -> RequestBody:
    """The Run body for API-named ``fields`` and file inputs ``files`` (of types ``kinds``).

    Example:
        >>> build_body({"prompt": "a fox", "steps": 20}).multipart
        False
    """
    clean = {k: v for k, v in fields.items() if v is not None}
    return RequestBody(fields=clean, files=dict(files or {}), kinds=dict(kinds or {}))


def _json_files(name: str, kind: str, refs: Sequence[Reference]) -> dict[str, Any]:
    urls = [str(r.url) for r in refs]
    if kind == FILE:
        return {name + "Url": urls[0]}
    if kind == MULTI:
        return {name + "Url": ",".join(urls)}
    return {name: urls}


def _form_files(name: str, kind: str, refs: Sequence[Reference]
                ) -> list[tuple[str, Reference | str]]:
    """The multipart parts of one file input: (part name, a reference to send as a file or
    a text value)."""
    if kind == FILE:
        ref = refs[0]
        return [(name, ""), (name + "Url", str(ref.url))] if ref.is_url else [
            (name, ref), (name + "Url", "")]
    if kind == MULTI:
        files: list[tuple[str, Reference | str]] = [(name, r) for r in refs if not r.is_url]
        return [*files, (name + "Url", ",".join(str(r.url) for r in refs if r.is_url))]
    return [(name, str(r.url) if r.is_url else r) for r in refs]


def _form_values(value: Any) -> list[str]:
    """Text values of one multipart field; lists become repeated parts."""
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _form_values(item)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (dict,)):
        return [json.dumps(value)]
    return [str(value)]
