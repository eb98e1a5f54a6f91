"""Outputs that are not images, in the panel: videos (`ipywidgets.Video`), audio
(`ipywidgets.Audio`), text (an LLM's answer) and other files (download links).

What an entry keeps is bounded, so a notebook saved with widget state stays small: a video or
audio file is embedded up to `MEDIA_LIMIT` bytes; a larger one plays from where Wiro serves it
(the browser loads it; no bytes in the widget state), or is named by its local path when there
is no such address. Text is kept up to `TEXT_LIMIT` characters, other files only as a link.
Every address shown has its user name and password stripped.

Example:
    >>> media = media_of(result)               # off the UI thread: reads the files
    >>> [m.kind for m in media]
    ['video']
    >>> media_widget(media[0])                 # an ipywidgets.Video
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as w

if TYPE_CHECKING:
    from ..results import Output, Result

__all__ = ["MEDIA_LIMIT", "TEXT_LIMIT", "Media", "media_of", "media_widget", "placeholder"]

#: The largest video or audio file embedded in the panel (bytes).
MEDIA_LIMIT = 2_000_000
#: The most characters of text an entry keeps.
TEXT_LIMIT = 20_000
#: The largest other file offered as an embedded download link.
_LINK_LIMIT = 1_000_000


@dataclass(frozen=True)
class Media:
    """One output that is not an image, as the panel shows it.

    Attributes:
        kind: ``video``, ``audio``, ``text`` or ``file``.
        name, content_type: as Wiro described the output.
        path: its local copy ("" when none).
        url: where Wiro serves it (userinfo stripped; "" when none).
        data: the embedded bytes (a small video or audio file), else empty.
        text: a text output's text (cut to `TEXT_LIMIT`).
    """

    kind: str
    name: str
    content_type: str
    path: str = ""
    url: str = ""
    data: bytes = b""
    text: str = ""


def media_of(result: Result) -> tuple[Media, ...]:
    """The outputs of ``result`` that are not images (reads small files; a worker thread's
    job). A task with no output at all but text (an LLM's ``debugoutput``) gives that text."""
    found = tuple(_one(o) for o in result.outputs if o.kind != "image")
    if not result.outputs:
        text = result.text
        if text:
            return (Media("text", "output", "text/plain", text=_cut(text)),)
    return found


def _one(output: Output) -> Media:
    from ..redaction import strip_userinfo

    url = strip_userinfo(output.url) if output.url.startswith(("http://", "https://")) else ""
    kind = output.kind
    base = Media(kind, output.name, output.content_type, output.path, url)
    if kind == "text":
        try:
            return Media(**{**base.__dict__, "text": _cut(output.text())})
        except OSError:
            return base
    limit = MEDIA_LIMIT if kind in ("video", "audio") else _LINK_LIMIT
    data = _small(output.path, limit)
    return Media(**{**base.__dict__, "data": data}) if data else base


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + " …"


def _small(path: str, limit: int) -> bytes:
    if not path:
        return b""
    try:
        file = Path(path)
        return file.read_bytes() if file.stat().st_size <= limit else b""
    except OSError:
        return b""


def media_widget(media: Media) -> w.DOMWidget:
    """The widget showing one output: a player, the text, or a link (class
    ``wiro-output-<kind>``)."""
    subtype = media.content_type.split("/", 1)[-1].split(";")[0] or "mp4"
    widget: w.DOMWidget
    if media.kind == "video" and media.data:
        widget = w.Video(value=media.data, format=subtype, autoplay=False, loop=False,
                         controls=True, layout=w.Layout(max_width="100%", width="512px"))
    elif media.kind == "video" and media.url:
        widget = w.Video.from_url(media.url, autoplay=False, loop=False, controls=True,
                                  layout=w.Layout(max_width="100%", width="512px"))
    elif media.kind == "audio" and (media.data or media.url):
        widget = (w.Audio(value=media.data, format=subtype, autoplay=False, loop=False,
                          controls=True) if media.data else
                  w.Audio.from_url(media.url, autoplay=False, loop=False, controls=True))
    elif media.kind == "text":
        from ..output_view import text_html

        widget = w.HTML(text_html(media.text), layout=w.Layout(width="100%"))
    else:
        widget = w.HTML(link_html(media), layout=w.Layout(width="100%"))
    widget.add_class(f"wiro-output-{media.kind}")
    return widget


def link_html(media: Media) -> str:
    """A download link to a file output: where Wiro serves it, else its bytes embedded when
    small, else its local path."""
    name = html.escape(media.name or "output")
    what = html.escape(media.content_type)
    if media.url:
        href = html.escape(media.url, quote=True)
    elif media.data:
        href = f"data:{what};base64,{base64.b64encode(media.data).decode()}"
    else:
        where = html.escape(media.path or "not downloaded")
        return f'<div class="wiro-file">{name} ({what}): <code>{where}</code></div>'
    return (f'<div class="wiro-file"><a href="{href}" download="{name}" target="_blank" '
            f'rel="noopener">{name}</a> ({what})'
            + (f" · <code>{html.escape(media.path)}</code>" if media.path else "") + "</div>")


def placeholder(kind: str, side: int = 160) -> bytes:
    """A small JPEG tile naming an output kind (a history thumbnail for runs without an
    image)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (side, side * 3 // 4), (48, 52, 64))
    ImageDraw.Draw(image).text((10, side * 3 // 8 - 6), kind.upper(), fill=(230, 230, 235))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()
