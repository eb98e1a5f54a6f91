"""Presentation view: the selected run large and fitted to the screen, its prompt as a
caption in large type, and the prompt, Generate and Cancel right under it.

The image is a JPEG of at most `PRESENT_SIDE` px (and the preview budget), made from the full
image when the run is shown; CSS fits it to the viewport's height, so image and caption are
on screen at once on a laptop, a projector or in Voilà.

Example:
    >>> view = PresentView()
    >>> view.show(entry)          # the gallery's selected entry
    >>> view.row.children = (prompt, generate, cancel)   # moved here while presenting
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as w

from .labels import run_badges
from .theme import esc

if TYPE_CHECKING:
    from .previews import Entry

__all__ = ["PRESENT_SIDE", "PresentView"]

PRESENT_SIDE = 1024
_NOTHING = ('<div class="wiro-present-caption">Nothing to present yet: generate an image '
            "first.</div>")


class PresentView:
    """A large image with a caption and the controls to go again (CSS class
    ``wiro-present``).

    The prompt, Generate, Cancel and the status are the panel's own widgets: the panel moves
    them into `row` and `widget` while presenting (one view of each on the page at a time).

    Attributes:
        image: the large image (JPEG, class ``wiro-present-image``).
        caption: the prompt (escaped) and the run's key facts.
        row: the controls under the caption (class ``wiro-present-controls``).
        widget: all of it, centred.
    """

    def __init__(self) -> None:
        self.image = w.Image(format="jpeg", layout=w.Layout(display="none"))
        self.image.add_class("wiro-present-image")
        self.caption = w.HTML(_NOTHING, layout=w.Layout(width="100%"))
        self.caption.add_class("wiro-present-caption-box")
        self.row = w.HBox([], layout=w.Layout(width="100%"))
        self.row.add_class("wiro-present-controls")
        self.widget = w.VBox([self.image, self.caption, self.row],
                             layout=w.Layout(width="100%", display="none"))
        self.widget.add_class("wiro-present")
        self._shown: object = None

    def show(self, entry: Entry | None) -> None:
        """Show ``entry``'s first image and prompt (encoded once per run)."""
        from .previews import preview_bytes

        if entry is None or entry.result is self._shown:
            return
        result = entry.result
        images = result.images
        if not images:
            return
        self.image.value = preview_bytes(images[0], PRESENT_SIDE)
        result.release_images()
        self.image.layout.display = ""
        labels = run_badges(result, sandbox=True)  # SANDBOX, or REPLAY / REUSED
        sandbox = f" {labels}" if labels else ""
        width, height = entry.sizes[0] if entry.sizes else (0, 0)
        facts = f"#{entry.number} · seed {result.seed} · {width}×{height} px"
        self.caption.value = (f'<div class="wiro-present-caption" title="{esc(result.prompt)}">'
                              f"{esc(result.prompt)}</div>"
                              f'<div class="wiro-present-facts">{esc(facts)}{sandbox}</div>')
        self._shown = result
