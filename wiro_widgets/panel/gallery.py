"""Results in the panel: the selected run shown large, and the history strip.

The viewer holds downscaled JPEG previews (at most 768 px) and the strip ~160 px thumbnails,
never the full-resolution files: those bytes travel to the browser and stay in a notebook saved
with widget state. Full images stay on disk and in ``Result.images``.

Example:
    >>> gallery = Gallery()
    >>> gallery.add(result)             # from the worker thread: trait assignments only
    >>> gallery.selected is result
    True
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as w
from PIL import Image

from ..images import thumbnail_bytes
from ..results import Result
from ..specs import get_spec
from .theme import esc

__all__ = ["PREVIEW_QUALITY", "PREVIEW_SIDE", "THUMB_SIDE", "Gallery", "preview_bytes"]

PREVIEW_SIDE = 768
#: Quality 80 keeps a photo-like 768 px preview near 125 kB, under the 150 kB a saved notebook
#: may grow per image (BENCHMARKS.md, figure 4); 85 went over.
PREVIEW_QUALITY = 80
THUMB_SIDE = 160


def preview_bytes(image: Image.Image, max_side: int = PREVIEW_SIDE,
                  quality: int = PREVIEW_QUALITY) -> bytes:
    """A JPEG of ``image`` no larger than ``max_side`` on its longer side.

    Example:
        >>> len(preview_bytes(big_image)) < 300_000
        True
    """
    return thumbnail_bytes(image, max_side, quality=quality)


def image_size(data: bytes) -> tuple[int, int]:
    """Pixel size of encoded image bytes (without decoding the pixels)."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        return int(width), int(height)


@dataclass(frozen=True)
class Entry:
    """One run in the history, with its display bytes made once."""

    number: int
    result: Result
    previews: tuple[bytes, ...]
    thumb: bytes


def make_entry(number: int, result: Result) -> Entry:
    """Encode the previews and the thumbnail of ``result`` (slow part: run it off the UI)."""
    images = result.images
    previews = tuple(preview_bytes(image) for image in images)
    thumb = thumbnail_bytes(images[0], THUMB_SIDE) if images else b""
    return Entry(number, result, previews, thumb)


def caption_html(entry: Entry) -> str:
    """The parameters of one run, HTML-escaped: seed first, then those the model's form
    hints name for captions."""
    result = entry.result
    params = result.params
    spec = get_spec(result.model)
    facts = [f"<b>#{entry.number}</b>", f"seed <code>{esc(result.seed)}</code>"]
    for key in spec.form_hints().caption if spec is not None else ():
        if key in params:
            value = params[key]
            label = spec.param(key).zero_label if spec is not None else ""
            if value == 0 and label:
                value = label
            facts.append(f"{esc(key.replace('_', ' '))} <code>{esc(value)}</code>")
    files = result.file_param
    refs = (params.get(files) if files else None) or []
    if refs:
        facts.append(f"{len(refs)} reference image{'s' if len(refs) != 1 else ''}")
    images = result.images
    if images:
        facts.append(esc(f"{images[0].width}×{images[0].height} px"))
    facts.append(esc(f"task {result.task_id}"))
    if result.wall_time or result.elapsed:
        facts.append(esc(f"{result.wall_time or result.elapsed:.1f} s"))
    if result.cost:
        facts.append(esc(f"${result.cost:.4f}"))
    prompt = esc(result.prompt[:600])
    return (f'<div class="wiro-caption"><div>{" · ".join(facts)}</div>'
            f'<div style="margin-top:2px;color:#4b5563">{prompt}</div></div>')


