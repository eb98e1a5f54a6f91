"""One Tool/Detail parameter item into a `ParamSpec`, in either key spelling, never raising.

Example:
    >>> param_from_item("seed", {"type": "number", "defaultvalue": "7", "maxvalue": "99"})
    ParamSpec(name='seed', kind=<Kind.NUMBER: 'number'>, ..., default=7, ..., maximum=99.0, ...)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..protocol import parse_number
from .kinds import FILE_KINDS, NUMBER_KINDS, SELECT_KINDS, Kind, kind_of
from .params import Option, ParamSpec, fmt_number

__all__ = ["MATCH_INPUT_IMAGE", "param_from_item"]

#: What 0 means for a size input whose help says "set it to 0 ... to match input image".
MATCH_INPUT_IMAGE = "match the input image"
_MULTIPLE = re.compile(r"multiple of (\d+)", re.IGNORECASE)
_ZERO_MATCHES = re.compile(r"\b0\b[^.]*\bmatch (?:the )?input image", re.IGNORECASE)
_UP_TO = re.compile(r"\bup to (\d+)\b", re.IGNORECASE)
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def _first(item: Mapping[str, Any], *keys: str) -> Any:
    """The first key present (and not None): the SDK spelling, then the docs site's."""
    for key in keys:
        if item.get(key) is not None:
            return item[key]
    return None


def param_from_item(ident: str, item: Mapping[str, Any]) -> ParamSpec:
    """The input an item describes; what was odd about it is in the result's ``notes``."""
    notes: list[str] = []
    raw_type = item.get("type")
    kind, known = kind_of(raw_type)
    if not known:
        notes.append(f"type {raw_type!r} is not a documented input type; shown as text and "
                     "sent as given" if raw_type else "no type given; read as text")
    label = str(item.get("label") or "").strip()
    if not label:
        label = ident
        notes.append("no label given; the id is shown")
    help_text = " ".join(str(t).strip() for t in dict.fromkeys(
        (item.get("help"), item.get("note"), item.get("description"))) if t).strip()
    fields: dict[str, Any] = {
        "name": ident, "kind": kind, "label": label, "help": help_text,
        "required": _flag(item.get("required")), "advanced": _flag(item.get("advanced")),
        "wire_type": str(raw_type).strip().lower() if raw_type and not known else "",
    }
    low = parse_number(_first(item, "min", "minvalue"))
    high = parse_number(_first(item, "max", "maxvalue"))
    step = parse_number(_first(item, "step", "incrementby"))
    default = _first(item, "default", "defaultvalue")
    if kind in SELECT_KINDS:
        kind = _select(fields, kind, item, default, notes)
    elif kind in NUMBER_KINDS:
        kind = _number(fields, kind, (low, high, step), default, help_text, notes)
    elif kind in FILE_KINDS:
        _files(fields, kind, item, help_text, notes)
    elif kind is Kind.CHECKBOX:
        fields["default"] = None if default in (None, "") else _flag(default)
    else:
        _text(fields, kind, (low, high), default, notes)
    fields["kind"] = kind
    return ParamSpec(**fields, notes=tuple(notes))


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value) if isinstance(value, (bool, int, float)) else False


def _select(fields: dict[str, Any], kind: Kind, item: Mapping[str, Any], default: Any,
            notes: list[str]) -> Kind:
    raw = item.get("options")
    options: list[Option] = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, Mapping) or entry.get("value") is None:
            notes.append(f"an option without a value was skipped: {entry!r}")
            continue
        value = _as_text(entry["value"])
        label = str(_first(entry, "label", "text") or value)
        if value in (o.value for o in options):
            kept = next(o.label for o in options if o.value == value)
            notes.append(f"option value {value!r} is listed more than once; the first label "
                         f"({kept!r}) is kept, {label!r} dropped")
            continue
        options.append(Option(value, label, str(entry.get("cover") or "")))
    if not options:
        notes.append("a select without options; read as text")
        fields["default"] = None if default is None else _as_text(default)
        return Kind.TEXT
    fields["options"] = tuple(options)
    if default is not None:
        text = _as_text(default)
        if text in (o.value for o in options):
            fields["default"] = text
        else:
            notes.append(f"default {text!r} is not among the options; no default kept")
    return kind


def _number(fields: dict[str, Any], kind: Kind, bounds: tuple[float | None, ...],
            default: Any, help_text: str, notes: list[str]) -> Kind:
    low, high, step = bounds
    if low is not None and high is not None and low > high:
        notes.append(f"its bounds contradict each other (min {fmt_number(low)} > max "
                     f"{fmt_number(high)}); read as text and sent as given")
        fields["default"] = None if default is None else _as_text(default)
        return Kind.TEXT
    value = parse_number(default)
    if default not in (None, "") and value is None:
        notes.append(f"default {default!r} is not a number; no default kept")
    if step is not None and step <= 0:
        notes.append(f"step {fmt_number(step)} is not positive; ignored")
        step = None
    whole = all(v is None or float(v).is_integer() for v in (low, high, step, value))
    if kind in (Kind.NUMBER, Kind.INTEGER) and not whole:
        notes.append(f"typed {kind.value} but its bounds, step or default are not whole; "
                     "read as a decimal number")
        kind = Kind.FLOAT
    if value is not None and ((low is not None and value < low)
                              or (high is not None and value > high)):
        notes.append(f"default {fmt_number(value)} is outside its bounds; no default kept")
        value = None
    match = _MULTIPLE.search(help_text)
    zero = bool(_ZERO_MATCHES.search(help_text))
    fields.update(minimum=low, maximum=high, step=step,
                  multiple_of=int(match.group(1)) if match else None,
                  zero_means=MATCH_INPUT_IMAGE if zero else None)
    if value is not None:
        integer = kind in (Kind.NUMBER, Kind.INTEGER) or (kind is Kind.RANGE and whole)
        fields["default"] = int(value) if integer else float(value)
    return kind


def _files(fields: dict[str, Any], kind: Kind, item: Mapping[str, Any], help_text: str,
           notes: list[str]) -> None:
    limit = parse_number(_first(item, "maxinputlenght", "maxinputlength", "maxInputLength"))
    if limit is None and kind is not Kind.FILEINPUT:
        match = _UP_TO.search(help_text)
        if match:
            limit = float(match.group(1))
            notes.append(f"the limit of {match.group(1)} files is read from the help text")
    if limit is not None and (limit < 1 or not limit.is_integer()):
        notes.append(f"file limit {fmt_number(limit)} is not a positive count; ignored")
        limit = None
    fields["max_files"] = 1 if kind is Kind.FILEINPUT else (
        int(limit) if limit is not None else None)


def _text(fields: dict[str, Any], kind: Kind, bounds: tuple[float | None, ...], default: Any,
          notes: list[str]) -> None:
    low, high = bounds
    if low is not None and high is not None and low > high:
        notes.append("its bounds contradict each other; ignored")
        low = high = None
    if kind is Kind.TEXT:  # a text input with a range holds a number (Wiro's text seeds)
        fields.update(minimum=low, maximum=high)
    if default is not None:
        fields["default"] = _as_text(default)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
