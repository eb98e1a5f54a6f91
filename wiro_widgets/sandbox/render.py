"""Deterministic procedural images for the sandbox, so results look different per seed and
parameters but are never mistaken for model output.

The same parameters (seed, prompt, steps, guidance, safety tolerance, size and reference
images) give the same pixels and, per format, the same bytes. The seed drives the palette
and the shapes; steps set the level of detail; guidance the colour strength; the first
reference image is blended into the background and every reference appears as a labelled
inset (``image 1`` .. ``image N``). The prompt and seed are written small at the top and a
red ``SANDBOX`` badge sits in the top-right corner.

Example:
    >>> spec = RenderSpec(prompt="a red fox", seed=7, width=512, height=512)
    >>> png = render(spec)                       # bytes of a real PNG
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = ["RenderSpec", "output_size", "placeholder_image", "render", "snap_size"]

_MIN_SIDE, _MAX_SIDE, _MULTIPLE = 64, 2048, 16
_BADGE = (200, 16, 40)
_WHITE = (255, 255, 255)
_INK = (18, 20, 28)


@dataclass(frozen=True)
class RenderSpec:
    """Everything that decides the pixels of one output.

    Attributes:
        prompt: the prompt text (drawn small, and part of the pattern's seed).
        seed: the task's seed.
        width, height: output size in pixels (already resolved; never 0).
        steps: inference steps (more steps, finer pattern).
        guidance: guidance scale (higher, stronger colours).
        safety_tolerance: part of the pattern's seed only.
        output_format: ``png`` or ``jpeg``.
        references: decoded reference images, in order.
        reference_ids: a stable id per reference (e.g. its sha256), for the pattern's seed.
    """

    prompt: str
    seed: int
    width: int
    height: int
    steps: int = 50
    guidance: float = 4.5
    safety_tolerance: int = 2
    output_format: str = "png"
    references: tuple[Image.Image, ...] = field(default=(), compare=False)
    reference_ids: tuple[str, ...] = ()

    def key(self) -> bytes:
        """The digest that seeds every random choice of the picture."""
        material = [self.seed, self.prompt, self.steps, round(float(self.guidance), 4),
                    self.safety_tolerance, self.width, self.height, list(self.reference_ids)]
        return hashlib.sha256(json.dumps(material).encode()).digest()


def snap_size(side: int) -> int:
    """A pixel size rounded to a multiple of 16 and clamped to 64..2048.

    Example:
        >>> snap_size(1000), snap_size(200), snap_size(10), snap_size(5000)
        (1008, 208, 64, 2048)
    """
    snapped = int(side / _MULTIPLE + 0.5) * _MULTIPLE  # halves round up, not to even
    return max(_MIN_SIDE, min(_MAX_SIDE, snapped))


def output_size(width: int, height: int,
                first_reference: tuple[int, int] | None) -> tuple[int, int]:
    """The output size: 0 on a side means the first reference image's side, snapped.

    Example:
        >>> output_size(0, 512, (801, 600))
        (800, 512)
    """
    ref_w, ref_h = first_reference or (1024, 1024)
    return (width or snap_size(ref_w), height or snap_size(ref_h))


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's embedded font: the same glyphs on every machine, no system font needed.
    return ImageFont.load_default(size=size)


def _text_width(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _palette(rng: random.Random, guidance: float) -> list[tuple[int, int, int]]:
    strength = 0.3 + 0.7 * min(1.0, max(0.0, (guidance - 1.5) / 8.5))
    colours = []
    for _ in range(4):
        base = [rng.randint(0, 255) for _ in range(3)]
        grey = sum(base) / 3
        colours.append(tuple(int(grey + (c - grey) * strength) for c in base))
    return colours  # type: ignore[return-value]


def _background(spec: RenderSpec, rng: random.Random,
                palette: list[tuple[int, int, int]]) -> Image.Image:
    detail = 3 + max(1, spec.steps) // 7
    cols = detail if spec.width >= spec.height else max(2, detail * spec.width // spec.height)
    rows = detail if spec.height >= spec.width else max(2, detail * spec.height // spec.width)
    cells = []
    for _ in range(cols * rows):
        r, g, b = rng.choice(palette)
        jitter = rng.randint(-40, 40)
        cells.append((max(0, min(255, r + jitter)), max(0, min(255, g + jitter)),
                      max(0, min(255, b + jitter))))
    small = Image.new("RGB", (cols, rows))
    small.putdata(cells)
    smooth = small.resize((spec.width, spec.height), Image.Resampling.BICUBIC)
    # 5 bits a channel: barely visible banding, and PNG encoding gets ~40% faster.
    return ImageOps.posterize(smooth, 5)


def _shapes(image: Image.Image, rng: random.Random, palette: list[tuple[int, int, int]]) -> None:
    draw = ImageDraw.Draw(image)
    w, h = image.size
    line = max(1, min(w, h) // 120)
    for _ in range(rng.randint(5, 11)):
        x0, y0 = rng.randint(-w // 4, w), rng.randint(-h // 4, h)
        size = rng.randint(min(w, h) // 10, max(2, min(w, h) // 2))
        box = (x0, y0, x0 + size, y0 + size)
        colour = rng.choice(palette)
        kind = rng.random()
        if kind < 0.4:
            draw.ellipse(box, outline=colour, width=line * 2)
        elif kind < 0.7:
            draw.ellipse(box, fill=colour)
        elif kind < 0.85:
            draw.rectangle(box, outline=colour, width=line * 2)
        else:
            points = [(rng.randint(-w // 4, w), rng.randint(-h // 4, h)) for _ in range(3)]
            draw.polygon(points, fill=colour)


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop ``image`` to fill ``size``."""
    w, h = size
    scale = max(w / image.width, h / image.height)
    crop_w, crop_h = min(image.width, round(w / scale)), min(image.height, round(h / scale))
    left, top = (image.width - crop_w) // 2, (image.height - crop_h) // 2
    region = image.crop((left, top, left + crop_w, top + crop_h))
    return region.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _insets(image: Image.Image, references: tuple[Image.Image, ...]) -> None:
    w, h = image.size
    count = len(references)
    margin = max(2, min(w, h) // 64)
    tile = min(max(16, min(w, h) // 5), (w - margin * (count + 1)) // count)
    if tile < 8:
        return
    font = _font(max(8, min(18, tile // 6)))
    draw = ImageDraw.Draw(image)
    top = h - tile - margin
    for index, ref in enumerate(references, start=1):
        left = margin + (index - 1) * (tile + margin)
        thumb = _rgb(ref).copy()
        thumb.thumbnail((tile - 4, tile - 4), Image.Resampling.BILINEAR, reducing_gap=2.0)
        draw.rectangle((left, top, left + tile - 1, top + tile - 1), fill=_WHITE)
        image.paste(thumb, (left + (tile - thumb.width) // 2, top + (tile - thumb.height) // 2))
        label = f"image {index}"
        label_w = _text_width(font, label)
        box = (left, top, left + label_w + 6, top + font.size + 6)  # type: ignore[union-attr]
        draw.rectangle(box, fill=_INK)
        draw.text((left + 3, top + 2), label, fill=_WHITE, font=font)


def _caption(image: Image.Image, spec: RenderSpec) -> None:
    w, h = image.size
    size = max(8, min(22, min(w, h) // 40))
    font = _font(size)
    chars = max(10, int(w * 0.6 / (size * 0.55)))
    lines = textwrap.wrap(_clean(spec.prompt), chars)[:3] or [""]
    if len(textwrap.wrap(_clean(spec.prompt), chars)) > 3:
        lines[-1] = lines[-1][: max(0, chars - 3)] + "..."
    lines.append(
        f"seed {spec.seed} | {spec.steps} steps | guidance {spec.guidance:g} | {w}x{h}"
    )
    pad = max(2, size // 3)
    block_h = len(lines) * (size + pad) + pad
    block_w = max(_text_width(font, line) for line in lines) + 2 * pad
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, min(w, block_w), min(h, block_h)), fill=_INK)
    for row, text in enumerate(lines):
        draw.text((pad, pad + row * (size + pad)), text, fill=_WHITE, font=font)


def _badge(image: Image.Image) -> None:
    w, h = image.size
    size = max(9, min(96, min(w, h) // 12))
    font = _font(size)
    text = "SANDBOX"
    text_w = _text_width(font, text)
    pad = max(2, size // 4)
    box = (w - text_w - 3 * pad, 0, w, size + 3 * pad)
    draw = ImageDraw.Draw(image)
    draw.rectangle(box, fill=_BADGE, outline=_WHITE, width=max(1, pad // 2))
    draw.text((box[0] + pad * 1.5, pad), text, fill=_WHITE, font=font)


def render(spec: RenderSpec) -> bytes:
    """Draw the sandbox picture for ``spec`` and encode it as PNG or JPEG.

    Example:
        >>> render(RenderSpec(prompt="x", seed=1, width=64, height=64))[:4]
        b'\\x89PNG'
    """
    rng = random.Random(spec.key())
    palette = _palette(rng, spec.guidance)
    image = _background(spec, rng, palette)
    _shapes(image, rng, palette)
    if spec.references:
        backdrop = _cover(_rgb(spec.references[0]), image.size)
        image = Image.blend(image, backdrop, 0.55)
        _insets(image, spec.references)
    _caption(image, spec)
    _badge(image)
    return _encode(image, spec.output_format)


def _encode(image: Image.Image, output_format: str) -> bytes:
    buffer = io.BytesIO()
    if output_format == "jpeg":
        image.save(buffer, format="JPEG", quality=90)
    else:
        # Level 1: several times faster than the default, and still deterministic.
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def placeholder_image(url: str, size: tuple[int, int] = (512, 384)) -> bytes:
    """The stand-in picture for an http(s) URL the sandbox cannot fetch (it has no network).

    Its colours are derived from the URL, so the same URL always gives the same bytes, and it
    shows the host and file name so you can tell references apart in the result.

    Example:
        >>> placeholder_image("https://example.com/a.png") == placeholder_image(
        ...     "https://example.com/a.png")
        True
    """
    rng = random.Random(hashlib.sha256(url.encode()).digest())
    palette = [tuple(rng.randint(30, 230) for _ in range(3)) for _ in range(3)]
    small = Image.new("RGB", (3, 2))
    small.putdata([rng.choice(palette) for _ in range(6)])
    image = small.resize(size, Image.Resampling.BICUBIC)
    parts = urlsplit(url)
    name = parts.path.rsplit("/", 1)[-1] or "/"
    font = _font(18)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, size[1] - 80, size[0], size[1]), fill=_INK)
    for row, text in enumerate(("URL placeholder (sandbox has no network)",
                                parts.hostname or "", name[:48])):
        draw.text((10, size[1] - 76 + row * 24), text, fill=_WHITE, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
