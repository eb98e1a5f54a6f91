"""Results in the panel: the selected run shown large (with the rest of its batch), its
actions, and the history strip.

The viewer and the strip hold small JPEGs (`previews`), never the full-resolution files:
those bytes travel to the browser and stay in a notebook saved with widget state. Full
images stay on disk and load again from there when an action needs them.

Example:
    >>> gallery = Gallery(); gallery.on_action("save", save)
    >>> gallery.add(result, batch=gallery.new_batch())   # worker thread: traits only
    >>> gallery.selected is result
    True
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import ipywidgets as w

from .media import media_widget
from .previews import PREVIEW_SIDE, THUMB_SIDE, Entry, image_size, make_entry
from .theme import esc

if TYPE_CHECKING:
    from ..results import Result
    from ..schema import ModelSpec

__all__ = ["PREVIEW_SIDE", "THUMB_SIDE", "Gallery", "caption_html"]

#: Thumbnails kept in the history strip (older runs stay in `Gallery.entries`).
STRIP_LIMIT = 48


def caption_html(entry: Entry, spec: ModelSpec | None = None) -> str:
    """The parameters of one run, HTML-escaped: seed first, then those the model's form
    hints name for captions (``spec``'s when it is the run's model, else the built-in's)."""
    from ..redaction import redact
    from ..specs import get_spec
    from .labels import run_badges

    result = entry.result
    params = result.params
    if spec is None or spec.slug != result.model:
        spec = get_spec(result.model)
    facts = [f"<b>#{entry.number}</b>"]
    if result.seed is not None:
        facts.append(f"seed <code>{esc(result.seed)}</code>")
    for key in spec.form_hints().caption if spec is not None else ():
        if key in params:
            value = params[key]
            label = spec.param(key).zero_label if spec is not None else ""
            if value == 0 and label:
                value = label
            facts.append(f"{esc(key.replace('_', ' '))} <code>{esc(redact(str(value)))}</code>")
    files = result.file_param
    refs = (params.get(files) if files else None) or []
    if refs:
        facts.append(f"{len(refs)} reference image{'s' if len(refs) != 1 else ''}")
    if entry.sizes:
        facts.append(esc(f"{entry.sizes[0][0]}×{entry.sizes[0][1]} px"))
    facts.append(esc(f"task {result.task_id}"))
    if result.wall_time or result.elapsed:
        facts.append(esc(f"{result.wall_time or result.elapsed:.1f} s"))
    if result.cost:
        facts.append(esc(f"${result.cost:.4f}"))
    if entry.earlier:
        facts.append("from an earlier session")
    facts += [b for b in [run_badges(result)] if b]  # REPLAY / REUSED
    prompt = esc(redact(result.prompt[:600]))
    return (f'<div class="wiro-caption"><div>{" · ".join(facts)}</div>'
            f'<div class="wiro-caption-prompt">{prompt}</div></div>')


class Gallery:
    """The viewer, its actions, and the history strip.

    Call `on_action` to say what its buttons do.

    Attributes:
        viewer: the selected run's images and the rest of its batch (``wiro-output``).
        strip: history thumbnails, newest first (class ``wiro-history``).
        entries: every run, oldest first.
        download_link: where a download link appears (class ``wiro-download-link``).
    """

    def __init__(self, spec: ModelSpec | None = None) -> None:
        self.spec = spec
        self.entries: list[Entry] = []
        self._actions: dict[str, Callable[[Result], object]] = {}
        self._selected: Entry | None = None
        self._tiles: dict[int, w.VBox] = {}
        self._cells: list[tuple[w.VBox, w.Image, w.Button]] = []
        self._cell_targets: list[int] = []
        self._lock = threading.RLock()
        self._batches = 0
        self._next_number = 1
        self._blocks: dict[int, int] = {}
        self._by_number: dict[int, Entry] = {}
        self._select_listeners: list[Callable[[], object]] = []
        self.empty = w.HTML('<div class="wiro-empty">Images appear here. Write a prompt and '
                            "press Generate.</div>", layout=w.Layout(width="100%"))
        self.viewer = w.HBox([self.empty], layout=w.Layout(width="100%"))
        self.viewer.add_class("wiro-output")
        self.caption = w.HTML("")
        self.caption.add_class("wiro-result-caption")

        def button(text: str, icon: str, hook: str, tip: str, action: str) -> w.Button:
            b = w.Button(description=text, icon=icon, tooltip=tip, disabled=True,
                         layout=w.Layout(width="auto"))
            b.add_class(hook)
            b.on_click(lambda _b: self._act(action))
            return b

        self.reuse = button("Reuse settings", "undo", "wiro-reuse",
                            "Load this run's settings into the form, seed included", "reuse")
        self.use_reference = button("Use as reference", "plus-square", "wiro-use-ref",
                                    "Add this image as the next reference image", "reference")
        self.save = button("Save", "save", "wiro-save",
                           "Write the image files with their parameters embedded, next to "
                           "the notebook", "save")
        self.download = button("Download", "download", "wiro-download",
                               "Download the full image to this computer (works with a "
                               "remote Jupyter server too)", "download")
        self.download_link = w.HTML("")
        self.download_link.add_class("wiro-download-link")
        self.actions = w.HBox([self.reuse, self.use_reference, self.save, self.download,
                               self.download_link], layout=w.Layout(display="none"))
        self.actions.add_class("wiro-row")
        self.actions.add_class("wiro-result-actions")
        self.history_title = w.HTML("")
        self.history_title.add_class("wiro-section")
        self.strip = w.HBox([], layout=w.Layout(width="100%"))
        self.strip.add_class("wiro-history")
        self.widget = w.VBox([self.viewer, self.caption, self.actions, self.history_title,
                              self.strip], layout=w.Layout(width="100%"))
        self.widget.add_class("wiro-gallery")

    @property
    def selected(self) -> Result | None:
        return self._selected.result if self._selected else None

    @property
    def selected_entry(self) -> Entry | None:
        return self._selected

    def on_select(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` after the selection changes."""
        self._select_listeners.append(callback)

    def entry_of(self, result: Result) -> Entry | None:
        """The entry showing ``result``, if any."""
        with self._lock:
            return next((e for e in self.entries if e.result is result), None)

    def on_action(self, name: str, callback: Callable[[Result], object]) -> None:
        """Call ``callback(selected result)`` for the button ``name``: ``reuse``,
        ``reference``, ``save`` or ``download``."""
        self._actions[name] = callback

    def _act(self, name: str) -> None:
        action = self._actions.get(name)
        if self._selected is not None and action is not None:
            action(self._selected.result)

    # -- adding ------------------------------------------------------------------------------
    def new_batch(self, size: int = 1) -> int:
        """A key for the runs of one Generate press (they show together); their numbers
        (#N) are kept for them in batch order, whatever order they finish in."""
        with self._lock:
            self._batches += 1
            self._blocks[self._batches] = self._next_number
            self._next_number += max(1, size)
            return self._batches

    def add(self, result: Result, batch: int | None = None, position: int = 0) -> Entry:
        """Add a finished run and show it with its batch, at ``position`` in it (safe from
        worker threads)."""
        with self._lock:
            key = self.new_batch() if batch is None else batch
            if key not in self._blocks:
                self._blocks[key] = self._next_number
                self._next_number += position + 1
            entry = make_entry(self._blocks[key] + position, result, key, position=position)
            self._keep(entry)
            self._show_strip()
        # The batch's first run is picked when selecting, under the lock: decided here, a
        # slower thread could select a later run after a faster one had shown the first.
        self._select(lambda: min((e for e in self.entries if e.batch == key),
                                 key=lambda e: e.position))
        return entry

    def _keep(self, entry: Entry) -> None:
        self._by_number[entry.number] = entry
        self.entries.append(entry)
        self.entries.sort(key=lambda e: e.number)

    def restore(self, results: Sequence[Result]) -> int:
        """Add runs of earlier sessions (oldest first), without selecting them; returns how
        many could be shown (runs whose image files are gone are skipped)."""
        shown = 0
        for result in results:
            with self._lock:
                key = self.new_batch()
                try:
                    entry = make_entry(self._blocks[key], result, key, earlier=True)
                except (OSError, ValueError):
                    continue
                self._keep(entry)
                shown += 1
        with self._lock:
            self._show_strip()
        return shown

    def _show_strip(self) -> None:
        recent = self.entries[::-1][:STRIP_LIMIT]
        for entry in recent:
            if entry.number not in self._tiles:
                self._tiles[entry.number] = self._tile(entry)
        keep = {e.number for e in recent}
        for number in [n for n in self._tiles if n not in keep]:
            _close_all(self._tiles.pop(number))
        self.strip.children = tuple(self._tiles[e.number] for e in recent)
        earlier = sum(e.earlier for e in self.entries)
        count = len(self.entries)
        note = f" ({earlier} from earlier sessions)" if earlier else ""
        self.history_title.value = esc(f"History · {count} run{'s' if count != 1 else ''}"
                                       f"{note}")
        self._mark_selected()

    def _tile(self, entry: Entry) -> w.VBox:
        picture = w.Image(value=entry.thumb, format="jpeg",
                          layout=w.Layout(max_width="120px", max_height="120px",
                                          width="auto", height="auto"))
        label = _label(entry)
        show = w.Button(description=label, tooltip=f"Show run #{entry.number} large: "
                        f"{entry.result.prompt[:120]}", layout=w.Layout(width="124px"))
        show.add_class("wiro-history-show")
        show.on_click(lambda _b: self.select(entry.number))
        tile = w.VBox([picture, show])
        tile.add_class("wiro-thumb")
        return tile

    # -- showing -----------------------------------------------------------------------------
    def select(self, number: int) -> Entry:
        """Show run ``number`` (as labelled: #1 is the oldest) large with its parameters,
        beside the other runs of its batch."""
        return self._select(lambda: self._by_number[number])

    def _select(self, pick: Callable[[], Entry]) -> Entry:
        with self._lock:
            entry = pick()
            self._selected = entry
            batch = sorted((e for e in self.entries if e.batch == entry.batch),
                           key=lambda e: (e.position, e.number))
            previews = [(e, data) for e in batch for data in e.previews]
            media = tuple(media_widget(m) for e in batch for m in e.media)
            self._close_media()
            cells = self._cells_for(previews, entry) if previews else ()
            self.viewer.children = (*cells, *media) if cells or media else (self.empty,)
            columns = 1 if len(previews) <= 1 else 2 if len(previews) <= 4 else 4
            self.viewer._dom_classes = (
                *[c for c in self.viewer._dom_classes if not c.startswith("wiro-grid-")],
                f"wiro-grid-{columns}")
            self.caption.value = caption_html(entry, self.spec)
            self.download_link.value = ""
            self.actions.layout.display = ""
            self.reuse.disabled = False
            for button in (self.use_reference, self.save, self.download):
                button.disabled = not entry.previews  # image actions
            self._mark_selected()
        for listener in list(self._select_listeners):
            listener()
        return entry

    def _cells_for(self, previews: list[tuple[Entry, bytes]],
                   selected: Entry) -> tuple[w.DOMWidget, ...]:
        while len(self._cells) < len(previews):
            image = w.Image(format="jpeg")
            image.add_class("wiro-output-image")
            pick = w.Button(layout=w.Layout(width="auto"))
            pick.add_class("wiro-pick")
            slot = len(self._cells)
            self._cell_targets.append(0)
            pick.on_click(lambda _b, i=slot: self.select(self._cell_targets[i]))
            cell = w.VBox([image, pick])
            cell.add_class("wiro-cell")
            self._cells.append((cell, image, pick))
        shown: list[w.DOMWidget] = []
        for slot, ((cell, image, pick), (entry, data)) in enumerate(
                zip(self._cells, previews, strict=False)):
            width, _height = image_size(data)
            image.value = data
            image.layout.width = f"{width}px"
            if len(previews) == 1:
                shown.append(image)
                continue
            pick.description = _label(entry)
            pick.tooltip = f"Select run #{entry.number} (its caption and actions)"
            self._cell_targets[slot] = entry.number
            if entry is selected:
                cell.add_class("wiro-selected")
            else:
                cell.remove_class("wiro-selected")
            shown.append(cell)
        return tuple(shown)

    def _close_media(self) -> None:
        """Close the players of the run shown before (their bytes leave the widget state)."""
        for child in self.viewer.children:
            if any(c.startswith("wiro-output-") and c != "wiro-output-image"
                   for c in child._dom_classes):
                child.close()

    def _mark_selected(self) -> None:
        number = self._selected.number if self._selected else None
        for key, tile in self._tiles.items():
            if key == number:
                tile.add_class("wiro-selected")
            else:
                tile.remove_class("wiro-selected")


def _label(entry: Entry) -> str:
    """``#3 · seed 42`` (the seed left out for a model that has none)."""
    seed = entry.result.seed
    return f"#{entry.number}" + (f" · seed {seed}" if seed is not None else "")


def _close_all(widget: w.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close_all(child)
    widget.close()
