"""A finished task's outputs: fetched at once, checked before anything decodes them, kept.

A broken or hostile server can announce anything: a name with a NUL byte or a path in it, a
size of 2 GB, an "image" that is SVG or truncated, a 65 kB file that decodes to 67 MP. So
each output is checked before it is used:

- its name is made safe to show and to name a file with (`safe_name`);
- a declared size over `MAX_DOWNLOAD_BYTES` is refused before the GET, and a larger body
  while it is read (the transport);
- what arrives must be what was announced (size, image type) and an image must be whole;
  otherwise it is downloaded again, like a garbled answer;
- an image must be one the client decodes (PNG, JPEG, WebP or GIF) within
  `images.MAX_PIXELS`, read from its header: it is refused (`OutputRefused`), never decoded.

Kept files go to the output cache by content hash. When the cache cannot be written (a full
disk, a read-only home, a file where its folder should be), the bytes stay in memory and the
images are decoded into the `Result`; `keep` says so in plain words instead of raising.

Example:
    >>> fetched = [fetch(transport, item, READ_RETRY) for item in outputs_of(record)]
    >>> kept = keep(fetched, lambda: cache)
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from PIL import Image

from ..images import IMAGE_TYPES, TooManyPixels, check_image, decode_image, sniff_image_type
from ..ledger import OutputCache
from ..protocol import parse_number
from ..redaction import get_logger
from ..results import RAW, Output
from ._transport import MAX_DOWNLOAD_BYTES, Transport

__all__ = ["Fetched", "Kept", "OutputRefused", "fetch", "keep", "outputs_of", "raw_of", "safe_name"]

log = get_logger("wiro_widgets")

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")
_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")
_NAME_CHARS = 120


class OutputRefused(Exception):
    """An output the client will not keep (internal; the concluder raises `OutputError`)."""


@dataclass(frozen=True)
class Fetched:
    """One output's bytes, checked, with what its record announced."""

    name: str
    content_type: str
    url: str
    data: bytes
    suffix: str


@dataclass(frozen=True)
class Kept:
    """The outputs as a `Result` holds them.

    Attributes:
        outputs: one `Output` each (``path`` empty for one the cache could not keep).
        images: the decoded images, when any could not be cached (else None: they load
            lazily from the cache).
        warning: what failed, in plain words ("" when nothing did).
    """

    outputs: list[Output]
    images: list[Image.Image] | None
    warning: str


def outputs_of(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The record's output items, in order: those that point at a file, and those that carry
    their content (an LLM's ``raw`` output: no URL)."""
    items = record.get("outputs")
    return [item for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and (item.get("url") or "content" in item)]


def raw_of(item: Mapping[str, Any], position: int) -> Fetched:
    """An output that carries its content instead of a URL (an LLM's ``raw`` answer), as
    the JSON file the cache keeps for it.

    Example:
        >>> raw_of({"contenttype": "raw", "content": {"raw": "Hi."}}, 0).suffix
        '.json'
    """
    data = json.dumps(item.get("content"), ensure_ascii=False, sort_keys=True).encode("utf-8")
    name = safe_name(item.get("name") or f"output-{position}.json")
    return Fetched(name=name, content_type=str(item.get("contenttype") or RAW), url="",
                   data=data, suffix=".json")


def safe_name(raw: Any) -> str:
    """An output name safe to show and to use in a file name: no control characters, no
    path, at most 120 characters.

    Example:
        >>> safe_name("../../0\\x00.png")
        '.._.._0_.png'
    """
    text = _UNSAFE.sub("_", str(raw or "")).strip(" _") or "output"
    return text if len(text) <= _NAME_CHARS else text[: _NAME_CHARS - 3] + "..."


def _suffix(name: str, content_type: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    if _SUFFIX.fullmatch(suffix):
        return suffix
    known = IMAGE_TYPES.get(content_type)
    return f".{known}" if known else ""


def fetch(transport: Transport, item: Mapping[str, Any], retry: Any) -> Fetched:
    """Download one output and check it.

    Raises:
        OutputRefused: it declares or holds more than the client reads, or it is an image
            the client will not decode.
        ApiError, NetworkError: the download failed (or kept coming back damaged).
    """
    name = safe_name(item.get("name"))
    url = str(item["url"])
    content_type = str(item.get("contenttype") or "")
    size = parse_number(item.get("size"))
    if size is not None and size > MAX_DOWNLOAD_BYTES:
        raise OutputRefused(f"output {name} declares {int(size)} bytes; at most "
                            f"{MAX_DOWNLOAD_BYTES} are downloaded")
    data = transport.download(url, retry=retry, check=functools.partial(
        check_output, name=name, size=size, content_type=content_type))
    return Fetched(name=name, content_type=content_type, url=url, data=data,
                   suffix=_suffix(name, content_type))


def check_output(data: bytes, *, name: str, size: float | None,
                 content_type: str) -> str | None:
    """Why downloaded bytes are not what the record announced (the download is tried
    again), or None.

    Raises:
        OutputRefused: an image the client will not decode (trying again cannot help).
    """
    if size is not None and size > 0 and len(data) != int(size):
        return f"{len(data)} bytes where the task record says {int(size)}"
    sniffed = sniff_image_type(data[:64])
    if content_type in IMAGE_TYPES and sniffed != content_type:
        return f"not a {content_type} file"
    if not (content_type.startswith("image/") or sniffed):
        return None
    if sniffed is None:
        raise OutputRefused(f"output {name} is {content_type or 'an image'} in a format the "
                            "client does not decode (PNG, JPEG, WebP or GIF)")
    try:
        check_image(io.BytesIO(data), sniffed, len(data))
    except TooManyPixels as err:
        raise OutputRefused(f"output {name} is an image of {err}") from None
    except ValueError as err:
        return f"a damaged {sniffed} file ({err})"
    return None


def keep(fetched: list[Fetched], cache: Callable[[], OutputCache]) -> Kept:
    """Put each output into the cache; keep in memory what the cache cannot take."""
    outputs: list[Output] = []
    failure: OSError | None = None
    for item in fetched:
        path = ""
        digest = hashlib.sha256(item.data).hexdigest()
        if failure is None:
            try:
                digest, stored = cache().put(item.data, item.suffix)
                path = str(stored)
            except OSError as err:
                failure = err
        outputs.append(Output(name=item.name, content_type=item.content_type,
                              size=len(item.data), url=item.url, sha256=digest, path=path))
    if failure is None:
        return Kept(outputs, None, "")
    images = [decode_image(item.data) for item in fetched
              if item.content_type.startswith("image/")]
    warning = (f"the outputs could not be written to the local cache ({_why(failure)}); "
               "they are kept in memory only, in this Result: save them with "
               "result.save(folder)")
    log.warning("%s", warning)
    return Kept(outputs, images, warning)


def _why(err: OSError) -> str:
    text = err.strerror or str(err) or type(err).__name__
    return f"{text}: {err.filename}" if err.filename else text
