"""Reference images of a Run: every accepted encoding gathered into one ordered list, then
each entry checked, stored and described.

Accepted for a ``combinefileinput`` such as ``inputImage``: repeated multipart file parts,
repeated text parts holding URLs, both mixed; comma-separated URL strings; JSON arrays; and
the ``inputImageUrl`` companion. Empty values are ignored.

URLs: the sandbox has no network. A URL of the sandbox itself (its ``/v1/File/...`` uploads
or ``/cdn/...`` outputs) is loaded from its own store; any other http(s) URL becomes a
deterministic placeholder picture derived from the URL; other schemes are refused.

Example:
    >>> entries = collect(body, "inputImage")
    >>> refs = resolve(entries, param="inputImage", store=store, token=token,
    ...                public_root="http://127.0.0.1:8000", self_hosts={"127.0.0.1:8000"})
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..images import IMAGE_TYPES, decode_image, sniff_image_type
from .engine import RenderInput
from .files import FileStore
from .forms import Body, FilePart
from .render import placeholder_image

__all__ = ["InputError", "Reference", "collect", "resolve"]

_ACCEPTED = "jpeg, png, webp or gif"


class InputError(Exception):
    """A reference entry the sandbox refuses (answered with code 0)."""


@dataclass(frozen=True)
class Reference:
    """One resolved reference image: how it is described, and where its bytes are."""

    record: dict[str, Any]
    render: RenderInput
    stored_path: str | None


def collect(body: Body, param: str) -> list[FilePart | str]:
    """Every entry given for ``param`` (and ``{param}Url``), in order, empties dropped.

    Raises:
        InputError: for a value that is neither a file nor a string of URLs.
    """
    entries: list[FilePart | str] = []
    for value in body.values(param) + body.values(param + "Url"):
        if value is None:
            continue
        if isinstance(value, FilePart):
            if value.size == 0 and not value.filename:
                continue
            entries.append(value)
        elif isinstance(value, str):
            entries.extend(piece.strip() for piece in value.split(",") if piece.strip())
        else:
            raise InputError(
                f"Request files [{param}] must be image files or http(s) URLs "
                f"(got a JSON {type(value).__name__})"
            )
    return entries


def _check_image(data: bytes, param: str, index: int, label: str) -> str:
    kind = sniff_image_type(data[:32])
    if kind is None:
        raise InputError(
            f"Request files [{param}] entry {index} ({label}) is not an image; "
            f"{_ACCEPTED} files are accepted"
        )
    try:
        decode_image(data).close()
    except ValueError as err:
        raise InputError(
            f"Request files [{param}] entry {index} ({label}) is not a readable image: {err}"
        ) from None
    return kind


def resolve(entries: list[FilePart | str], *, param: str, store: FileStore, token: str,
            public_root: str, self_hosts: Collection[str]) -> list[Reference]:
    """Check each entry, store uploaded bytes under ``/v1/File/<token>/``, describe it.

    Raises:
        InputError: naming the parameter and the entry, with what is wrong.
    """
    refs: list[Reference] = []
    try:
        for index, entry in enumerate(entries, start=1):
            if isinstance(entry, FilePart):
                refs.append(_from_file(entry, param, index, store, token, public_root))
            else:
                refs.append(_from_url(entry, param, index, store, token, self_hosts))
    except InputError:
        store.remove(r.stored_path for r in refs if r.stored_path)
        raise
    return refs


def _from_file(part: FilePart, param: str, index: int, store: FileStore, token: str,
               public_root: str) -> Reference:
    label = repr(part.filename or "unnamed file")
    kind = _check_image(part.read(), param, index, label)
    stored = store.put_input(token, f"{param}-{index}.{IMAGE_TYPES[kind]}", part.stream, kind)
    record = {
        "name": param, "source": "file", "filename": part.filename, "content_type": kind,
        "size": stored.size, "sha256": stored.sha256, "url": public_root + stored.url_path,
        "placeholder": False,
    }
    return Reference(record, RenderInput(stored.sha256, path=stored.path), stored.url_path)


def _from_url(url: str, param: str, index: int, store: FileStore, token: str,
              self_hosts: Collection[str]) -> Reference:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InputError(f"Request files [{param}] entry {index} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        shown = f"'{scheme}:'" if scheme else "a bare path"
        raise InputError(
            f"Request files [{param}] entry {index}: only http(s) URLs or uploaded files are "
            f"accepted, not {shown}"
        )
    if parts.netloc.lower() in self_hosts:
        own = store.get(parts.path)
        if own is None:
            raise InputError(
                f"Request files [{param}] entry {index}: {url} is not a file of this sandbox "
                "(never uploaded, or expired)"
            )
        data = own.path.read_bytes()
        kind = _check_image(data, param, index, url)
        # Copied, so the task keeps its reference even when the original output expires.
        stored = store.put_input(token, f"{param}-{index}.{IMAGE_TYPES[kind]}", data, kind)
        record = _url_record(param, url, own.name, kind, stored.size, stored.sha256, False)
        return Reference(record, RenderInput(stored.sha256, path=stored.path), stored.url_path)
    data = placeholder_image(url)
    stored = store.put_input(token, f"{param}-{index}.png", data, "image/png")
    record = _url_record(param, url, parts.path.rsplit("/", 1)[-1] or None, "image/png",
                         stored.size, stored.sha256, True)
    return Reference(record, RenderInput(stored.sha256, path=stored.path), stored.url_path)


def _url_record(param: str, url: str, filename: str | None, content_type: str, size: int,
                sha256: str, placeholder: bool) -> dict[str, Any]:
    return {"name": param, "source": "url", "filename": filename, "content_type": content_type,
            "size": size, "sha256": sha256, "url": url, "placeholder": placeholder}
