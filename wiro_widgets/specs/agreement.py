"""Built-in specs against the live schema: do they agree, and which spec to use.

A built-in spec (flux-2-flex) is hand-written from the model page: it has form hints, CSS
hooks, aliases and labels no schema carries. When the live Tool/Detail schema agrees with it
on every fact both state (the inputs, their order, types, required flags, defaults, ranges,
options and file limits), the built-in spec is used, with the live price rules and
categories; when they differ, Wiro changed the model and the live schema wins, with a note.

Example:
    >>> differences(FLUX_2_FLEX, spec_from_tool(record))
    []
    >>> prefer_builtin(spec_from_tool(record)) is not None
    True
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..schema import ModelSpec, ParamSpec
from .flux_2_flex import FLUX_2_FLEX

__all__ = ["BUILTIN", "differences", "prefer_builtin"]

#: The built-in specs by slug.
BUILTIN: dict[str, ModelSpec] = {FLUX_2_FLEX.slug: FLUX_2_FLEX}


def differences(builtin: ModelSpec, live: ModelSpec) -> list[str]:
    """What the two specs state differently (empty when they agree).

    Example:
        >>> differences(FLUX_2_FLEX, FLUX_2_FLEX)
        []
    """
    names = [p.name for p in builtin.params]
    live_names = [p.name for p in live.params]
    if names != live_names:
        return [f"inputs {names} here, {live_names} in the schema"]
    found: list[str] = []
    for mine, theirs in zip(builtin.params, live.params, strict=True):
        found.extend(f"{mine.name}: {what}" for what in _param_differences(mine, theirs))
    return found


def _param_differences(mine: ParamSpec, theirs: ParamSpec) -> list[str]:
    facts: list[tuple[str, Any, Any]] = [
        ("type", mine.wire_type, theirs.wire_type),
        ("required", mine.required, theirs.required),
        ("default", None if mine.is_files else mine.default, theirs.default),
        ("min", mine.minimum, theirs.minimum),
        ("max", mine.maximum, theirs.maximum),
        ("options", mine.option_values, theirs.option_values),
        ("file limit", mine.file_limit, theirs.file_limit),
    ]
    return [f"{what} {a!r} here, {b!r} in the schema" for what, a, b in facts if a != b]


def prefer_builtin(live: ModelSpec) -> ModelSpec:
    """The spec to use for a model read from its live schema: the built-in one when it
    exists and agrees (with the live prices and categories), else the live one (with a note
    when a built-in one disagrees)."""
    builtin = BUILTIN.get(live.slug)
    if builtin is None:
        return live
    found = differences(builtin, live)
    if found:
        note = (f"the built-in spec of {live.slug} differs from the live schema "
                f"({'; '.join(found)}); the live schema is used")
        return replace(live, notes=(*live.notes, note))
    return replace(builtin, prices=live.prices or builtin.prices,
                   categories=live.categories or builtin.categories,
                   notes=(*builtin.notes, *live.notes))
