"""Image helpers shared by the client, the panel and the sandbox: sniffing, decoding and
small thumbnails for notebooks.

Example:
    >>> from wiro_widgets.images import thumbnail_bytes
    >>> jpeg = thumbnail_bytes(pil_image, max_side=256)
"""

from __future__ import annotations

import base64
import io
import warnings

from PIL import Image

__all__ = [
    "IMAGE_TYPES",
    "MAX_PIXELS",
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
