"""How one output looks in a notebook: an image thumbnail, a video or audio player, text, or
a link to the file. Used by ``Result._repr_html_``.

Videos and audio under `EMBED_LIMIT` bytes are embedded as data URIs, so they play in any
notebook front end and survive a restart; larger ones are named with their local path
instead, so a saved notebook never carries megabytes (DESIGN.md, decision 10).

Example:
    >>> output_html(result.outputs[0], {})
    '<video controls ...'
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from PIL import Image

from .images import thumbnail_data_uri

__all__ = ["EMBED_LIMIT", "ShownOutput", "output_html", "text_html"]

#: Largest video or audio file embedded in a notebook's HTML (bytes).
EMBED_LIMIT = 1_000_000
_THUMB = 256
_TEXT_LIMIT = 4000


class ShownOutput(Protocol):
    """What the view reads of an output (`results.Output`)."""

    @property
    def name(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def kind(self) -> str: ...
    def text(self) -> str: ...


def output_html(output: ShownOutput, images: Mapping[int, Image.Image]) -> str:
    """The HTML of one output (``images``: loaded images by ``id(output)``)."""
    kind = output.kind
    if kind == "image":
        image = images.get(id(output))
        if image is None:
            return _file_html(output)
        uri = thumbnail_data_uri(image, _THUMB)
        return (f'<img src="{uri}" width="{min(_THUMB, image.width)}" '
                f'style="margin:2px;border-radius:4px" alt="output {image.width}x{image.height}" '
                f'title="{image.width}x{image.height}">')
    if kind in ("video", "audio"):
        data = _small_file(output.path)
        if data is None:
            return _file_html(output)
        uri = f"data:{output.content_type};base64,{base64.b64encode(data).decode()}"
        if kind == "video":
            return (f'<video controls loop muted playsinline width="{_THUMB}" '
                    f'style="margin:2px;border-radius:4px" src="{uri}" '
                    f'title="{html.escape(output.name)}"></video>')
        return f'<audio controls src="{uri}" title="{html.escape(output.name)}"></audio>'
    if kind == "text" and output.path:
        return text_html(output.text())
    return _file_html(output)


def text_html(text: str) -> str:
    """Text output in a small scrolling box (long text cut, with a note)."""
    shown = text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + " …"
    return ('<pre class="wiro-text" style="white-space:pre-wrap;max-height:16em;'
            'overflow:auto;margin:2px;padding:6px;border:1px solid #ddd;border-radius:4px">'
            f"{html.escape(shown)}</pre>")


def _file_html(output: ShownOutput) -> str:
    where = html.escape(output.path or "not downloaded")
    return (f'<div class="wiro-file" style="font-size:85%">{html.escape(output.name)} '
            f"({html.escape(output.content_type)}): <code>{where}</code></div>")


def _small_file(path: str) -> bytes | None:
    if not path:
        return None
    file = Path(path)
    try:
        if file.stat().st_size > EMBED_LIMIT:
            return None
        return file.read_bytes()
    except OSError:
        return None



