"""A model's price rules (``dynamicprice``) and the cost estimate they give for one run.

Wiro's Tool/List and Tool/Detail carry ``dynamicprice``, a JSON-encoded array of
``{"inputs": {...}, "price": 0.039, "priceMethod": "cpo"}`` (pricing.md; Wiro-MCP parses it
with ``JSON.parse``). An entry applies when the run's parameters have the values in its
``inputs`` (``{}``: every run; ``"QUANTITY:2"``: two files given to that input); the most
specific matching entry wins.

Methods computed here (pricing.md):

- ``cpr`` (per request): ``price``.
- ``cpo`` (per output): ``price`` times the number of outputs asked for (the model's output
  count input, else 1).
- ``cp-pixel``: the output size in 1024x1024 tiers; the first tier costs ``price``, each
  further tier ``priceExtra`` (``price`` when absent), and each input image ``priceInput``
  per tier of its own size (one tier when its size is not known). Known only when the size
  is: ``width``/``height`` given, or 0/absent with a first reference of known size.
- ``cp-promptlength``: ``price`` per character of the prompt.

Not computed (None): ``cps`` (time), ``cpt`` (tokens), ``cp-audiosecondslength``,
``cp-outputVideoLength``, ``cp-realtimeturn``, ``cp-readoutput``, and any unknown method:
their cost is known only after the run.

Example:
    >>> rules, notes = parse_dynamicprice('[{"inputs":{},"price":0.039,"priceMethod":"cpo"}]')
    >>> estimate_price(rules, {"prompt": "a fox"}, {}, outputs=2)
    0.078
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COMPUTED_METHODS",
    "TIER_PIXELS",
    "PriceRule",
    "estimate_price",
    "parse_dynamicprice",
]

#: The price methods this module computes before a run.
COMPUTED_METHODS = ("cpr", "cpo", "cp-pixel", "cp-promptlength")
#: One ``cp-pixel`` tier: 1024 x 1024 pixels.
TIER_PIXELS = 1_048_576
_QUANTITY = "QUANTITY:"


@dataclass(frozen=True)
class PriceRule:
    """One entry of ``dynamicprice``.

    Attributes:
        inputs: input id -> the value this price applies to (``QUANTITY:n`` for file counts).
        price: USD.
        method: ``priceMethod`` (``cpr``, ``cpo``, ``cp-pixel`` ...).
        extra: ``priceExtra`` (``cp-pixel``: each further tier).
        per_input: ``priceInput`` (``cp-pixel``: each input image, per tier).
    """

    inputs: Mapping[str, str] = field(default_factory=dict)
    price: float = 0.0
    method: str = "cpr"
    extra: float | None = None
    per_input: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The entry as Wiro writes it."""
        out: dict[str, Any] = {"inputs": dict(self.inputs), "price": self.price,
                               "priceMethod": self.method}
        if self.extra is not None:
            out["priceExtra"] = self.extra
        if self.per_input is not None:
            out["priceInput"] = self.per_input
        return out


def parse_dynamicprice(raw: Any) -> tuple[tuple[PriceRule, ...], list[str]]:
    """The rules of a ``dynamicprice`` value (a JSON string, or the array itself), and notes
    on anything that could not be read. Never raises.

    Example:
        >>> parse_dynamicprice("not json")
        ((), ["dynamicprice is not valid JSON; the price is unknown"])
    """
    if raw in (None, "", [], "[]"):
        return (), []
    value = raw
    if isinstance(raw, (str, bytes)):
        try:
            value = json.loads(raw)
        except ValueError:
            return (), ["dynamicprice is not valid JSON; the price is unknown"]
    if not isinstance(value, list):
        return (), ["dynamicprice is not a list of price entries; the price is unknown"]
    rules: list[PriceRule] = []
    notes: list[str] = []
    for position, entry in enumerate(value):
        rule = _rule(entry)
        if rule is None:
            notes.append(f"dynamicprice entry {position} has no usable price; skipped")
        else:
            rules.append(rule)
    return tuple(rules), notes


