"""How a `FluxPanel` is put together: its parts, where each sits, and their wiring.

Two columns: the form (prompt, references, settings) on the left, 320 px wide; on the right
the actions row (Generate, Cancel, the image count), the status, the code box and the
results. Generate and the image sit at the top of the right column, so both are on screen
on a laptop or a projector without scrolling; below 640 px of panel width the columns stack.

Example:
    >>> parts = build_parts(spec, client, Path("wiro-uploads"))   # by FluxPanel.__init__
    >>> parts.children                                # the panel's children, in order
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as w

from .batch import MAX_COUNT
from .codebox import CodeBox
from .controls import param_class
from .form import Form
from .gallery import Gallery
from .present import PresentView
from .references import ReferenceList
from .shim import Channel, script_html
from .status import StatusBar
from .theme import CSS, badge, esc
from .uploads import UploadStore

if TYPE_CHECKING:
    from ..client import WiroClient
    from ..schema import ModelSpec

__all__ = ["Parts", "build_parts"]


@dataclass
class Parts:
    """The widgets of one panel, made and laid out (wired by the panel)."""

    form: Form
    references: ReferenceList
    status: StatusBar
    gallery: Gallery
    codebox: CodeBox
    channel: Channel
    presenter: PresentView
    generate_button: w.Button
    cancel_button: w.Button
    count: w.Dropdown
    code_button: w.Button
    present_toggle: w.ToggleButton
    fullscreen_toggle: w.ToggleButton
    badge: w.HTML
    inputs: dict[str, ReferenceList] = field(default_factory=dict)
    change_button: w.Button | None = None
    body: w.HBox = field(default_factory=w.HBox)
    actions: w.HBox = field(default_factory=w.HBox)
    main: w.VBox = field(default_factory=w.VBox)
    children: tuple[w.DOMWidget, ...] = ()

    def present(self, on: bool) -> None:
        """Move the prompt, Generate, Cancel and the status into the presentation view (or
        back): each widget shows in one place at a time."""
        form, presenter, status = self.form, self.presenter, self.status.widget
        prompt = form.prompt
        moved = [c for c in (prompt, self.generate_button, self.cancel_button) if c is not None]
        if on:
            form.prompt_box.children = tuple(c for c in form.prompt_box.children
                                             if c is not prompt)
            self.actions.children = tuple(c for c in self.actions.children if c not in moved)
            self.main.children = tuple(c for c in self.main.children if c is not status)
            presenter.row.children = tuple(moved)
            presenter.widget.children = (presenter.image, presenter.caption, presenter.row,
                                         status)
        else:
            presenter.row.children = ()
            presenter.widget.children = (presenter.image, presenter.caption, presenter.row)
            form.prompt_box.children = self._home["prompt_box"]
            self.actions.children = self._home["actions"]
            self.main.children = self._home["main"]

    def keep_home(self) -> None:
        """Note where the moving widgets live in the normal view."""
        self._home = {"prompt_box": self.form.prompt_box.children,
                      "actions": self.actions.children, "main": self.main.children}


def build_parts(spec: ModelSpec, client: WiroClient | None, uploads_dir: Path) -> Parts:
    """Make a panel's parts for ``spec`` and lay them out (``Parts.children``)."""
    from ..protocol import MAX_UPLOAD_BYTES

    form = Form(spec)
    status = StatusBar()
    buttons = _buttons(_noun(spec))
    store = UploadStore(uploads_dir)
    lists = {p.py_name: ReferenceList(limit=p.file_limit or 10, store=store)
             for p in spec.file_params}
    first = spec.file_param
    references = lists.pop(first.py_name) if first is not None else ReferenceList(store=store)
    parts = Parts(
        form=form, references=references, inputs=lists,
        status=status, gallery=Gallery(spec), codebox=CodeBox(), channel=Channel(),
        presenter=PresentView(), badge=w.HTML(_badge_html(client)), **buttons)
    parts.badge.add_class("wiro-badge-box")
    left = w.VBox([form.prompt_box, *_file_rows(spec, parts), form.settings_box])
    left.add_class("wiro-form")
    parts.actions = _actions(parts)
    parts.main = w.VBox([parts.actions, status.widget, parts.codebox.widget,
                         parts.gallery.widget])
    parts.main.add_class("wiro-main")
    parts.keep_home()
    parts.body = w.HBox([left, parts.main], layout=w.Layout(width="100%"))
    parts.body.add_class("wiro-body")
    style = w.HTML(CSS + script_html(max_bytes=MAX_UPLOAD_BYTES),
                   layout=w.Layout(display="none"))
    style.add_class("wiro-style")
    parts.children = (style, parts.channel.widget, _header(spec, parts), parts.body,
                      parts.presenter.widget)
    return parts


