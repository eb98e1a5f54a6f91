"""Reference images for the panel: an uploader that accumulates, thumbnails, URLs, order.

The ipywidgets uploader replaces its value on every pick, so this keeps its own ordered list:
each pick is checked (is it an image, is it too large, is there room), added, and the
uploader is emptied again so the file bytes do not linger in widget state. Uploads are kept
as files in an `UploadStore` folder. Each tile has its "image N" label (the name prompts
use), buttons to move it left or right (the order is the numbering) and to remove it; URL
references show a thumbnail the browser loads itself. Ten references fit in a compact strip.

Example:
    >>> refs = ReferenceList(store=UploadStore("wiro-uploads"))
    >>> refs.add_image("cat.png", png_bytes)
    >>> refs.add_url("https://example.com/dog.jpg")
    >>> refs.move(1, -1); [r.name for r in refs.items]
    ['dog.jpg', 'cat.png']
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ipywidgets as w

from ..protocol import MAX_UPLOAD_BYTES
from ..references import Reference
from .theme import esc
from .uploads import UploadStore

__all__ = ["MAX_REFERENCES", "THUMB_SIDE", "ReferenceList", "format_bytes", "thumbnail_of"]

MAX_REFERENCES = 10
#: The longer side of a reference's thumbnail, in pixels.
THUMB_SIDE = 96
#: More references than this switch the strip to small tiles (ten fit in two rows).
COMPACT_AFTER = 4
#: The rest of a pick whose large files the browser refused arrives within this time.
_SAME_PICK_SECONDS = 30.0


def thumbnail_of(ref: Reference, side: int = THUMB_SIDE) -> bytes:
    """A small JPEG of a reference's image; empty for URLs (the browser shows those itself)
    and for bytes that do not decode.

    Example:
        >>> thumbnail_of(Reference.from_bytes("a.png", png_bytes))[:3]
        b'\xff\xd8\xff'
    """
    from ..images import decode_image, thumbnail_bytes

    if ref.is_url:
        return b""
    try:
        with decode_image(ref.read_bytes()) as image:
            return thumbnail_bytes(image, side)
    except (OSError, ValueError):
        return b""


def shown_url(url: str) -> str:
    """``url`` without a user name or password (never shown, and browsers refuse them in
    image addresses anyway).

    Example:
        >>> shown_url("https://me:pw@example.com/a.png")
        'https://example.com/a.png'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=host))


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
        store: where uploads are kept as files (None: in memory).

    Attributes:
        widget: uploader, URL field, message line and thumbnail strip, as one box.
        uploader: the `FileUpload` (``multiple=True``, images only).
        strip: the box of thumbnails (CSS class ``wiro-references``).
    """

    def __init__(self, limit: int = MAX_REFERENCES, max_bytes: int = MAX_UPLOAD_BYTES,
                 store: UploadStore | None = None) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self.store = store
        self._items: list[tuple[int, Reference]] = []
        self._tiles: dict[int, tuple[w.VBox, w.HTML]] = {}
        self._keys = itertools.count(1)
        self._listeners: list[Callable[[], None]] = []
        self._early: tuple[list[str], float] = ([], 0.0)

        self.uploader = w.FileUpload(
            accept="image/png,image/jpeg,image/webp,image/gif", multiple=True,
            description="Add images", icon="upload",
            tooltip=f"Pick one or more images; they add up, to {limit}. PNG, JPEG, WebP or GIF, "
            f"at most {format_bytes(max_bytes)} each.",
            layout=w.Layout(width="auto"),
        )
        self.uploader.add_class("wiro-upload")
        self.url = w.Text(placeholder="https://… image URL, then Enter",
                          layout=w.Layout(flex="1 1 auto", width="auto"),
                          tooltip="Add a reference by http(s) URL (Enter adds it); the server "
                          "fetches it.")
        self.url.add_class("wiro-ref-url-input")
        self.url.on_msg(self._url_message)
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
        url_row = w.HBox([self.url, self.add_url_button], layout=w.Layout(width="100%"))
        url_row.add_class("wiro-row")
        self.widget = w.VBox([tools, url_row, self.message, self.strip],
                             layout=w.Layout(width="100%"))
        self.widget.add_class("wiro-refs")
        self._refresh()

    # -- reading ---------------------------------------------------------------------------
    @property
    def items(self) -> tuple[Reference, ...]:
        """The references in order: ``items[0]`` is "image 1"."""
        return tuple(ref for _key, ref in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after references are added, moved or removed."""
        self._listeners.append(callback)

    # -- adding ----------------------------------------------------------------------------
    def add(self, ref: Reference) -> None:
        """Append one reference (kept as a file when there is a store).

        Raises:
            ValueError: when the list is full or the file is too large.
        """
        if len(self._items) >= self.limit:
            raise ValueError(f"{ref.name} was not added: the model takes at most {self.limit} "
                             "reference images. Remove one first.")
        if (ref.size or 0) > self.max_bytes:
            raise ValueError(f"{ref.name} is {format_bytes(ref.size or 0)}; the limit is "
                             f"{format_bytes(self.max_bytes)} per image.")
        if self.store is not None:
            ref = self.store.put(ref)
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
            self.add(Reference.from_bytes(name, data))
        except ValueError as err:
            self.say([str(err)])
            raise
        self.say([])
        return self._items[-1][1]

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
                problems.append(self.too_large(name, size))
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

    def too_large(self, name: str, size: int) -> str:
        """The message for a file over the size limit."""
        return (f"{name} is {format_bytes(size)}; the limit is {format_bytes(self.max_bytes)} "
                "per image.")

    def refused_early(self, files: Iterable[Mapping[str, Any]]) -> None:
        """Files the browser refused before sending them (too large): say so. The rest of
        the same pick arrives a moment later; its messages join these."""
        self._early = ([self.too_large(str(f.get("name") or "image"), int(f.get("size") or 0))
                        for f in files], time.monotonic())
        self.say(self._early[0])

    def _uploaded(self, change: Mapping[str, Any]) -> None:
        entries = change["new"]
        if not entries:
            return
        problems = self.add_uploads(entries)
        # Emptied so the bytes leave the widget state (and a saved notebook).
        self.uploader.value = ()
        early, when = self._early
        self._early = ([], 0.0)
        fresh = time.monotonic() - when < _SAME_PICK_SECONDS
        self.say([*(early if fresh else []), *problems])

    def _url_message(self, _widget: Any, content: Mapping[str, Any], _buffers: Any) -> None:
        # The text box sends {"event": "submit"} when Enter is pressed in it.
        if content.get("event") == "submit":
            self._add_url_from_field()

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

    # -- changing ----------------------------------------------------------------------------
    def remove(self, index: int) -> Reference:
        """Remove "image ``index + 1``"; later images move up one number."""
        _key, ref = self._items.pop(index)
        self._refresh()
        self.say([])
        return ref

    def move(self, index: int, offset: int) -> None:
        """Move "image ``index + 1``" by ``offset`` places (-1: left); the numbers follow."""
        target = index + offset
        if not (0 <= index < len(self._items) and 0 <= target < len(self._items)):
            return
        item = self._items.pop(index)
        self._items.insert(target, item)
        self._refresh()

    def clear(self) -> None:
        """Remove every reference."""
        self._items.clear()
        self._refresh()
        self.say([])

    def _index_of(self, key: int) -> int | None:
        return next((i for i, (k, _r) in enumerate(self._items) if k == key), None)

    def _on_tile(self, key: int, action: str) -> None:
        index = self._index_of(key)
        if index is None:
            return
        if action == "remove":
            self.remove(index)
        else:
            self.move(index, -1 if action == "left" else 1)

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
            picture = w.Image(value=thumb, format="jpeg")
        else:
            url = esc(shown_url(ref.url or ""))
            # The browser loads the thumbnail itself; offline (or refused) it says "URL".
            picture = w.HTML(f'<div class="wiro-ref-url" title="{url}"><span>URL</span>'
                             f'<img src="{url}" alt="" referrerpolicy="no-referrer" '
                             'loading="lazy" onerror="this.remove()"></div>')
        picture.add_class("wiro-ref-picture")
        label = w.HTML("")
        label.add_class("wiro-ref-label")

        def button(icon: str, hook: str, tip: str, action: str) -> w.Button:
            made = w.Button(icon=icon, tooltip=tip, layout=w.Layout(width="auto"))
            made.add_class(hook)
            made.on_click(lambda _b: self._on_tile(key, action))
            return made

        row = w.HBox([button("arrow-left", "wiro-ref-left", "Move left (one number down)",
                             "left"),
                      button("times", "wiro-ref-remove", f"Remove {ref.name}", "remove"),
                      button("arrow-right", "wiro-ref-right", "Move right (one number up)",
                             "right")])
        row.add_class("wiro-ref-buttons")
        tile = w.VBox([picture, label, row])
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
            # "image N" always shows in full; a long file name ends in an ellipsis (the
            # whole name is in the tooltip).
            label.value = (f'<span title="{esc(ref.name)} · {esc(size)}"><b>image {index}</b>'
                           f'<span class="wiro-ref-name">{esc(ref.name)}</span></span>')
            first, last = index == 1, index == len(self._items)
            row = tile.children[2]
            row.children[0].disabled = first
            row.children[2].disabled = last
            children.append(tile)
        self.strip.children = tuple(children)
        compact = len(self._items) > COMPACT_AFTER
        if compact:
            self.strip.add_class("wiro-refs-compact")
        else:
            self.strip.remove_class("wiro-refs-compact")
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
