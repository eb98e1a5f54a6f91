"""A `ModelSpec` from a Tool/Detail ``tool`` record: any model, from its live schema.

Wiro's record lists the inputs as ``parameters: [{"title", "items": [...]}]``. The item keys
come in two spellings, and both are read (``official-clients.md`` section 7):

- ``default``, ``min``, ``max``, ``step``, ``options[].label`` (every SDK and Wiro-MCP);
- ``defaultvalue``, ``minvalue``, ``maxvalue``, ``incrementby``, ``options[].text``,
  ``maxinputlenght`` (sic) (the docs site and the Go CLI).

Numbers may be numbers or numeric strings. Every documented type is read (`kinds`); the
help text adds two rules Wiro states only there: "multiple of N", and "set it to 0 ... to
match input image". Nothing here raises on odd data: an unknown type, a missing type or
label, contradictory bounds, a default outside them, a select without options all give a
usable input (kept as text where it cannot be read as it claims), each with a note in
`ParamSpec.notes`. An item without an id cannot be sent and is left out, with a note in
`ModelSpec.notes`.

Example:
    >>> spec = spec_from_tool({"cleanslugowner": "acme", "cleanslugproject": "paint",
    ...     "parameters": [{"title": "", "items": [
    ...         {"id": "steps", "type": "number", "minvalue": "1", "maxvalue": "50",
    ...          "defaultvalue": "20"}]}]})
    >>> spec.slug, spec.param("steps").maximum, spec.validate({})["steps"]
    ('acme/paint', 50.0, 20)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..protocol import parse_number
from .form_guess import guess_form, guess_output_count
from .model import ModelSpec
from .params import ParamSpec
from .pricing import parse_dynamicprice
from .tool_items import param_from_item

__all__ = ["spec_from_tool"]


def spec_from_tool(record: Mapping[str, Any], *, slug: str | None = None) -> ModelSpec:
    """The spec a Tool/Detail (or Tool/List) ``tool`` record describes. Never raises.

    Args:
        record: one entry of the ``tool`` list.
        slug: ``owner/project`` to use (default: ``cleanslugowner/cleanslugproject``, else the
            raw ``slugowner/slugproject``).

    Example:
        >>> spec_from_tool(tool_record).file_param.name
        'inputImage'
    """
    notes: list[str] = []
    params: list[ParamSpec] = []
    sections: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    groups = record.get("parameters")
    if groups is None:
        notes.append("the record lists no parameters (parameters is null)")
    elif not isinstance(groups, list):
        notes.append("parameters is not a list; no inputs read")
        groups = []
    for position, group in enumerate(groups or []):
        if not isinstance(group, Mapping):
            notes.append(f"parameter group {position} is not an object; skipped")
            continue
        title = str(group.get("title") or "").strip()
        names: list[str] = []
        items = group.get("items")
        for index, item in enumerate(items if isinstance(items, list) else []):
            param = _param(item, f"group {position} item {index}", seen, notes)
            if param is not None:
                params.append(param)
                names.append(param.py_name)
        sections.append((title, names))
    prices, price_notes = parse_dynamicprice(record.get("dynamicprice"))
    notes.extend(price_notes)
    spec_params = tuple(params)
    return ModelSpec(
        slug=slug or _slug(record),
        title=str(record.get("title") or _slug(record)),
        description=str(record.get("description") or ""),
        params=spec_params,
        estimated_seconds=_seconds(record.get("computingtime")),
        form=guess_form(spec_params, sections),
        prices=prices,
        output_count=guess_output_count(spec_params),
        categories=_strings(record.get("categories")),
        notes=tuple(notes),
    )


def _param(item: Any, where: str, seen: set[str], notes: list[str]) -> ParamSpec | None:
    if not isinstance(item, Mapping):
        notes.append(f"{where} is not an object; skipped")
        return None
    ident = str(item.get("id") or "").strip()
    if not ident:
        notes.append(f"{where} has no id, so it cannot be sent; skipped")
        return None
    if ident in seen:
        notes.append(f"{ident} is listed twice; the second one is skipped")
        return None
    seen.add(ident)
    return param_from_item(ident, item)


def _slug(record: Mapping[str, Any]) -> str:
    owner = record.get("cleanslugowner") or record.get("slugowner") or "unknown"
    project = record.get("cleanslugproject") or record.get("slugproject") or "unknown"
    return f"{str(owner).strip().lower()}/{str(project).strip().lower()}"


def _seconds(text: Any) -> float:
    """``"10 seconds"`` -> 10.0 (10 when absent or unreadable)."""
    number = parse_number(str(text or "").split(" ", 1)[0]) if text else None
    return float(number) if number and number > 0 else 10.0


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # Task records carry categories as a JSON-encoded string
        value = [v.strip(' "[]') for v in value.split(",")]
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value if str(v).strip())