def _file_rows(spec: ModelSpec, parts: Parts) -> list[w.DOMWidget]:
    """A titled uploader (with URLs) per file input; a model with one is titled "Reference
    images", as its prompt calls them "image 1", "image 2"…; none: the list stays hidden."""
    files = spec.file_params
    rows: list[w.DOMWidget] = []
    for param in files:
        refs = parts.references if param is files[0] else parts.inputs[param.py_name]
        refs.widget.add_class(param_class(param))
        title = w.HTML(esc("Reference images" if len(files) == 1 else param.label))
        title.add_class("wiro-section")
        if param.help:
            title.tooltip = param.help
        rows += [title, refs.widget]
    if not files:
        parts.references.widget.layout.display = "none"
        rows.append(parts.references.widget)
    return rows


def _noun(spec: ModelSpec) -> str:
    """What one Generate makes, for the count's labels: from the model's categories (a
    model without any makes "runs")."""
    kinds = " ".join(spec.categories)
    return "image" if "image" in kinds else "video" if "video" in kinds else "run"


def _buttons(noun: str = "image") -> dict[str, w.DOMWidget]:
    generate = w.Button(description="Generate", icon="play", button_style="primary",
                        tooltip="Start a run with these settings (Ctrl+Enter in the prompt)",
                        layout=w.Layout(width="120px"))
    generate.add_class("wiro-generate")
    cancel = w.Button(description="Cancel", icon="stop", disabled=True,
                      tooltip="Stop the run: every task is cancelled on the server",
                      layout=w.Layout(width="96px"))
    cancel.add_class("wiro-cancel")
    count = w.Dropdown(options=[(f"{n} {noun}{'s' if n > 1 else ''}", n)
                                for n in range(1, MAX_COUNT + 1)], value=1,
                       tooltip=f"{noun.capitalize()}s per Generate: each is its own task with "
                       "its own seed (random, or the seed, +1, +2… when it is set)",
                       layout=w.Layout(width="104px"))
    count.add_class("wiro-count")
    code = w.Button(description="Copy as code", icon="code",
                    tooltip="Copy the client.run(...) call for these settings",
                    layout=w.Layout(width="auto"))
    code.add_class("wiro-code-button")
    present = w.ToggleButton(value=False, description="Present", icon="desktop",
                             tooltip="Show the selected image large, fitted to the screen",
                             layout=w.Layout(width="auto"))
    present.add_class("wiro-present-toggle")
    full = w.ToggleButton(value=False, description="Full screen", icon="expand",
                          tooltip="Fill the screen with the panel (Esc leaves)",
                          layout=w.Layout(width="auto"))
    full.add_class("wiro-fullscreen")
    return {"generate_button": generate, "cancel_button": cancel, "count": count,
            "code_button": code, "present_toggle": present, "fullscreen_toggle": full}


def _actions(parts: Parts) -> w.HBox:
    hint = w.HTML("Ctrl+Enter in the prompt generates")
    hint.add_class("wiro-hint")
    actions = w.HBox([parts.generate_button, parts.cancel_button, parts.count, hint],
                     layout=w.Layout(width="100%"))
    actions.add_class("wiro-actions")
    return actions


def _header(spec: ModelSpec, parts: Parts) -> w.HBox:
    title = w.HTML(f'<span class="wiro-title">{esc(spec.title)}'
                   f'<span class="wiro-model">{esc(spec.slug)}</span></span>')
    # Shown by a panel opened from its picker: back to the picker.
    parts.change_button = w.Button(description="Change model", icon="exchange",
                                   tooltip="Back to the model picker (this model's runs stay "
                                   "in the ledger)", layout=w.Layout(width="auto",
                                                                     display="none"))
    parts.change_button.add_class("wiro-change-model")
    header = w.HBox([title, parts.badge, w.HBox(layout=w.Layout(flex="1 1 auto")),
                     parts.change_button, parts.code_button, parts.present_toggle,
                     parts.fullscreen_toggle],
                    layout=w.Layout(width="100%"))
    header.add_class("wiro-header")
    return header


def _badge_html(client: WiroClient | None) -> str:
    if client is None:
        return badge("NOT CONNECTED", "sandbox")
    if client.is_sandbox:
        return ('<span title="A local sandbox made these images, not the model">'
                f'{badge("SANDBOX", "sandbox")}</span>')
    return badge("LIVE", "live")
