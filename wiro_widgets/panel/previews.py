"""What the panel keeps of a run: small JPEGs, made once, and never the full images.

A run's full-resolution images stay on disk (the output cache) and load again on demand
(``Result.images``); the panel holds a preview of each (at most `PREVIEW_SIDE` px and
`PREVIEW_BUDGET` bytes, so no image adds 150 kB or more to a notebook saved with widget state)
and one thumbnail for the history strip.

Example:
    >>> entry = make_entry(1, result, batch=1)     # encodes, then lets the full images go
    >>> len(entry.previews[0]) <= PREVIEW_BUDGET
    True
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

    from ..results import Result
    from .media import Media

__all__ = ["PREVIEW_BUDGET", "PREVIEW_QUALITY", "PREVIEW_SIDE", "THUMB_SIDE", "Entry",
           "image_size", "make_entry", "preview_bytes"]

PREVIEW_SIDE = 768
#: The first quality tried; detailed pictures step down from it to fit `PREVIEW_BUDGET`.
PREVIEW_QUALITY = 80
#: The most bytes one preview may take: 100,000 bytes are 133,336 in base64, the form a
#: notebook saved with widget state keeps them in; with the run's ~8 kB thumbnail an image
#: stays under the 150 kB per image of issue 14.
PREVIEW_BUDGET = 100_000
THUMB_SIDE = 160
_LOWEST_QUALITY = 50


def preview_bytes(image: Image.Image, max_side: int = PREVIEW_SIDE,
                  quality: int = PREVIEW_QUALITY, budget: int = PREVIEW_BUDGET) -> bytes:
    """A JPEG of ``image`` at most ``max_side`` on its longer side and ``budget`` bytes.

    Quality steps down by 10 (to 50) while the JPEG is over budget, then the size shrinks.

    Example:
        >>> len(preview_bytes(photo)) <= PREVIEW_BUDGET
        True
    """
    from ..images import thumbnail_bytes

    side = max_side
    while True:
        step = quality
        while True:
            data = thumbnail_bytes(image, side, quality=step)
            if len(data) <= budget or step <= _LOWEST_QUALITY:
                break
            step -= 10
        if len(data) <= budget or side <= 64:
            return data
        side = int(side * 0.8)


def image_size(data: bytes) -> tuple[int, int]:
    """Pixel size of encoded image bytes (without decoding the pixels)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        return int(width), int(height)


@dataclass(frozen=True)
class Entry:
    """One run in the history, with its display bytes made once.

    Attributes:
        number: its label (#1 is the oldest this panel shows).
        result: the run.
        batch: the Generate press it belongs to (runs of one batch show together).
        previews: one JPEG per output image.
        thumb: the history strip's thumbnail.
        sizes: the full images' pixel sizes.
        earlier: it was restored from the ledger (an earlier session).
        position: its place in its batch (the viewer shows a batch in this order).
        media: its outputs that are not images (videos, audio, text, files).
    """

    number: int
    result: Result
    batch: int
    previews: tuple[bytes, ...]
    thumb: bytes
    sizes: tuple[tuple[int, int], ...]
    earlier: bool = False
    position: int = 0
    media: tuple[Media, ...] = ()


def make_entry(number: int, result: Result, batch: int, *, earlier: bool = False,
               position: int = 0) -> Entry:
    """Encode the previews and the thumbnail of ``result``, then release its full images
    (they load again from the cache when asked for). Slow: run it off the UI thread.

    Raises:
        OSError: an image file of the run is missing or unreadable.
    """
    from ..images import thumbnail_bytes
    from .media import media_of, placeholder

    images = result.images
    previews = tuple(preview_bytes(image) for image in images)
    media = media_of(result)
    thumb = (thumbnail_bytes(images[0], THUMB_SIDE) if images else
             placeholder(media[0].kind, THUMB_SIDE) if media else b"")
    sizes = tuple((image.width, image.height) for image in images)
    result.release_images()
    return Entry(number, result, batch, previews, thumb, sizes, earlier, position, media)
