"""Presentation view: the last image large, its prompt as the caption, nothing else.

Example:
    >>> view = PresentView()
    >>> view.show(result)
"""

from __future__ import annotations

import ipywidgets as w

from ..results import Result
from .gallery import preview_bytes
from .theme import badge, esc

__all__ = ["PRESENT_SIDE", "PresentView"]

PRESENT_SIDE = 1280


class PresentView:
    """A large image with a caption (CSS class ``wiro-present``).

    Attributes:
        image: the large image (JPEG, at most 1280 px).
        caption: the prompt, escaped.
        widget: both, centred.
    """

    def __init__(self) -> None:
        self.image = w.Image(format="jpeg", layout=w.Layout(display="none"))
        self.image.add_class("wiro-present-image")
        self.caption = w.HTML('<div class="wiro-present-caption">Nothing to present yet: '
                              "generate an image first.</div>")
        self.caption.add_class("wiro-present-caption-box")
        self.widget = w.VBox([self.image, self.caption],
                             layout=w.Layout(width="100%", display="none"))
        self.widget.add_class("wiro-present")
        self._shown: Result | None = None

    def show(self, result: Result | None) -> None:
        """Show ``result``'s first image and prompt (encoded once per result)."""
        if result is None or result is self._shown:
            return
        images = result.images
        if not images:
            return
        self.image.value = preview_bytes(images[0], PRESENT_SIDE, quality=88)
        width = min(images[0].width, PRESENT_SIDE)
        self.image.layout.width = f"{width}px"
        self.image.layout.display = ""
        sandbox = f" {badge('SANDBOX', 'sandbox')}" if result.sandbox else ""
        self.caption.value = (f'<div class="wiro-present-caption">{esc(result.prompt)}'
                              f"{sandbox}</div>")
        self._shown = result
