"""Reference images of a Run: every accepted encoding gathered into one ordered list, then
each entry checked, stored and described.

Accepted for a ``combinefileinput`` such as ``inputImage``: repeated multipart file parts,
repeated text parts holding URLs, both mixed; comma-separated URL strings; JSON arrays; and
the ``inputImageUrl`` companion. Empty values are ignored.

URLs: the sandbox has no network. A URL of the sandbox itself (its ``/v1/File/...`` uploads
or ``/cdn/...`` outputs) is loaded from its own store; any other http(s) URL becomes a
deterministic placeholder picture derived from the URL; other schemes are refused. Wiro's
sample inputs, named as a model page's Run sample names them (a bare file name such as
``bfl-flux-2-flex-input-4-1.jpg``) or by their ``cdn.wiro.ai/uploads/sampleinputs/`` URL,
become the sandbox's labelled stand-in pictures (`samples`).

Each entry becomes a `references.Reference` (the type the client and the panel use) whose
``path`` is the sandbox's stored copy; `input_record` describes it as ``SandboxTask.inputs``
shows it.

Example:
    >>> entries = collect(body, "inputImage")
    >>> refs = resolve(entries, param="inputImage", store=store, token=token,
    ...                public_root="http://127.0.0.1:8000", self_hosts={"127.0.0.1:8000"})
    >>> [input_record(r, "inputImage")["url"] for r in refs]
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from ..images import IMAGE_TYPES, decode_image, sniff_image_type
from ..references import Reference
from .files import FileStore, StoredFile
from .forms import Body, FilePart
from .render import placeholder_image
from .samples import sample_name, sample_picture, sample_url

__all__ = ["InputError", "collect", "input_record", "resolve"]

_ACCEPTED = "jpeg, png, webp or gif"


class InputError(Exception):
    """A reference entry the sandbox refuses (answered with code 0)."""


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
        store.remove_files(r.path for r in refs if r.path is not None)
        raise
    return refs


def input_record(ref: Reference, param: str) -> dict[str, Any]:
    """How ``SandboxTask.inputs`` describes a reference: ``name`` (the parameter), ``source``
    (``file`` or ``url``), ``filename``, ``content_type``, ``size``, ``sha256``, ``url`` and
    ``placeholder``."""
    return {"name": param, "source": "url" if ref.source == "url" else "file",
            "filename": ref.name or None, "content_type": ref.content_type, "size": ref.size,
            "sha256": ref.sha256, "url": ref.url, "placeholder": ref.placeholder}


def _stored(stored: StoredFile, index: int, *, name: str | None, source: str, url: str,
            placeholder: bool = False) -> Reference:
    return Reference(name=name or "", index=index - 1, source=source,
                     content_type=stored.content_type, size=stored.size, sha256=stored.sha256,
                     url=url, path=stored.path, placeholder=placeholder)


def _from_file(part: FilePart, param: str, index: int, store: FileStore, token: str,
               public_root: str) -> Reference:
    label = repr(part.filename or "unnamed file")
    kind = _check_image(part.read(), param, index, label)
    stored = store.put_input(token, f"{param}-{index}.{IMAGE_TYPES[kind]}", part.stream, kind)
    return _stored(stored, index, name=part.filename, source="file",
                   url=public_root + stored.url_path)


def _from_url(url: str, param: str, index: int, store: FileStore, token: str,
              self_hosts: Collection[str]) -> Reference:
    sample = sample_name(url)
    if sample is not None:
        data, kind = sample_picture(sample)
        stored = store.put_input(token, f"{param}-{index}.{IMAGE_TYPES[kind]}", data, kind)
        return _stored(stored, index, name=sample, source="url", url=sample_url(sample),
                       placeholder=True)
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
        return _stored(stored, index, name=own.name, source="url", url=url)
    data = placeholder_image(url)
    stored = store.put_input(token, f"{param}-{index}.png", data, "image/png")
    return _stored(stored, index, name=parts.path.rsplit("/", 1)[-1] or None, source="url",
                   url=url, placeholder=True)
