"""Reference images: one type for the client, the panel and the sandbox, and the checks that
refuse bad ones locally.

A `Reference` is one reference image: a file on disk, bytes in memory, or an http(s) URL the
server fetches, with what is known about it (content type, size, SHA-256, pixel size).

The client turns whatever callers pass (a path, ``bytes``, a PIL image, an http(s) URL, an
ipywidgets ``FileUpload`` entry or a `Reference`) into checked references with
`normalize_references`, refusing with a `ValidationError` naming ``<param>[i]``: files that
are not images, corrupt or truncated images, empty files, files over `MAX_UPLOAD_BYTES`,
missing paths and URLs that are not http(s). The panel builds references from uploads with
`Reference.from_bytes` and `Reference.from_url`; the sandbox describes what a Run brought.

Example:
    >>> refs = normalize_references(["photo.jpg", "https://example.com/b.png"], "input_images")
    >>> [r.source for r in refs]
    ['file', 'url']
    >>> Reference.from_url("https://example.com/cat.jpg").name
    'cat.jpg'
"""

from __future__ import annotations

import hashlib
import io
import os
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any
from urllib.parse import urlsplit

from PIL import Image

from .errors import ValidationError
from .images import (
    IMAGE_TYPES,
    MAX_PIXELS,
    TooManyPixels,
    check_image,
    decode_image,
    sniff_image_type,
)
from .protocol import MAX_UPLOAD_BYTES
from .redaction import redact, strip_userinfo

__all__ = [
    "Reference",
    "is_reference_like",
    "normalize_reference",
    "normalize_references",
]

_CHUNK = 1024 * 1024
_TYPES_TEXT = "a PNG, JPEG, WebP or GIF image"
_ACCEPTED = "a path, bytes, a PIL image, an http(s) URL or a FileUpload entry"
#: The fields a repr shows (never the bytes).
_SHOWN = ("name", "index", "source", "content_type", "size", "sha256", "url", "path",
          "width", "height", "placeholder")


@dataclass(frozen=True)
class Reference:
    """One reference image: bytes (in memory or in a file) or an http(s) URL.

    Attributes:
        name: a file name (for a multipart part, the panel, generated code) or the URL's
            last segment.
        index: its position in the request ("image 1" is index 0).
        source: ``file``, ``bytes``, ``pil``, ``upload`` or ``url`` (derived when empty).
        content_type: the sniffed type (``image/png``); None when not known (URLs).
        size: bytes; None when not known (URLs).
        sha256: hex digest of the bytes; None when not known (URLs).
        url: the http(s) URL (for a server-side copy: the URL it was stored under).
        path: the file holding the bytes (opened only when read).
        data: the bytes, for in-memory references.
        width, height: pixel size when known.
        placeholder: the bytes stand in for a URL that was not fetched (the sandbox).
        checked: it came out of `normalize_references`; any other reference (built by
            hand, by the panel) is checked again before it is sent.
    """

    name: str
    index: int = 0
    source: str = ""
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    url: str | None = None
    path: pathlib.Path | None = None
    data: bytes | None = field(default=None, repr=False, compare=False)
    width: int | None = None
    height: int | None = None
    placeholder: bool = False
    checked: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.source:
            source = ("file" if self.path is not None else "bytes" if self.data is not None
                      else "url" if self.url is not None else "")
            object.__setattr__(self, "source", source)

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> Reference:
        """Check that ``data`` is a complete image and describe it (decoded once).

        Raises:
            ValueError: when the bytes are not a PNG, JPEG, WebP or GIF image, or are corrupt.

        Example:
            >>> Reference.from_bytes("a.png", png_bytes).content_type
            'image/png'
        """
        kind = sniff_image_type(data[:16])
        if kind is None:
            raise ValueError(f"{name} is not an image (PNG, JPEG, WebP or GIF)")
        try:
            image = decode_image(data)
        except ValueError as err:
            raise ValueError(f"{name} could not be read as an image: {err}") from None
        with image:
            width, height = image.size
        return cls(name=name or "image", source="upload", content_type=kind, size=len(data),
                   sha256=hashlib.sha256(data).hexdigest(), data=bytes(data), width=width,
                   height=height)

    @classmethod
    def from_url(cls, url: str) -> Reference:
        """A reference the server fetches itself.

        Raises:
            ValueError: unless ``url`` is an http(s) URL with a host.

        Example:
            >>> Reference.from_url("https://example.com/cat.jpg").name
            'cat.jpg'
        """
        text = url.strip()
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
            raise ValueError(f"{text!r} is not an http(s) URL")
        name = parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.netloc
        return cls(name=name, url=text)

    @property
    def is_url(self) -> bool:
        """True when the server fetches it (no bytes travel)."""
        return self.data is None and self.path is None and self.url is not None

    def open(self) -> IO[bytes]:
        """A fresh binary stream of the bytes (a file handle for paths: nothing is preloaded)."""
        if self.path is not None:
            return open(self.path, "rb")  # the caller closes it after sending
        if self.data is not None:
            return io.BytesIO(self.data)
        raise ValueError(f"reference {self.index} is a URL and has no bytes")

    def read_bytes(self) -> bytes:
        """All the bytes (read from the file for paths)."""
        with self.open() as handle:
            return handle.read()

    @property
    def shown_url(self) -> str | None:
        """The URL to record or show: without the user and password it may carry (the
        request itself uses `url` as given)."""
        return None if self.url is None else strip_userinfo(self.url)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _SHOWN)
        return redact(f"Reference({fields})")

    def descriptor(self) -> dict[str, Any]:
        """What the ledger and ``Result.params`` keep: never the bytes, nor a password in a
        URL.

        Example:
            >>> ref.descriptor()
            {'name': 'a.png', 'sha256': '...', 'size': 1234, 'source': 'file', 'url': None, ...}
        """
        return {
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "source": self.source,
            "url": self.shown_url,
            "content_type": self.content_type,
        }


