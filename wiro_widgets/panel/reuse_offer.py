"""The reuse offer: "same as run #12: show it / run again" when the form describes a run the
panel already shows, so a second press does not pay twice by accident.

The form matches a run when the model, every value of the form and the reference images (by
SHA-256) are the run's, and the seed is chosen (a random seed makes every press a new run,
so nothing is offered then). "show it" selects that run in the viewer and sends nothing;
"run again" generates as Generate does. The offer follows the form: it is checked again on
every change of the form or the references and after each new or restored run.

Example:
    >>> offer = ReuseOffer(panel).attach(parts)
    >>> offer.refresh(); offer.entry.number
    12
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as w

if TYPE_CHECKING:
    from ..results import Result
    from .layout import Parts
    from .previews import Entry
    from .request import GenerationRequest

__all__ = ["ReuseOffer", "same_request"]


class ReuseOffer:
    """The offer's line under Generate (class ``wiro-reuse-offer``; its buttons
    ``wiro-reuse-show`` and ``wiro-reuse-again``); hidden when nothing matches."""

    def __init__(self, panel: Any) -> None:
        self._panel = panel
        self.entry: Entry | None = None
        self.text = w.HTML("")
        self.show_button = w.Button(description="show it", icon="eye",
                                    tooltip="Show that run again: nothing is sent, nothing "
                                            "billed", layout=w.Layout(width="auto"))
        self.again_button = w.Button(description="run again", icon="refresh",
                                     tooltip="Run it again: a new task, billed again",
                                     layout=w.Layout(width="auto"))
        self.show_button.add_class("wiro-reuse-show")
        self.again_button.add_class("wiro-reuse-again")
        self.show_button.on_click(lambda _b: self.show())
        self.again_button.on_click(lambda _b: self.run_again())
        self.widget = w.HBox([self.text, self.show_button, self.again_button],
                             layout=w.Layout(display="none", align_items="center"))
        self.widget.add_class("wiro-reuse-offer")

    def attach(self, parts: Parts) -> ReuseOffer:
        """Place the line right under the actions row (and keep it there when the
        presentation view moves widgets out and back)."""
        children = list(parts.main.children)
        at = children.index(parts.actions) + 1 if parts.actions in children else 0
        parts.main.children = (*children[:at], self.widget, *children[at:])
        parts.keep_home()
        return self

    def refresh(self) -> None:
        """Check the form against the runs shown; show or hide the offer (trait
        assignments only: safe from the restoring thread)."""
        try:
            self.entry = self.match()
        except Exception:  # a form mid-edit (an invalid value) offers nothing
            self.entry = None
        if self.entry is None:
            self.widget.layout.display = "none"
            return
        self.text.value = (f'<span class="wiro-reuse-text">same as run '
                           f'<b>#{self.entry.number}</b>:</span>')
        self.widget.layout.display = ""

    def match(self) -> Entry | None:
        """The newest run shown that the form describes now, or None."""
        panel = self._panel
        form = panel.form
        if form.seed is None or (form.randomize.value and not form.lock.value):
            return None
        request = panel.snapshot()
        entries: list[Entry] = list(panel.gallery.entries)
        return next((e for e in reversed(entries) if same_request(request, e.result)), None)

    def show(self) -> bool:
        """Select the matching run in the viewer; sends nothing. False when none matches."""
        entry = self.entry
        if entry is None:
            return False
        self._panel.gallery.select(entry.number)
        self._panel.status.info(f"Run #{entry.number} shown again: nothing was sent.")
        return True

    def run_again(self) -> bool:
        """Generate anyway (a new task, billed)."""
        self.widget.layout.display = "none"
        return bool(self._panel.generate())


def same_request(request: GenerationRequest, result: Result) -> bool:
    """Whether ``request`` asks exactly what ``result`` ran: model, every form value (0 for
    an input the run left out to match its reference image), references by SHA-256.

    Example:
        >>> same_request(panel.snapshot(), panel.result)
        True
    """
    if request.model != result.model:
        return False
    files = request.file_param
    ran = result.params.get(files) if files else None
    hashes = [d.get("sha256") for d in ran or [] if isinstance(d, Mapping)]
    if [r.sha256 for r in request.references] != hashes:
        return False
    for key, value in request.params.items():
        if key in result.params:
            if _canon(result.params[key]) != _canon(value):
                return False
        elif value not in (0, None, ""):
            return False
    return True


def _canon(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return json.dumps(value, sort_keys=True, default=str)
    return json.dumps(float(value))
