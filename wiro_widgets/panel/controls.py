"""One control per model input, made from its `ParamSpec`: label, range, step, default,
tooltip (the spec's help text) and CSS hook class.

Example:
    >>> build_control(FLUX_2_FLEX.param("guidance")).max
    10.0
"""

from __future__ import annotations

import re
from typing import Any

import ipywidgets as w

from ..schema import Kind, ParamSpec
from .theme import esc

__all__ = ["INDENT", "LABEL_WIDTH", "build_control", "message_line", "note_line", "number_box",
           "param_class", "section"]

LABEL_WIDTH = "104px"
#: Lines under a control start where its input starts.
INDENT = "0 0 0 108px"
# Wider ranges than this get a number box: a slider over ten million seeds is unusable.
_SLIDER_SPAN = 10_000
#: The choice of a select without a default that sends nothing.
UNSET = "(model default)"
#: Selects with at most this many short choices show as toggle buttons, others as dropdowns.
_TOGGLE_MAX = 5


def build_control(param: ParamSpec) -> w.DOMWidget:
    """The widget for one input: slider, number box, toggle buttons, dropdown, checkbox or
    text.

    Label and tooltip come from the spec; so do range, step, default and the CSS hook classes
    (issue 4's classes and ``wiro-param-<id>``, on the widget that holds the value). An input
    the panel cannot show as its type says (odd bounds, a default of the wrong type) is shown
    as text, with a note: a schema never breaks the form.

    Example:
        >>> build_control(FLUX_2_FLEX.param("guidance")).max
        10.0
    """
    try:
        control = _control_for(param)
    except Exception:  # an odd schema must still give a usable form
        control = w.Text(value=_text_of(param.default), **_common(param))
    if param.css_class:
        control.add_class(param.css_class)
    control.add_class(param_class(param))
    return control


def param_class(param: ParamSpec) -> str:
    """The CSS class naming an input by its API id: ``wiro-param-inputImage``.

    Example:
        >>> param_class(FLUX_2_FLEX.param("prompt"))
        'wiro-param-prompt'
    """
    return "wiro-param-" + re.sub(r"[^A-Za-z0-9_-]", "-", param.name)


def _common(param: ParamSpec) -> dict[str, Any]:
    return {"description": param.label, "tooltip": param.help,
            "style": {"description_width": LABEL_WIDTH}, "layout": w.Layout(width="100%")}


def _text_of(value: Any) -> str:
    return "" if value is None else str(value)


def _control_for(param: ParamSpec) -> w.DOMWidget:
    common = _common(param)
    if param.is_select and param.options:
        return _select(param, common)
    if param.is_bool:
        return w.Checkbox(value=_truthy(param.default), indent=False,
                          **{**common, "style": {"description_width": "initial"}})
    if param.is_number:
        return _number(param, common)
    if param.kind is Kind.TEXTAREA or (param.kind is Kind.TEXT and param.is_known_type
                                       and param.minimum is None and param.maximum is None
                                       and len(_text_of(param.default)) > 60):
        return w.Textarea(value=_text_of(param.default), rows=4, **common)
    return w.Text(value=_text_of(param.default), **common)


def _select(param: ParamSpec, common: dict[str, Any]) -> w.DOMWidget:
    values = param.option_values
    options = [(o.label or o.value, o.value) for o in param.options]
    if param.default not in values and not param.required:
        # No default: the first choice would be sent as if picked; "" sends nothing.
        return w.Dropdown(options=[(UNSET, ""), *options], value="", **common)
    value = param.default if param.default in values else values[0]
    short = len(options) <= _TOGGLE_MAX and all(len(label) <= 8 for label, _ in options)
    if param.kind is Kind.SELECT and short:
        return w.ToggleButtons(options=options, value=value,
                               tooltips=[param.help] * len(options), description=param.label,
                               tooltip=param.help,
                               style={"description_width": LABEL_WIDTH, "button_width": "70px"})
    return w.Dropdown(options=options, value=value, **common)


def _number(param: ParamSpec, common: dict[str, Any]) -> w.DOMWidget:
    low, high = param.minimum, param.maximum
    if param.default is None:
        # No default: a slider or a number box would send its 0 as if chosen. An empty box
        # sends nothing (the model's own default applies); what is typed is checked.
        return w.Text(value="", placeholder=f"(model default){param.range_text()}", **common)
    default = param.default if isinstance(param.default, (int, float)) else (
        low if low is not None else 0)
    if low is None or high is None or high < low or high - low > _SLIDER_SPAN:
        # No range to slide over (or one too wide): a box that takes what is typed.
        if param.is_integer:
            return w.IntText(value=int(default), **common)
        return w.FloatText(value=float(default), **common)
    default = min(max(default, low), high)
    if not param.is_integer:
        return w.FloatSlider(value=float(default), min=float(low), max=float(high),
                             step=param.step or 0.1, readout_format=".1f"
                             if (param.step or 0.1) >= 0.1 else ".2f", **common)
    return w.IntSlider(value=int(default), min=int(low), max=int(high),
                       step=int(param.step or 1), **common)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def number_box(param: ParamSpec) -> w.IntText:
    """A number box for a size: what is typed reaches Python as typed, so snapping it to the
    model's grid can be said (a slider clamps and rounds in the browser, silently)."""
    box = w.IntText(value=int(param.default or param.minimum or 0), description=param.label,
                    tooltip=param.help, style={"description_width": LABEL_WIDTH},
                    layout=w.Layout(width="100%"))
    if param.css_class:
        box.add_class(param.css_class)
    box.add_class(param_class(param))
    return box


def message_line() -> w.HTML:
    """The (hidden) message line under a control."""
    box = w.HTML("", layout=w.Layout(display="none", margin=INDENT))
    box.add_class("wiro-msg")
    return box


def note_line(param: ParamSpec) -> w.HTML | None:
    """What was odd in the schema for this input (shown under it), or None.

    Example:
        >>> note_line(odd_param).value
        'Shown as text: the type ‘multiselect’ is not one Wiro documents.'
    """
    if not param.notes:
        return None
    box = w.HTML("<br>".join(esc(n) for n in param.notes), layout=w.Layout(margin=INDENT))
    box.add_class("wiro-note")
    return box


def section(title: str) -> w.HTML:
    """A section title of the form."""
    label = w.HTML(esc(title))
    label.add_class("wiro-section")
    return label
