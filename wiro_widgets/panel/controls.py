"""One control per model input, made from its `ParamSpec`: label, range, step, default,
tooltip (the spec's help text) and CSS hook class.

Example:
    >>> build_control(FLUX_2_FLEX.param("guidance")).max
    10.0
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ..schema import Kind, ParamSpec
from .theme import esc

__all__ = ["INDENT", "LABEL_WIDTH", "build_control", "message_line", "number_box", "section"]

LABEL_WIDTH = "104px"
#: Lines under a control start where its input starts.
INDENT = "0 0 0 108px"
# Wider ranges than this get a number box: a slider over ten million seeds is unusable.
_SLIDER_SPAN = 10_000


def build_control(param: ParamSpec) -> w.DOMWidget:
    """The widget for one input: slider, number box, toggle buttons or text area.

    Label and tooltip come from the spec; so do range, step, default and the CSS hook class
    (issue 4's classes, on the widget that holds the value).

    Example:
        >>> build_control(FLUX_2_FLEX.param("guidance")).max
        10.0
    """
    common: dict[str, Any] = {
        "description": param.label,
        "tooltip": param.help,
        "style": {"description_width": LABEL_WIDTH},
        "layout": w.Layout(width="100%"),
    }
    control: w.DOMWidget
    if param.kind is Kind.SELECT:
        control = w.ToggleButtons(
            options=[(o.label, o.value) for o in param.options],
            value=param.default if param.default is not None else param.option_values[0],
            tooltips=[param.help] * len(param.options),
            description=param.label,
            tooltip=param.help,
            style={"description_width": LABEL_WIDTH, "button_width": "70px"},
        )
    elif param.is_number:
        low = param.minimum if param.minimum is not None else 0
        high = param.maximum if param.maximum is not None else 2**31 - 1
        default = param.default if param.default is not None else low
        if high - low > _SLIDER_SPAN:
            control = w.IntText(value=int(default), **common)
        elif param.kind is Kind.FLOAT:
            control = w.FloatSlider(value=float(default), min=float(low), max=float(high),
                                    step=param.step or 0.1, readout_format=".1f", **common)
        else:
            control = w.IntSlider(value=int(default), min=int(low), max=int(high),
                                  step=int(param.step or 1), **common)
    else:
        control = w.Textarea(value=str(param.default or ""), rows=4, **common)
    if param.css_class:
        control.add_class(param.css_class)
    return control


def number_box(param: ParamSpec) -> w.IntText:
    """A number box for a size: what is typed reaches Python as typed, so snapping it to the
    model's grid can be said (a slider clamps and rounds in the browser, silently)."""
    box = w.IntText(value=int(param.default or param.minimum or 0), description=param.label,
                    tooltip=param.help, style={"description_width": LABEL_WIDTH},
                    layout=w.Layout(width="100%"))
    if param.css_class:
        box.add_class(param.css_class)
    return box


def message_line() -> w.HTML:
    """The (hidden) message line under a control."""
    box = w.HTML("", layout=w.Layout(display="none", margin=INDENT))
    box.add_class("wiro-msg")
    return box


def section(title: str) -> w.HTML:
    """A section title of the form."""
    label = w.HTML(esc(title))
    label.add_class("wiro-section")
    return label
