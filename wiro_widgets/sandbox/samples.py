"""Wiro's sample inputs, played by pictures of the sandbox's own.

A model page's own Run sample names its inputs by Wiro's sample file names, not by URL: the
flux-2-flex page sends ``"inputImage": ["bfl-flux-2-flex-input-4-1.jpg", ...]``, files that
live at ``https://cdn.wiro.ai/uploads/sampleinputs/<name>`` (the page's "inspire" examples
give those URLs). The sandbox has no network and no copy of Wiro's pictures, so it resolves
each sample name, bare or as that URL, to a procedural picture of its own: derived from the
name (the same name always gives the same bytes), in the format its extension says, and
labelled "Wiro sample input" with the name and "SANDBOX stand-in", so nobody takes it for
Wiro's file.

Example:
    >>> sample_name("bfl-flux-2-flex-input-4-1.jpg")
    'bfl-flux-2-flex-input-4-1.jpg'
    >>> sample_name("https://cdn.wiro.ai/uploads/sampleinputs/bfl-flux-2-flex-input-5.jpg")
    'bfl-flux-2-flex-input-5.jpg'
    >>> data, content_type = sample_picture("bfl-flux-2-flex-input-4-1.jpg")
    >>> content_type
    'image/jpeg'
"""

from __future__ import annotations

import hashlib
import io
import random
import re
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

__all__ = ["SAMPLE_ROOT", "sample_name", "sample_picture", "sample_url"]

#: Where Wiro keeps its sample inputs (the flux-2-flex page's inspire URLs).
SAMPLE_ROOT = "https://cdn.wiro.ai/uploads/sampleinputs/"
#: A bare file name with an image extension: how a model page's Run sample names an input.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.(?:jpe?g|png|webp)", re.IGNORECASE)
_FORMATS = {"jpg": ("JPEG", "image/jpeg"), "jpeg": ("JPEG", "image/jpeg"),
            "png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}
# Landscape, portrait and square, as real sample photos come.
_SIZES = ((1024, 768), (768, 1024), (896, 896))
_INK, _WHITE, _BADGE = (18, 20, 28), (255, 255, 255), (200, 16, 40)


def sample_name(entry: str) -> str | None:
    """The sample file name ``entry`` refers to (a bare name, or its URL under
    `SAMPLE_ROOT`), or None when it is neither.

    Example:
        >>> sample_name("photos/cat.jpg") is None, sample_name("cat") is None
        (True, True)
    """
    text = entry.strip()
    if text.lower().startswith(SAMPLE_ROOT):
        text = text[len(SAMPLE_ROOT):]
    return text if _NAME.fullmatch(text) else None


def sample_url(name: str) -> str:
    """Where Wiro serves the sample ``name``.

    Example:
        >>> sample_url("a.jpg")
        'https://cdn.wiro.ai/uploads/sampleinputs/a.jpg'
    """
    return SAMPLE_ROOT + name


@lru_cache(maxsize=32)
def sample_picture(name: str) -> tuple[bytes, str]:
    """The sandbox's stand-in picture for the sample ``name``: its bytes and content type.

    Raises:
        ValueError: ``name`` is not a sample file name (see `sample_name`).
    """
    if sample_name(name) != name:
        raise ValueError(f"{name!r} is not a sample file name")
    rng = random.Random(hashlib.sha256(name.encode()).digest())
    size = rng.choice(_SIZES)
    corners = [tuple(rng.randint(40, 220) for _ in range(3)) for _ in range(4)]
    small = Image.new("RGB", (2, 2))
    small.putdata(corners)
    image = small.resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y, r = rng.randint(0, size[0]), rng.randint(0, size[1]), rng.randint(40, 220)
        draw.ellipse((x - r, y - r, x + r, y + r), outline=_WHITE, width=6)
    _label(draw, size, name)
    pil_format, content_type = _FORMATS[name.rsplit(".", 1)[1].lower()]
    buffer = io.BytesIO()
    image.save(buffer, format=pil_format, **({"quality": 90} if pil_format == "JPEG" else {}))
    return buffer.getvalue(), content_type


def _label(draw: ImageDraw.ImageDraw, size: tuple[int, int], name: str) -> None:
    width, height = size
    big, small = ImageFont.load_default(size=44), ImageFont.load_default(size=26)
    draw.rectangle((0, height - 150, width, height), fill=_INK)
    draw.text((24, height - 138), "Wiro sample input", fill=_WHITE, font=big)
    draw.text((24, height - 78), name[:60], fill=_WHITE, font=small)
    draw.rectangle((width - 330, 0, width, 64), fill=_BADGE)
    draw.text((width - 314, 10), "SANDBOX stand-in", fill=_WHITE, font=small)
