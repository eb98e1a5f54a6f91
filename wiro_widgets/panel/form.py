"""The panel's form, built from a `ModelSpec` so it never drifts from the validator.

Every control takes its label, range, step, default, tooltip (the spec's help text) and CSS
hook class from the spec; the layout (sections, which input is the prompt, the seed, the
size pair) comes from the spec's `FormHints`, so this module names no model's parameter.
Each control has a message line under it where `Form.check` shows what is wrong before
Generate is pressed.

Example:
    >>> form = Form(FLUX_2_FLEX)
    >>> form.prompt.value = "a lighthouse at dusk"
    >>> form.values()["steps"]
    50
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w

from ..errors import ValidationError
from ..schema import ModelSpec
from .controls import INDENT, LABEL_WIDTH, build_control, message_line, note_line, number_box
from .controls import section as section_title
from .sizes import ASPECT_PRESETS, SizeRule, aspect_of, megapixels, preset_size, snap
from .theme import esc, message_html

__all__ = ["Form"]

_CUSTOM = "custom"
_IMAGE_MENTION = re.compile(r"\bimage\s*#?\s*(\d+)\b", re.IGNORECASE)


class Form:
    """The form's widgets and what they mean, for one model spec.

    Attributes:
        widget: the form as one box, to place in a layout.
        controls: the value-holding widget of each Python-named parameter.
        messages: the message line under each control.
        prompt, width, height, seed: shortcuts to the controls the spec's form hints name
            (None when the model has no such input).
    """

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.hints = spec.form_hints()
        self.controls: dict[str, w.DOMWidget] = {}
        self.messages: dict[str, w.HTML] = {}
        self._listeners: list[Callable[[], None]] = []
        self._syncing = False
        self.require_prompt = False
        self.reference_count = 0
        for param in spec.params:
            if param.is_files:
                continue
            self.controls[param.py_name] = build_control(param)
            self.messages[param.py_name] = message_line()
        hints = self.hints
        self.prompt = self.controls.get(hints.prompt or "")
        if self.prompt is not None:
            self.prompt.add_class("wiro-prompt")  # Ctrl+Enter generates, for every model
        if isinstance(self.prompt, w.Textarea):
            self.prompt.placeholder = (
                "Describe the image. Refer to reference images as “image 1”, “image 2”… "
                "Ctrl+Enter generates." if spec.file_params else "Ctrl+Enter generates.")
            self.prompt.rows = 4
        width_name, height_name = hints.size or ("", "")
        self.notes: dict[str, str] = {}
        self._snapping = False
        if width_name in self.controls and height_name in self.controls:
            for name in (width_name, height_name):
                self.controls[name] = number_box(spec.param(name))
        self.width = self.controls.get(width_name)
        self.height = self.controls.get(height_name)
        if self.width is None or self.height is None:
            self.width = self.height = None
        self._size_names = (width_name, height_name)
        self.size_rule = SizeRule.of(spec.param(width_name)) if self.width else SizeRule()
        self.seed = self.controls.get(hints.seed or "")
        self._build_size_tools()
        self._build_seed_tools()
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.prompt_box, self.settings_box = self._layout()
        self.widget = w.VBox([self.prompt_box, self.settings_box], layout=w.Layout(width="100%"))
        self.widget.add_class("wiro-form")
        self._update_readout()

    # -- extra tools ---------------------------------------------------------------------
    def _build_size_tools(self) -> None:
        self.aspect = w.Dropdown(
            options=[(_CUSTOM, _CUSTOM)] + [
                (f"{name}  ·  {'×'.join(map(str, preset_size(name, self.size_rule)))}", name)
                for name, _, _ in ASPECT_PRESETS
            ],
            value=_CUSTOM, description="Aspect",
            tooltip="Aspect-ratio presets at about one megapixel, snapped to multiples of 16.",
            style={"description_width": LABEL_WIDTH}, layout=w.Layout(width="74%"),
        )
        self.aspect.add_class("wiro-aspect")
        self.swap = w.Button(icon="exchange", tooltip="Swap width and height",
                             layout=w.Layout(width="40px"))
        self.swap.add_class("wiro-swap")
        self.match_reference = w.Checkbox(
            value=False, description="match first reference image", indent=False,
            tooltip="Send width and height as 0: the output takes the size of image 1.",
            layout=w.Layout(width="auto", margin=INDENT),
        )
        self.match_reference.add_class("wiro-match")
        self.readout = w.HTML("")
        self.readout.add_class("wiro-readout")
        self.readout.layout.margin = INDENT
        self.aspect.observe(self._aspect_chosen, names="value")
        self.swap.on_click(lambda _b: self.swap_size())
        self.match_reference.observe(self._changed, names="value")
        for control in (self.width, self.height):
            if control is not None:
                control.observe(self._snap, names="value")

    def _build_seed_tools(self) -> None:
        self.randomize = w.ToggleButton(
            value=False, icon="random", description="",
            tooltip="Random seed: pick a new seed for every run (the seed used is shown after "
            "the run, so you can keep it).", layout=w.Layout(width="40px"),
        )
        self.randomize.add_class("wiro-seed-random")
        self.lock = w.ToggleButton(
            value=False, icon="unlock", description="",
            tooltip="Lock the seed: keep it for every run, even when reusing another run's "
            "settings.", layout=w.Layout(width="40px"),
        )
        self.lock.add_class("wiro-seed-lock")
        self.seed_used = w.HTML("")
        self.seed_used.add_class("wiro-seed-used")
        self.seed_used.layout.margin = INDENT
        self.randomize.observe(self._seed_mode, names="value")
        self.lock.observe(self._seed_mode, names="value")

    def _layout(self) -> tuple[w.VBox, w.VBox]:
        """The prompt's section on its own (it goes above the references), every other
        section below; inputs in no section go last, untitled."""
        head: list[w.DOMWidget] = []
        parts: list[w.DOMWidget] = []
        placed: set[str] = set()
        for section in self.hints.sections:
            names = [n for n in section.params if n in self.controls]
            if not names:
                continue
            placed.update(names)
            prompt = self.hints.prompt
            if prompt in names and len(names) > 1:  # the prompt alone above the files
                head += [section_title(self.spec.param(prompt).label), *self._rows([prompt])]
                names = [n for n in names if n != prompt]
            target = head if prompt in names else parts
            target.append(section_title(section.title))
            target.extend(self._rows(names))
        parts.extend(self._rows([n for n in self.controls if n not in placed]))
        return (w.VBox(head, layout=w.Layout(width="100%")),
                w.VBox(parts, layout=w.Layout(width="100%")))

    def _rows(self, names: list[str]) -> list[w.DOMWidget]:
        """Each input's row and message line, with the tools of the prompt, size and seed."""
        width_name, height_name = self._size_names
        rows: list[w.DOMWidget] = []
        for name in names:
            if name == self.hints.prompt:
                self.controls[name].description = ""
                self.messages[name].layout.margin = "0"
                rows += self._row(name)
            elif self.width is not None and name == width_name:
                rows += [w.HBox([self.aspect, self.swap], layout=w.Layout(align_items="center")),
                         *self._row(name)]
            elif self.height is not None and name == height_name:
                rows += [*self._row(name), self.match_reference, self.readout]
            elif name == self.hints.seed:
                rows += [*self._row(name, self.randomize, self.lock), self.seed_used]
            else:
                rows += self._row(name)
        return rows

    def _row(self, name: str, *extra: w.DOMWidget) -> list[w.DOMWidget]:
        control = self.controls[name]
        if extra:
            control.layout.width = "auto"
            control.layout.flex = "1 1 auto"
            line: w.DOMWidget = w.HBox([control, *extra],
                                       layout=w.Layout(width="100%", align_items="center"))
        else:
            line = control
        note = note_line(self.spec.param(name))
        return [line, self.messages[name], *([note] if note is not None else [])]

    # -- reactions -------------------------------------------------------------------------
    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after any value in the form changes."""
        self._listeners.append(callback)

    def _changed(self, _change: Any = None) -> None:
        if self._syncing:
            return
        if self.width is not None and self.height is not None:
            matching = bool(self.match_reference.value)
            self.width.disabled = matching
            self.height.disabled = matching
            self.aspect.disabled = matching
            self.swap.disabled = matching
            self._sync_aspect()
        self._update_readout()
        for listener in list(self._listeners):
            listener()

    def _snap(self, change: Mapping[str, Any]) -> None:
        if self._snapping:
            return
        name = self._size_names[0] if change["owner"] is self.width else self._size_names[1]
        value = int(change["new"])
        snapped = snap(value, self.size_rule)
        if snapped == value:
            self.notes.pop(name, None)  # a clean edit: an older note is stale
            return
        rule = self.size_rule
        why = (f"the largest is {rule.high}" if value > rule.high else
               f"the smallest is {rule.low}" if value < rule.low else
               f"sizes are multiples of {rule.multiple}")
        self.notes[name] = f"{value} → {snapped}: {why}."
        self._snapping = True
        try:
            change["owner"].value = snapped
        finally:
            self._snapping = False

    def _sync_aspect(self) -> None:
        if self.width is None or self.height is None:
            return
        name = aspect_of(int(self.width.value), int(self.height.value))
        self._syncing = True
        try:
            self.aspect.value = name or _CUSTOM
        finally:
            self._syncing = False

    def _aspect_chosen(self, change: Mapping[str, Any]) -> None:
        if self._syncing or change["new"] == _CUSTOM:
            return
        if self.width is None or self.height is None:
            return
        width, height = preset_size(str(change["new"]), self.size_rule)
        self.set_size(width, height)

    def _seed_mode(self, change: Mapping[str, Any]) -> None:
        locked = bool(self.lock.value)
        self.lock.icon = "lock" if locked else "unlock"
        if change["owner"] is self.lock and locked:
            self.randomize.value = False
        if change["owner"] is self.randomize and self.randomize.value:
            self.lock.value = False
        if self.seed is not None:
            self.seed.disabled = locked

    def set_size(self, width: int, height: int) -> None:
        """Set both sizes at once (one change notification).

        Example:
            >>> form.set_size(1360, 768); form.aspect.value
            '16:9'
        """
        if self.width is None or self.height is None:
            return
        self._syncing = True
        try:
            self.width.value = snap(width, self.size_rule)
            self.height.value = snap(height, self.size_rule)
        finally:
            self._syncing = False
        for name in self._size_names:
            self.notes.pop(name, None)
        self._changed()

    def swap_size(self) -> None:
        """Swap width and height."""
        if self.width is not None and self.height is not None:
            self.set_size(int(self.height.value), int(self.width.value))

    def _update_readout(self) -> None:
        if self.width is None or self.height is None:
            return
        if self.match_reference.value:
            self.readout.value = "size of image 1 (sent as 0 × 0)"
            return
        width, height = int(self.width.value), int(self.height.value)
        cost = self.spec.estimate_cost(dict(zip(self._size_names, (width, height),
                                                strict=True)))
        price = f" · est. ${cost:.3f}" if cost else ""
        self.readout.value = esc(
            f"{width} × {height} px · {megapixels(width, height):.2f} MP{price}"
        )

    # -- values ----------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The Python-named parameters the form holds now (reference images excluded).

        Example:
            >>> form.values()["output_format"]
            'png'
        """
        out: dict[str, Any] = {}
        for name, control in self.controls.items():
            value = control.value
            if isinstance(value, bool):
                out[name] = value
            elif isinstance(value, str):
                if not value.strip() and name != self.hints.prompt \
                        and not self.spec.param(name).required:
                    continue  # an empty optional box: the model's default applies
                out[name] = _number_of(value) if self.spec.param(name).is_number else value
            elif isinstance(value, float):
                # Sliders carry binary floats; send the step's decimal (4.5, not 4.499999).
                out[name] = round(value, 4)
            else:
                out[name] = int(value)
        if self.width is not None and self.height is not None and self.match_reference.value:
            for name in self._size_names:
                out[name] = 0
        return out

    def seed_for_run(self) -> int | None:
        """The seed for the next run: a fresh random one when "random" is on (and shown in
        the seed box, so the code and the record match), else the box's value."""
        if self.seed is None:
            return None
        if self.randomize.value and not self.lock.value:
            param = self.spec.param(self.hints.seed or "")
            high = int(param.maximum if param.maximum is not None else 2**31 - 1)
            self.seed.value = random.randint(int(param.minimum or 0), high)
        return int(self.seed.value)

    def seeds_for_run(self, count: int) -> list[int | None]:
        """One seed per image of a batch: fresh random ones when "random" is on, else the
        seed box's value, +1, +2, … (the first is shown in the seed box).

        Example:
            >>> form.seed.value = 7; form.seeds_for_run(3)
            [7, 8, 9]
        """
        first = self.seed_for_run()
        if first is None or self.seed is None:
            return [first] + [None] * (count - 1)
        param = self.spec.param(self.hints.seed or "")
        low = int(param.minimum or 0)
        high = int(param.maximum if param.maximum is not None else 2**31 - 1)
        if self.randomize.value and not self.lock.value:
            return [first, *(random.randint(low, high) for _ in range(count - 1))]
        seeds: list[int | None] = [low + (first - low + i) % (high - low + 1)
                                   for i in range(count)]
        return seeds

    def load(self, params: Mapping[str, Any]) -> list[str]:
        """Put a run's parameters back into the form; returns the names that were loaded.

        A locked seed is kept; width and height of 0 tick "match first reference image".

        Example:
            >>> form.load(result.params)
            ['prompt', 'width', 'height', 'guidance', 'steps', 'seed', ...]
        """
        loaded: list[str] = []
        self._syncing = True
        try:
            for name, control in self.controls.items():
                if name not in params or params[name] is None:
                    continue
                if name == self.hints.seed and self.lock.value:
                    continue
                value = params[name]
                if isinstance(control, w.Text) and not isinstance(value, str):
                    value = str(value)  # a number kept in a text box (no default to slide)
                if self.width is not None and name in self._size_names and int(value) == 0:
                    continue
                try:
                    control.value = value
                except Exception:  # noqa: S112  # a value from another version of the spec
                    continue
                loaded.append(name)
            width_name = self._size_names[0]
            if self.width is not None and width_name in params:
                self.match_reference.value = int(params.get(width_name) or 0) == 0
        finally:
            self._syncing = False
        self._changed()
        return loaded

    # -- validation ------------------------------------------------------------------------
    def check(self) -> dict[str, tuple[str, str]]:
        """What is wrong with the form now: ``{field: (message, level)}``.

        Level ``error`` blocks Generate; ``warn`` does not. An empty prompt counts only after
        Generate was pressed once (``require_prompt``), so a fresh panel is not shouting.
        """
        found: dict[str, tuple[str, str]] = {}
        values = self.values()
        for name, value in values.items():
            param = self.spec.param(name)
            if name == self.hints.prompt and not self.require_prompt and not str(value).strip():
                continue
            try:
                param.check(value)
            except ValidationError as err:
                found[name] = (f"{param.label} {err.rule}.", "error")
        refs: list[Any] = [None] * self.reference_count
        params = {**values, **({self.spec.file_param.py_name: refs}
                               if self.spec.file_param else {})}
        for rule in self.spec.checks:
            try:
                rule(params)
            except ValidationError as err:
                if err.field not in found:
                    found[err.field] = (_plain(err), "error")
        width_name, height_name = self._size_names
        if self.match_reference.value:
            found.pop(height_name, None)
        if self.match_reference.value and not self.reference_count:
            found[width_name] = ("“Match first reference image” needs a reference image: add one "
                                 "below, or untick it and choose a size.", "error")
        for name, note in self.notes.items():
            found.setdefault(name, (note, "info"))
        prompt_name = self.hints.prompt
        if prompt_name is not None and prompt_name not in found:
            warning = self._mention_warning(str(values.get(prompt_name, "")))
            if warning:
                found[prompt_name] = (warning, "warn")
        return found

    def _mention_warning(self, prompt: str) -> str:
        """Why the prompt's "image N" has no reference image to point at, or ""."""
        mentioned = [int(n) for n in _IMAGE_MENTION.findall(prompt)]
        if not mentioned or max(mentioned) <= self.reference_count:
            return ""
        have = self.reference_count
        loaded = ("no reference images are loaded" if not have else
                  f"{have} reference image{' is' if have == 1 else 's are'} loaded")
        return f"The prompt mentions image {max(mentioned)}, but {loaded}."

    def show(self, problems: Mapping[str, tuple[str, str]]) -> None:
        """Show ``problems`` next to their controls and clear the others."""
        for name, box in self.messages.items():
            text, level = problems.get(name, ("", "error"))
            box.value = message_html(text, level)
            box.layout.display = "" if text else "none"
            control = self.controls[name]
            if text and level == "error":
                control.add_class("wiro-invalid")
            else:
                control.remove_class("wiro-invalid")

    def show_error(self, field: str, message: str) -> bool:
        """Highlight one field with a message (e.g. a `ValidationError` from the client);
        False when the form has no such field."""
        files = self.spec.file_param
        if (files is not None and field == files.py_name) or field not in self.messages:
            return False
        self.show({field: (message, "error")})
        return True


def _number_of(text: str) -> Any:
    """A number typed in a text box as a number; anything else as typed (the check says
    what is wrong with it)."""
    from ..protocol import parse_number

    number = parse_number(text.strip())
    if number is None:
        return text
    return int(number) if float(number).is_integer() and "." not in text else number


def _plain(err: ValidationError) -> str:
    label = err.field.replace("_", " ").capitalize()
    return f"{label}: {err.rule}."