def is_reference_like(value: Any) -> bool:
    """True for values that must travel as file bytes (not text): bytes, paths, PIL images,
    FileUpload entries and references with bytes. Used to pass unknown models' file inputs
    through."""
    if isinstance(value, Reference):
        return not value.is_url
    return isinstance(value, (bytes, bytearray, memoryview, pathlib.PurePath, Image.Image)) or (
        _upload_content(value) is not None
    )


def normalize_references(values: Any, field_name: str) -> list[Reference]:
    """Check every entry of the file input ``field_name`` and return them as `Reference`
    objects, in order.

    Raises:
        ValidationError: naming ``<field_name>[i]``, the value and what is wrong.

    Example:
        >>> refs = normalize_references([b"\\x89PNG...", "https://x/y.png"], "input_images")
        >>> [r.source for r in refs]
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


def normalize_reference(value: Any, index: int, field_name: str) -> Reference:
    """Check one entry; see `normalize_references`."""
    where = f"{field_name}[{index}]"
    if isinstance(value, Reference):
        return _recheck(value, index, where)
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
    return Reference(index=index, name=name, source="url", url=url, checked=True)


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
                     size=stat.st_size, sha256=digest.hexdigest(), path=path.resolve(),
                     checked=True)


def _from_bytes(data: bytes, index: int, where: str, *, source: str,
                name: str | None) -> Reference:
    shown = f"<{len(data)} bytes>"
    _check_size(len(data), where, shown)
    content_type = _sniff(data[:64], where, shown)
    _check_decodes(io.BytesIO(data), content_type, len(data), where, shown)
    if not name:
        name = f"image-{index + 1}.{IMAGE_TYPES[content_type]}"
    return Reference(index=index, name=name, source=source, content_type=content_type,
                     size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data,
                     checked=True)


def _from_pil(image: Image.Image, index: int, where: str) -> Reference:
    width, height = image.size
    if width * height > MAX_PIXELS:
        # The same limit as a file's: the server would refuse a file of this size.
        raise ValidationError(where, image, _too_many_pixels(
            TooManyPixels(width * height, (width, height))))
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
                     sha256=hashlib.sha256(data).hexdigest(), data=data, checked=True)


def _recheck(ref: Reference, index: int, where: str) -> Reference:
    """A reference made elsewhere (the panel, a caller) is checked like any other input."""
    if ref.checked:
        return ref if ref.index == index else replace(ref, index=index)
    if ref.path is not None:
        checked = _from_path(ref.path, index, where)
    elif ref.data is not None:
        checked = _from_bytes(ref.data, index, where, source=ref.source, name=ref.name)
    elif ref.url is not None:
        checked = _from_url(ref.url, index, where)
    else:
        raise ValidationError(where, ref, "has neither bytes nor a URL")
    return replace(checked, name=ref.name or checked.name, width=ref.width,
                   height=ref.height)


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
    """Catch corrupt and truncated images and decompression bombs (`images.check_image`)."""
    try:
        check_image(handle, content_type, size)
    except TooManyPixels as err:
        raise ValidationError(where, shown, _too_many_pixels(err)) from None
    except ValueError as err:
        raise ValidationError(where, shown, f"is a corrupt or truncated image ({err})") from None


def _too_many_pixels(err: TooManyPixels) -> str:
    shown = f"{err.size[0]}x{err.size[1]} pixels " if err.size else ""
    return (f"is {shown}({err.pixels / 1e6:.0f} MP); a reference image may have at most "
            f"{MAX_PIXELS // 1_000_000} MP (it would not be decoded)")


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
