"""Reference images: accept what callers have, refuse bad ones locally, stream them out.

Each entry of ``input_images`` may be a path (``str`` or `pathlib.Path`), ``bytes``, a PIL
image, an http(s) URL, or an entry of an ipywidgets ``FileUpload`` value. `normalize_references`
turns them into `Reference` objects (name, content type, size, SHA-256, a way to open the bytes)
and refuses, with a `ValidationError` naming ``input_images[i]``: files that are not images,
corrupt or truncated images, empty files, files over `MAX_UPLOAD_BYTES`, missing paths and
URLs that are not http(s).

`build_body` makes the Run body: JSON when no bytes travel (URLs as a JSON array), otherwise a
streamed ``multipart/form-data`` body where each reference is one part of the same field, in the
caller's order. Files on disk are read while sending, never whole into memory.

Example:
    >>> refs = normalize_references(["photo.jpg", "https://example.com/b.png"])
    >>> body = build_body({"prompt": "a fox"}, {"inputImage": refs})
    >>> with body.open() as (data, headers):
    ...     requests.post(url, data=data, headers=headers)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pathlib
import struct
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

from PIL import Image
from requests_toolbelt import MultipartEncoder

from .errors import ValidationError
from .images import IMAGE_TYPES, MAX_PIXELS, sniff_image_type
from .protocol import MAX_UPLOAD_BYTES

__all__ = [
    "Reference",
    "RequestBody",
    "build_body",
    "is_reference_like",
    "normalize_reference",
    "normalize_references",
]

_CHUNK = 1024 * 1024
_TYPES_TEXT = "a PNG, JPEG, WebP or GIF image"
_ACCEPTED = "a path, bytes, a PIL image, an http(s) URL or a FileUpload entry"


@dataclass(frozen=True)
class Reference:
    """One reference image, checked and ready to send.

    Attributes:
        index: its position in ``input_images`` (the prompt's "image 1" is index 0).
        name: a file name for the multipart part (or the URL's last segment).
        source: ``file``, ``bytes``, ``pil``, ``upload`` or ``url``.
        content_type: the sniffed type (``image/png``); None for URLs (not fetched).
        size: bytes; None for URLs.
        sha256: hex digest of the bytes; None for URLs.
        url: the URL for ``url`` references.
        path: the file for ``file`` references (opened only while sending).
    """

    index: int
    name: str
    source: str
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    url: str | None = None
    path: pathlib.Path | None = None
    data: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def is_url(self) -> bool:
        return self.url is not None

    def open(self) -> IO[bytes]:
        """A fresh binary stream of the bytes (a file handle for paths: nothing is preloaded)."""
        if self.path is not None:
            return open(self.path, "rb")  # the caller closes it after sending
        if self.data is not None:
            return io.BytesIO(self.data)
        raise ValueError(f"reference {self.index} is a URL and has no bytes")

    def descriptor(self) -> dict[str, Any]:
        """What the ledger and ``Result.params`` keep: never the bytes.

        Example:
            >>> ref.descriptor()
            {'name': 'a.png', 'sha256': '...', 'size': 1234, 'source': 'file', 'url': None, ...}
        """
        return {
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "source": self.source,
            "url": self.url,
            "content_type": self.content_type,
        }


def is_reference_like(value: Any) -> bool:
    """True for values that must travel as file bytes (not text): bytes, paths, PIL images,
    FileUpload entries. Used to pass unknown models' file inputs through."""
    return isinstance(value, (bytes, bytearray, memoryview, pathlib.PurePath, Image.Image)) or (
        _upload_content(value) is not None
    )


def normalize_references(values: Any, field_name: str = "input_images") -> list[Reference]:
    """Check every entry and return them as `Reference` objects, in order.

    Raises:
        ValidationError: naming ``input_images[i]``, the value and what is wrong.

    Example:
        >>> [r.source for r in normalize_references([b"\\x89PNG...", "https://x/y.png"])]
        ['bytes', 'url']
    """
    if values is None:
        return []
    single = (str, bytes, bytearray, memoryview, pathlib.PurePath, Image.Image, Mapping)
    if isinstance(values, single):
        values = [values]
    elif not isinstance(values, Sequence):
        values = list(values)
    return [normalize_reference(v, i, field_name) for i, v in enumerate(values)]


def normalize_reference(value: Any, index: int, field_name: str = "input_images") -> Reference:
    """Check one entry; see `normalize_references`."""
    where = f"{field_name}[{index}]"
    if isinstance(value, Reference):
        return value if value.index == index else _reindex(value, index)
    if isinstance(value, str):
        text = value.strip()
        scheme = urlsplit(text).scheme.lower()
        if scheme in ("http", "https"):
            return _from_url(text, index, where)
        # A one-letter "scheme" is a Windows drive (C:\...), not a URL.
        if len(scheme) > 1:
            raise ValidationError(
                where, value, f"{scheme}:// URLs are not accepted; give an http(s) URL, or the "
                "file's path (or its bytes) to upload it"
            )
        if not text:
            raise ValidationError(where, value, f"must be {_ACCEPTED}, not an empty string")
        return _from_path(pathlib.Path(text).expanduser(), index, where)
    if isinstance(value, pathlib.PurePath):
        return _from_path(pathlib.Path(value).expanduser(), index, where)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(value), index, where, source="bytes", name=None)
    if isinstance(value, Image.Image):
        return _from_pil(value, index, where)
    content = _upload_content(value)
    if content is not None:
        name = _upload_field(value, "name")
        return _from_bytes(content, index, where, source="upload",
                           name=str(name) if name else None)
    if hasattr(value, "read"):
        data = value.read()
        if isinstance(data, (bytes, bytearray)):
            name = os.path.basename(str(getattr(value, "name", ""))) or None
            return _from_bytes(bytes(data), index, where, source="bytes", name=name)
    raise ValidationError(where, value, f"must be {_ACCEPTED}, not {type(value).__name__}")


# -- one function per kind of input ---------------------------------------------------------------


def _from_url(url: str, index: int, where: str) -> Reference:
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValidationError(where, url, "is not a valid URL (no host)")
    if any(c.isspace() for c in url):
        raise ValidationError(where, url, "is not a valid URL (contains spaces)")
    name = parts.path.rsplit("/", 1)[-1] or parts.hostname
    return Reference(index=index, name=name, source="url", url=url)


def _from_path(path: pathlib.Path, index: int, where: str) -> Reference:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ValidationError(where, str(path), "no such file") from None
    except OSError as err:
        raise ValidationError(where, str(path), f"cannot be read ({err.strerror})") from None
    if not path.is_file():
        raise ValidationError(where, str(path), "is not a file")
    _check_size(stat.st_size, where, str(path))
    with open(path, "rb") as handle:
        head = handle.read(64)
        content_type = _sniff(head, where, str(path))
        digest = hashlib.sha256(head)
        # Hash in chunks so a 100 MB reference never sits in memory.
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
        handle.seek(0)
        _check_decodes(handle, content_type, stat.st_size, where, str(path))
    return Reference(index=index, name=path.name, source="file", content_type=content_type,
                     size=stat.st_size, sha256=digest.hexdigest(), path=path.resolve())


def _from_bytes(data: bytes, index: int, where: str, *, source: str,
                name: str | None) -> Reference:
    shown = f"<{len(data)} bytes>"
    _check_size(len(data), where, shown)
    content_type = _sniff(data[:64], where, shown)
    _check_decodes(io.BytesIO(data), content_type, len(data), where, shown)
    if not name:
        name = f"image-{index + 1}.{IMAGE_TYPES[content_type]}"
    return Reference(index=index, name=name, source=source, content_type=content_type,
                     size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data)


def _from_pil(image: Image.Image, index: int, where: str) -> Reference:
    buffer = io.BytesIO()
    try:
        # PNG keeps every pixel as given; modes PNG cannot hold are converted first.
        try:
            image.save(buffer, format="PNG")
        except (OSError, ValueError, KeyError):
            buffer = io.BytesIO()
            mode = "RGBA" if "A" in image.getbands() else "RGB"
            image.convert(mode).save(buffer, format="PNG")
    except Exception as err:  # Pillow raises many types for odd images
        raise ValidationError(where, image, f"could not be encoded as PNG ({err})") from None
    data = buffer.getvalue()
    _check_size(len(data), where, repr(image))
    return Reference(index=index, name=f"image-{index + 1}.png", source="pil",
                     content_type="image/png", size=len(data),
                     sha256=hashlib.sha256(data).hexdigest(), data=data)


def _reindex(ref: Reference, index: int) -> Reference:
    return Reference(index=index, name=ref.name, source=ref.source,
                     content_type=ref.content_type, size=ref.size, sha256=ref.sha256,
                     url=ref.url, path=ref.path, data=ref.data)


# -- checks ---------------------------------------------------------------------------------------


def _check_size(size: int, where: str, shown: str) -> None:
    if size == 0:
        raise ValidationError(where, shown, "is empty (0 bytes)")
    if size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            where, shown, f"is {size / 1024 / 1024:.1f} MB; each reference image may be at most "
            f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
        )


