"""Reference images for the panel: an uploader that accumulates, thumbnails, URLs.

The ipywidgets uploader replaces its value on every pick, so this keeps its own ordered list:
each pick is checked (is it an image, is it too large, is there room), added, and the
uploader is emptied again so the file bytes do not linger in widget state. Thumbnails are small
JPEGs; each has a remove button and its "image N" label, the name prompts use.

Example:
    >>> refs = ReferenceList()
    >>> refs.add_image("cat.png", png_bytes)
    >>> refs.add_url("https://example.com/dog.jpg")
    >>> [r.name for r in refs.items]
    ['cat.png', 'dog.jpg']
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ipywidgets as w

from ..images import decode_image, thumbnail_bytes
from ..protocol import MAX_UPLOAD_BYTES
from ..references import Reference
from .theme import esc

__all__ = ["MAX_REFERENCES", "THUMB_SIDE", "ReferenceList", "format_bytes", "thumbnail_of"]

MAX_REFERENCES = 10
#: The longer side of a reference's thumbnail, in pixels.
THUMB_SIDE = 96
_TILE_W, _TILE_H = "104px", "72px"


def thumbnail_of(ref: Reference, side: int = THUMB_SIDE) -> bytes:
    """A small JPEG of a reference's image; empty for URLs (they are not fetched) and for
    bytes that do not decode.

    Example:
        >>> thumbnail_of(Reference.from_bytes("a.png", png_bytes))[:3]
        b'\xff\xd8\xff'
    """
    if ref.is_url:
        return b""
    try:
        with decode_image(ref.read_bytes()) as image:
            return thumbnail_bytes(image, side)
    except (OSError, ValueError):
        return b""


def format_bytes(size: int) -> str:
    """A short human size.

    Example:
        >>> format_bytes(1_500_000)
        '1.4 MB'
    """
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


class ReferenceList:
    """Ordered reference images with their widgets.

    Args:
        limit: how many references the model takes.
        max_bytes: the largest file accepted.

    Attributes:
        widget: uploader, URL field, message line and thumbnail strip, as one box.
        uploader: the `FileUpload` (``multiple=True``, images only).
        strip: the box of thumbnails (CSS class ``wiro-references``).
    """

    def __init__(self, limit: int = MAX_REFERENCES, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self._items: list[tuple[int, Reference]] = []
        self._tiles: dict[int, tuple[w.VBox, w.HTML]] = {}
        self._keys = itertools.count(1)
        self._listeners: list[Callable[[], None]] = []

        self.uploader = w.FileUpload(
            accept="image/png,image/jpeg,image/webp,image/gif", multiple=True,
            description="Add images", icon="upload",
            tooltip=f"Pick one or more images; they add up, to {limit}. PNG, JPEG, WebP or GIF, "
            f"at most {format_bytes(max_bytes)} each.",
            layout=w.Layout(width="auto"),
        )
        self.uploader.add_class("wiro-upload")
        self.url = w.Text(placeholder="https://… image URL", layout=w.Layout(flex="1 1 auto"),
                          tooltip="Add a reference by http(s) URL; the server fetches it.")
        self.url.add_class("wiro-ref-url-input")
        self.add_url_button = w.Button(description="Add URL", layout=w.Layout(width="auto"),
                                       tooltip="Add the URL as the next reference image")
        self.add_url_button.add_class("wiro-add-url")
        self.clear_button = w.Button(description="Clear", icon="trash",
                                     layout=w.Layout(width="auto"),
                                     tooltip="Remove every reference image")
        self.clear_button.add_class("wiro-refs-clear")
        self.count = w.HTML("")
        self.count.add_class("wiro-readout")
        self.message = w.HTML("", layout=w.Layout(display="none"))
        self.message.add_class("wiro-msg")
        self.strip = w.HBox([], layout=w.Layout(width="100%"))
        self.strip.add_class("wiro-references")
        self.strip.add_class("wiro-refs-strip")

        self.uploader.observe(self._uploaded, names="value")
        self.add_url_button.on_click(lambda _b: self._add_url_from_field())
        self.clear_button.on_click(lambda _b: self.clear())
        tools = w.HBox([self.uploader, self.clear_button, self.count],
                       layout=w.Layout(align_items="center"))
        tools.add_class("wiro-row")
        self.widget = w.VBox([
            tools,
            w.HBox([self.url, self.add_url_button], layout=w.Layout(width="100%")),
            self.message,
            self.strip,
        ], layout=w.Layout(width="100%"))
        self._refresh()

    # -- reading ---------------------------------------------------------------------------
    @property
    def items(self) -> tuple[Reference, ...]:
        """The references in order: ``items[0]`` is "image 1"."""
        return tuple(ref for _key, ref in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after references are added or removed."""
        self._listeners.append(callback)

    # -- adding ----------------------------------------------------------------------------
    def add(self, ref: Reference) -> None:
        """Append one reference.

        Raises:
            ValueError: when the list is full or the file is too large.
        """
        if len(self._items) >= self.limit:
            raise ValueError(f"{ref.name} was not added: the model takes at most {self.limit} "
                             "reference images. Remove one first.")
        if (ref.size or 0) > self.max_bytes:
            raise ValueError(f"{ref.name} is {format_bytes(ref.size or 0)}; the limit is "
                             f"{format_bytes(self.max_bytes)} per image.")
        self._items.append((next(self._keys), ref))
        self._refresh()

    def add_image(self, name: str, data: bytes) -> Reference:
        """Check and append an image given as bytes; shows and raises the problem if any.

        Raises:
            ValueError: not an image, corrupt, too large, or no room left.
        """
        try:
            if len(data) > self.max_bytes:
                raise ValueError(f"{name} is {format_bytes(len(data))}; the limit is "
                                 f"{format_bytes(self.max_bytes)} per image.")
            if len(self._items) >= self.limit:
                raise ValueError(f"{name} was not added: the model takes at most {self.limit} "
                                 "reference images. Remove one first.")
            ref = Reference.from_bytes(name, data)
            self.add(ref)
        except ValueError as err:
            self.say([str(err)])
            raise
        self.say([])
        return ref

    def add_url(self, url: str) -> Reference:
        """Append an http(s) URL reference (the server fetches it).

        Raises:
            ValueError: not an http(s) URL, or no room left.
        """
        try:
            ref = Reference.from_url(url)
            self.add(ref)
        except ValueError as err:
            self.say([str(err)])
            raise
        self.say([])
        return ref

    def add_uploads(self, entries: Iterable[Mapping[str, Any]]) -> list[str]:
        """Add ``FileUpload`` entries in order; returns a message for each one refused."""
        problems: list[str] = []
        for entry in entries:
            name = str(entry.get("name") or "image")
            size = int(entry.get("size") or 0)
            if size > self.max_bytes:
                problems.append(f"{name} is {format_bytes(size)}; the limit is "
                                f"{format_bytes(self.max_bytes)} per image.")
                continue
            if len(self._items) >= self.limit:
                problems.append(f"{name} was not added: the model takes at most {self.limit} "
                                "reference images.")
                continue
            content = entry.get("content")
            data = content.tobytes() if isinstance(content, memoryview) else bytes(content or b"")
            try:
                self.add(Reference.from_bytes(name, data))
            except ValueError as err:
                problems.append(str(err))
        return problems

    def _uploaded(self, change: Mapping[str, Any]) -> None:
        entries = change["new"]
        if not entries:
            return
        problems = self.add_uploads(entries)
        # Emptied so the bytes leave the widget state (and a saved notebook).
        self.uploader.value = ()
        self.say(problems)

    def _add_url_from_field(self) -> None:
        text = self.url.value.strip()
        if not text:
            self.say(["Type an http(s) URL first."])
            return
        try:
            self.add_url(text)
        except ValueError:
            return
        self.url.value = ""

    # -- removing --------------------------------------------------------------------------
    def remove(self, index: int) -> Reference:
        """Remove "image ``index + 1``"; later images move up one number."""
        _key, ref = self._items.pop(index)
        self._refresh()
        self.say([])
        return ref

    def clear(self) -> None:
        """Remove every reference."""
        self._items.clear()
        self._refresh()
        self.say([])

    def _remove_key(self, key: int) -> None:
        for index, (item_key, _ref) in enumerate(self._items):
            if item_key == key:
                self.remove(index)
                return

    # -- showing ---------------------------------------------------------------------------
    def say(self, problems: list[str]) -> None:
        """Show messages about the last pick (empty list: hide the line)."""
        self.message.value = "<br>".join(f'<span class="wiro-error">{esc(p)}</span>'
                                         for p in problems)
        self.message.layout.display = "" if problems else "none"

    def _tile(self, key: int, ref: Reference) -> tuple[w.VBox, w.HTML]:
        picture: w.DOMWidget
        thumb = thumbnail_of(ref)
        if thumb:
            picture = w.Image(value=thumb, format="jpeg",
                              layout=w.Layout(width=_TILE_W, height=_TILE_H))
        else:
            picture = w.HTML(f'<div class="wiro-ref-url" title="{esc(ref.url)}">'
                             f"URL<br>{esc(ref.name[:40])}</div>")
        label = w.HTML("")
        label.add_class("wiro-ref-label")
        remove = w.Button(description="remove", icon="times", layout=w.Layout(width="104px"),
                          tooltip=f"Remove {ref.name}")
        remove.add_class("wiro-ref-remove")
        remove.on_click(lambda _b: self._remove_key(key))
        tile = w.VBox([picture, label, remove])
        tile.add_class("wiro-ref")
        return tile, label

    def _refresh(self) -> None:
        keys = {key for key, _ref in self._items}
        for key in list(self._tiles):
            if key not in keys:
                tile, _label = self._tiles.pop(key)
                for child in _descendants(tile):
                    child.close()
        children = []
        for index, (key, ref) in enumerate(self._items, start=1):
            if key not in self._tiles:
                self._tiles[key] = self._tile(key, ref)
            tile, label = self._tiles[key]
            size = f"{ref.width}×{ref.height}" if ref.width else "by URL"
            label.value = (f'<span title="{esc(ref.name)} · {esc(size)}"><b>image {index}</b> · '
                           f"{esc(ref.name)}</span>")
            children.append(tile)
        self.strip.children = tuple(children)
        self.count.value = esc(f"{len(self._items)} / {self.limit}")
        full = len(self._items) >= self.limit
        self.uploader.disabled = full
        self.add_url_button.disabled = full
        self.clear_button.disabled = not self._items
        for listener in list(self._listeners):
            listener()


def _descendants(widget: w.Widget) -> list[w.Widget]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(_descendants(child))
    return found
