"""The "Copy as code" box: the ``client.run(...)`` call for the form, ready to paste.

The text follows the form at all times (so the browser can copy it the moment the button is
pressed); the box shows it, says whether it reached the clipboard, and closes. Edits made in
the box are put back: it shows what the form would send.

Example:
    >>> box = CodeBox()
    >>> box.set("result = client.run(...)"); box.show()
    >>> box.copied(True); "Copied" in box.note.value
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as w

from .theme import esc

__all__ = ["CodeBox", "to_next_cell"]


class CodeBox:
    """A read-only code view with Copy and Close.

    Attributes:
        text: the code (CSS class ``wiro-code``).
        copy: copies the code to the clipboard (``wiro-code-copy``).
        close: hides the box (``wiro-code-close``).
        note: what happened to the last copy (``wiro-code-note``).
        widget: all of it (``wiro-code-box``), hidden until shown.
    """

    def __init__(self) -> None:
        self.text = w.Textarea(value="", rows=12,
                               tooltip="Paste into a cell and run it; the uploads it names are "
                               "kept in the uploads folder.",
                               layout=w.Layout(width="100%", display="none"))
        self.text.add_class("wiro-code")
        self.copy = w.Button(description="Copy", icon="copy", layout=w.Layout(width="auto"),
                             tooltip="Copy the code to the clipboard")
        self.copy.add_class("wiro-code-copy")
        self.close = w.Button(icon="times", layout=w.Layout(width="34px"),
                              tooltip="Close the code box")
        self.close.add_class("wiro-code-close")
        self.note = w.HTML("")
        self.note.add_class("wiro-code-note")
        bar = w.HBox([self.note, self.copy, self.close], layout=w.Layout(width="100%"))
        bar.add_class("wiro-row")
        self.widget = w.VBox([bar, self.text], layout=w.Layout(width="100%", display="none"))
        self.widget.add_class("wiro-code-box")
        self._expected = ""
        self._stamp = 0
        self._note = ""
        self.text.observe(self._keep, names="value")
        self.close.on_click(lambda _b: self.hide())

    @property
    def shown(self) -> bool:
        return bool(self.widget.layout.display != "none")

    def set(self, code: str) -> None:
        """Replace the code (it is kept even while the box is closed)."""
        self._expected = code
        self.text.value = code

    def show(self) -> None:
        """Show the box; its stamp changes, which tells the browser the code is current (the
        panel's script copies it then)."""
        self._stamp += 1
        self._render_note()
        self.widget.layout.display = ""
        self.text.layout.display = ""

    def _render_note(self) -> None:
        self.note.value = (f'<span class="wiro-code-stamp" data-stamp="{self._stamp}"></span>'
                           f"{esc(self._note)}")

    def hide(self) -> None:
        self.widget.layout.display = "none"
        self.text.layout.display = "none"

    def copied(self, ok: bool) -> None:
        """Say where the code went (the browser reports whether the clipboard took it)."""
        self._note = ("Copied: paste it into a new cell (Ctrl+V) and run it." if ok else
                      "The browser did not allow the clipboard: select the code below and copy "
                      "it (Ctrl+C).")
        self._render_note()

    def on_copied(self, message: Mapping[str, Any]) -> None:
        """A ``copied`` message from the browser."""
        self.copied(bool(message.get("ok")))

    def _keep(self, change: Mapping[str, Any]) -> None:
        # The box is read-only in spirit: an edit in the browser is put back.
        if self._expected and change["new"] != self._expected:
            self.text.value = self._expected


def to_next_cell(text: str) -> bool:
    """Put ``text`` in a new cell below the running one (IPython's ``set_next_input``);
    False outside IPython.

    Example:
        >>> to_next_cell("client.run(...)")
        True
    """
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython is a dependency
        shell = None
    if shell is None:
        return False
    shell.set_next_input(text, replace=False)
    return True