def _rule(entry: Any) -> PriceRule | None:
    if not isinstance(entry, Mapping):
        return None
    price = _number(entry.get("price"))
    if price is None or price < 0:
        return None
    inputs = entry.get("inputs")
    inputs = {str(k): _text(v) for k, v in inputs.items()} if isinstance(inputs, Mapping) else {}
    return PriceRule(inputs=inputs, price=price,
                     method=str(entry.get("priceMethod") or "cpr").strip(),
                     extra=_number(entry.get("priceExtra")),
                     per_input=_number(entry.get("priceInput")))


def estimate_price(rules: Sequence[PriceRule], wire: Mapping[str, Any],
                   files: Mapping[str, Sequence[Any]], *, outputs: int = 1,
                   size_names: tuple[str, str] = ("width", "height"),
                   prompt_name: str = "prompt") -> float | None:
    """The USD estimate of one run, or None when no rule applies or its method is not one of
    `COMPUTED_METHODS`.

    Args:
        rules: the model's price rules.
        wire: the run's values by API id (defaults filled).
        files: the run's file entries by API id (references, or descriptors; a ``width`` and
            ``height`` are read when they have them).
        outputs: how many outputs the run asks for (``cpo``).
        size_names: the API ids of the output size inputs (``cp-pixel``).
        prompt_name: the API id of the prompt (``cp-promptlength``).
    """
    rule = _matching(rules, wire, files)
    if rule is None:
        return None
    method = rule.method
    if method == "cpr":
        return round(rule.price, 6)
    if method == "cpo":
        return round(rule.price * max(1, outputs), 6)
    if method == "cp-promptlength":
        return round(rule.price * len(str(wire.get(prompt_name) or "")), 6)
    if method == "cp-pixel":
        return _per_pixel(rule, wire, files, size_names)
    return None


def _matching(rules: Sequence[PriceRule], wire: Mapping[str, Any],
              files: Mapping[str, Sequence[Any]]) -> PriceRule | None:
    best: PriceRule | None = None
    for rule in rules:
        if all(_matches(key, want, wire, files) for key, want in rule.inputs.items()) and (
                best is None or len(rule.inputs) > len(best.inputs)):
            best = rule
    return best


def _matches(key: str, want: str, wire: Mapping[str, Any],
             files: Mapping[str, Sequence[Any]]) -> bool:
    if want.startswith(_QUANTITY):
        count = len(files.get(key, ())) if key in files else _count(wire.get(key))
        return _text(count) == want[len(_QUANTITY):].strip()
    return key in wire and _text(wire[key]).strip().lower() == want.strip().lower()


def _per_pixel(rule: PriceRule, wire: Mapping[str, Any], files: Mapping[str, Sequence[Any]],
               size_names: tuple[str, str]) -> float | None:
    width, height = (_number(wire.get(name)) or 0 for name in size_names)
    entries = [entry for group in files.values() for entry in group]
    if not (width and height) and entries:
        width, height = _size_of(entries[0])
    if not (width and height):
        return None
    tiers = _tiers(width, height)
    extra = rule.extra if rule.extra is not None else rule.price
    cost = rule.price + (tiers - 1) * extra
    if rule.per_input:
        for entry in entries:
            w, h = _size_of(entry)
            cost += rule.per_input * (_tiers(w, h) if w and h else 1)
    return round(cost, 6)


def _tiers(width: float, height: float) -> int:
    return max(1, math.ceil(width * height / TIER_PIXELS))


def _size_of(entry: Any) -> tuple[float, float]:
    if isinstance(entry, Mapping):
        w, h = entry.get("width"), entry.get("height")
    else:
        w, h = getattr(entry, "width", None), getattr(entry, "height", None)
    return _number(w) or 0.0, _number(h) or 0.0


def _count(value: Any) -> int:
    if isinstance(value, (list, tuple)):
        return len(value)
    if isinstance(value, str):
        return len([v for v in value.split(",") if v.strip()])
    return 0 if value in (None, "") else 1


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
