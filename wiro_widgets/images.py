"""Image helpers shared by the client, the panel and the sandbox: sniffing, decoding and
small thumbnails for notebooks.

Example:
    >>> from wiro_widgets.images import thumbnail_bytes
    >>> jpeg = thumbnail_bytes(pil_image, max_side=256)
"""

from __future__ import annotations

import base64
import io
import struct
import warnings
from typing import IO

from PIL import Image

__all__ = [
    "IMAGE_TYPES",
    "MAX_PIXELS",
    "TooManyPixels",
    "check_image",
    "decode_image",
    "sniff_image_type",
    "thumbnail_bytes",
    "thumbnail_data_uri",
]

#: Image formats Wiro accepts for uploads, by content type.
IMAGE_TYPES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
}

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)

#: Images with more pixels are refused rather than decoded: a decompression bomb (Pillow
#: warns above ~89 MP). The client's reference check, the panel and the sandbox share it.
MAX_PIXELS = 64_000_000


def sniff_image_type(head: bytes) -> str | None:
    """The content type of an image from its first bytes, or None when it is not one we take.

    Example:
        >>> sniff_image_type(b"\\x89PNG\\r\\n\\x1a\\n....")
        'image/png'
    """
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


class TooManyPixels(ValueError):
    """An image whose header declares more than `MAX_PIXELS` pixels (it is not decoded).

    Attributes:
        pixels: the pixel count it declares.
        size: (width, height) when known (Pillow names only the count of huge ones).
    """

    def __init__(self, pixels: int, size: tuple[int, int] | None = None) -> None:
        self.pixels, self.size = pixels, size
        shown = f"{size[0]}x{size[1]} pixels, " if size else ""
        super().__init__(f"{shown}{pixels / 1e6:.0f} MP; at most "
                         f"{MAX_PIXELS // 1_000_000} MP are decoded")


def check_image(handle: IO[bytes], content_type: str, size: int) -> tuple[int, int]:
    """Check that an image file is whole, without decoding it at full size; its pixel size.

    The pixel count is read from the header before anything is decoded. Pillow's
    ``verify()`` checks PNG chunk CRCs to the end of the file but does nothing for JPEG, GIF
    or WebP, so those get a structural check of their own.

    Args:
        handle: the file, at its start.
        content_type: its sniffed type (`sniff_image_type`).
        size: its length in bytes.

    Raises:
        TooManyPixels: the header declares more than `MAX_PIXELS`.
        ValueError: the file is corrupt or truncated.

    Example:
        >>> check_image(io.BytesIO(png_bytes), "image/png", len(png_bytes))
        (64, 48)
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise TooManyPixels(width * height, (width, height))
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
    except TooManyPixels:
        raise
    except Image.DecompressionBombError as err:
        # Pillow refuses to open it at all (over twice its own limit): a bomb, not damage.
        raise TooManyPixels(_declared_pixels(str(err))) from None
    except Exception as err:  # Pillow raises many types for bad data
        raise ValueError(str(err) or type(err).__name__) from None
    return width, height


def _declared_pixels(message: str) -> int:
    """The pixel count named by Pillow's bomb error ("Image size (N pixels) exceeds ...")."""
    digits = [int(word) for word in message.replace("(", " ").split() if word.isdigit()]
    return digits[0] if digits else MAX_PIXELS + 1


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


def decode_image(data: bytes) -> Image.Image:
    """Decode fully (so truncated files fail here, not later) and return a loaded image.

    Raises:
        ValueError: when the bytes are not a complete, supported image.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(
                    f"image is {image.width}x{image.height}, over {MAX_PIXELS // 1_000_000} MP"
                )
            image.load()
    except ValueError:
        raise
    except Exception as err:  # Pillow raises many types for bad data
        raise ValueError(f"not a readable image ({type(err).__name__}: {err})") from None
    return image


def thumbnail_bytes(image: Image.Image, max_side: int = 256, quality: int = 80) -> bytes:
    """A small JPEG of ``image`` whose longer side is at most ``max_side`` pixels."""
    thumb = image.copy()
    thumb.thumbnail((max_side, max_side))
    if thumb.mode not in ("RGB", "L"):
        thumb = thumb.convert("RGB")
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def thumbnail_data_uri(image: Image.Image, max_side: int = 256) -> str:
    """``data:image/jpeg;base64,...`` of a small thumbnail, for static HTML output."""
    encoded = base64.b64encode(thumbnail_bytes(image, max_side)).decode("ascii")
    return f"data:image/jpeg;base64,{encoded}"