class Gallery:
    """The viewer, its actions, and the history strip.

    Args:
        on_reuse: called with the selected `Result` by "reuse settings".
        on_use_reference: called with the selected `Result` by "use as reference".
        on_save: called with the selected `Result` by "save".

    Attributes:
        viewer: box of preview images (CSS class ``wiro-output``).
        strip: history thumbnails, newest first (class ``wiro-history``).
        entries: every run, oldest first.
    """

    def __init__(self, on_reuse: Callable[[Result], object],
                 on_use_reference: Callable[[Result], object],
                 on_save: Callable[[Result], object]) -> None:
        self.entries: list[Entry] = []
        self._selected: Entry | None = None
        self._tiles: dict[int, w.VBox] = {}
        self._images: list[w.Image] = []
        self.empty = w.HTML('<div class="wiro-empty">Images appear here. Write a prompt and '
                            "press Generate.</div>", layout=w.Layout(width="100%"))
        self.viewer = w.HBox([self.empty], layout=w.Layout(width="100%"))
        self.viewer.add_class("wiro-output")
        self.caption = w.HTML("")
        self.caption.add_class("wiro-result-caption")

        def button(text: str, icon: str, hook: str, tip: str,
                   action: Callable[[Result], object]) -> w.Button:
            b = w.Button(description=text, icon=icon, tooltip=tip, disabled=True,
                         layout=w.Layout(width="auto"))
            b.add_class(hook)
            b.on_click(lambda _b: self._act(action))
            return b

        self.reuse = button("Reuse settings", "undo", "wiro-reuse",
                            "Load this run's settings into the form, seed included", on_reuse)
        self.use_reference = button("Use as reference", "plus-square", "wiro-use-ref",
                                    "Add this image as the next reference image",
                                    on_use_reference)
        self.save = button("Save", "download", "wiro-save",
                           "Write the image files with their parameters embedded", on_save)
        self.actions = w.HBox([self.reuse, self.use_reference, self.save],
                              layout=w.Layout(display="none"))
        self.actions.add_class("wiro-row")
        self.history_title = w.HTML("")
        self.history_title.add_class("wiro-section")
        self.strip = w.HBox([], layout=w.Layout(width="100%"))
        self.strip.add_class("wiro-history")
        self.widget = w.VBox([self.viewer, self.caption, self.actions, self.history_title,
                              self.strip], layout=w.Layout(width="100%"))

    @property
    def selected(self) -> Result | None:
        return self._selected.result if self._selected else None

    @property
    def selected_entry(self) -> Entry | None:
        return self._selected

    def _act(self, action: Callable[[Result], object]) -> None:
        if self._selected is not None:
            action(self._selected.result)

    def add(self, result: Result) -> Entry:
        """Add a finished run to the history and show it (safe from the worker thread)."""
        entry = make_entry(len(self.entries) + 1, result)
        self.entries.append(entry)
        tile = self._tile(entry)
        self._tiles[entry.number] = tile
        self.strip.children = (tile, *self.strip.children)
        self.history_title.value = esc(f"History · {len(self.entries)} run"
                                       f"{'s' if len(self.entries) != 1 else ''}")
        self.select(entry.number)
        return entry

    def _tile(self, entry: Entry) -> w.VBox:
        picture = w.Image(value=entry.thumb, format="jpeg",
                          layout=w.Layout(max_width="120px", max_height="120px",
                                          width="auto", height="auto"))
        label = f"#{entry.number} · seed {entry.result.seed}"
        show = w.Button(description=label, tooltip=f"Show run #{entry.number} large: "
                        f"{entry.result.prompt[:120]}", layout=w.Layout(width="124px"))
        show.add_class("wiro-history-show")
        show.on_click(lambda _b: self.select(entry.number))
        tile = w.VBox([picture, show])
        tile.add_class("wiro-thumb")
        return tile

    def select(self, number: int) -> Entry:
        """Show run ``number`` (1-based, as labelled) large with its parameters."""
        entry = self.entries[number - 1]
        self._selected = entry
        while len(self._images) < len(entry.previews):
            image = w.Image(format="jpeg")
            image.add_class("wiro-output-image")
            self._images.append(image)
        shown = []
        for image, data in zip(self._images, entry.previews, strict=False):
            width, _height = image_size(data)
            image.value = data
            image.layout.width = f"{width}px"
            shown.append(image)
        self.viewer.children = tuple(shown) if shown else (self.empty,)
        self.caption.value = caption_html(entry)
        self.actions.layout.display = ""
        for button in (self.reuse, self.use_reference, self.save):
            button.disabled = False
        for key, tile in self._tiles.items():
            if key == number:
                tile.add_class("wiro-selected")
            else:
                tile.remove_class("wiro-selected")
        return entry
