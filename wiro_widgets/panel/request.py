"""The immutable snapshot a Generate press makes of the form: what the worker sends.

The worker thread only ever sees a `GenerationRequest`, never a widget, so a user editing the
form while a run is in flight cannot change what is being sent.

Example:
    >>> ref = Reference.from_bytes("cat.png", png_bytes)
    >>> request = GenerationRequest("black-forest-labs/flux-2-flex",
    ...                             {"prompt": "image 1 as a watercolour"}, (ref,))
    >>> request.client_params()["input_images"][0]["name"]
    'cat.png'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..images import decode_image, sniff_image_type, thumbnail_bytes

__all__ = ["GenerationRequest", "Reference"]

THUMB_SIDE = 96


@dataclass(frozen=True)
class Reference:
    """One reference image: uploaded bytes or an http(s) URL.

    Attributes:
        name: the file name shown to the user (and used in generated code).
        sha256: hex digest of the bytes ("" for URLs).
        size: bytes (0 for URLs).
        content_type: sniffed MIME type ("" for URLs).
        data: the file's bytes, or None for a URL.
        url: the http(s) URL, or None for bytes.
        thumb: a small JPEG for the thumbnail strip (empty for URLs: they are not fetched).
        width, height: pixel size when known.
    """

    name: str
    sha256: str = ""
    size: int = 0
    content_type: str = ""
    data: bytes | None = field(default=None, repr=False)
    url: str | None = None
    thumb: bytes = field(default=b"", repr=False)
    width: int = 0
    height: int = 0

    @classmethod
    def from_bytes(cls, name: str, data: bytes, thumb_side: int = THUMB_SIDE) -> Reference:
        """Check that ``data`` is a readable image and describe it.

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
        return cls(
            name=name or "image",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            content_type=kind,
            data=bytes(data),
            thumb=thumbnail_bytes(image, thumb_side),
            width=image.width,
            height=image.height,
        )

    @classmethod
    def from_url(cls, url: str) -> Reference:
        """A reference the server fetches itself.

        Raises:
            ValueError: unless ``url`` is an http(s) URL with a host.

        Example:
            >>> Reference.from_url("https://example.com/cat.jpg").name
            'cat.jpg'
        """
        from urllib.parse import urlparse

        text = url.strip()
        parsed = urlparse(text)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in text:
            raise ValueError(f"{text!r} is not an http(s) URL")
        name = parsed.path.rstrip("/").rsplit("/", 1)[-1] or parsed.netloc
        return cls(name=name, url=text)

    @property
    def is_url(self) -> bool:
        return self.url is not None

    def client_input(self) -> Any:
        """What the client's ``input_images`` takes for this reference: the URL, or an entry
        shaped like an ipywidgets ``FileUpload`` value (so the file name travels with it)."""
        if self.url is not None:
            return self.url
        return {
            "name": self.name,
            "type": self.content_type,
            "size": self.size,
            "content": memoryview(self.data or b""),
        }


@dataclass(frozen=True)
class GenerationRequest:
    """Everything one run sends, frozen at the moment Generate was pressed.

    Attributes:
        model: ``owner/model``.
        params: Python-named parameters without the reference images.
        references: the reference images in order ("image 1" first).
    """

    model: str
    params: Mapping[str, Any]
    references: tuple[Reference, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def client_params(self) -> dict[str, Any]:
        """Keyword arguments for ``client.submit(model, **params)``."""
        params = dict(self.params)
        if self.references:
            params["input_images"] = [ref.client_input() for ref in self.references]
        return params