def _sniff(head: bytes, where: str, shown: str) -> str:
    content_type = sniff_image_type(head)
    if content_type is None:
        raise ValidationError(where, shown, f"is not an image: expected {_TYPES_TEXT}")
    return content_type


def _check_decodes(handle: IO[bytes], content_type: str, size: int, where: str,
                   shown: str) -> None:
    """Catch corrupt and truncated images without decoding them at full size.

    Pillow's ``verify()`` checks PNG chunk CRCs to the end of the file but does nothing for
    JPEG, GIF or WebP, so those get a structural check of their own.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ValidationError(where, shown, _too_many_pixels(width, height))
                image.verify()
            if width <= 0 or height <= 0:
                raise ValueError("it has no pixels")
            handle.seek(0)
            if content_type == "image/jpeg":
                _check_jpeg(handle)
            elif content_type == "image/webp":
                _check_webp(handle, size)
            elif content_type == "image/gif":
                _check_gif(handle, size)
    except ValidationError:
        raise
    except Image.DecompressionBombError as err:
        # Pillow refuses to open it at all (over twice its own limit): a bomb, not damage.
        raise ValidationError(where, shown, f"has too many pixels ({err})") from None
    except Exception as err:  # Pillow raises many types for bad data
        detail = str(err) or type(err).__name__
        raise ValidationError(where, shown, f"is a corrupt or truncated image ({detail})") from None


def _too_many_pixels(width: int, height: int) -> str:
    return (f"is {width}x{height} pixels ({width * height / 1e6:.0f} MP); a reference image "
            f"may have at most {MAX_PIXELS // 1_000_000} MP (it would not be decoded)")


def _check_jpeg(handle: IO[bytes]) -> None:
    # A reduced-scale decode ("draft") reads every entropy-coded byte, so truncation is
    # caught, while the pixels it produces are 1/64 of the full image.
    with Image.open(handle) as image:
        image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()


def _check_webp(handle: IO[bytes], size: int) -> None:
    header = handle.read(12)
    (declared,) = struct.unpack("<I", header[4:8])
    if declared + 8 > size:
        raise ValueError(f"the file holds {size} bytes but declares {declared + 8}")


def _check_gif(handle: IO[bytes], size: int) -> None:
    handle.seek(max(0, size - 16))
    if b"\x3b" not in handle.read():
        raise ValueError("the GIF trailer is missing")


def _upload_content(value: Any) -> bytes | None:
    """The bytes of an ipywidgets FileUpload entry (a dict, or an object with attributes)."""
    content = _upload_field(value, "content")
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    return None


def _upload_field(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name)
    if isinstance(value, (str, bytes, bytearray, memoryview, pathlib.PurePath)):
        return None
    return getattr(value, name, None)


# -- request bodies -------------------------------------------------------------------------------


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
