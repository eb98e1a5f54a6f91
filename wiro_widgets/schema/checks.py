"""The checks of one input's value, on both sides of the wire.

`check_value` checks what a Python caller gives (`ValidationError` naming the field, the
value and the rule); `check_wire_value` checks what a server receives, where numbers and
booleans may arrive as strings, and words its errors as Wiro does (`WireValidationError`).
Both read the input through `CheckedParam`, the few attributes of `ParamSpec` they need.

Example:
    >>> check_value(spec.param("steps"), numpy.int64(28))
    28
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..errors import ValidationError
from .kinds import Kind

__all__ = ["CheckedParam", "WireError", "check_value", "check_wire_value", "plain"]

_TRUE, _FALSE = frozenset({"true", "1", "yes", "on"}), frozenset({"false", "0", "no", "off"})


class WireError(ValueError):
    """A wire check failed; ``message`` is Wiro's wording (the caller adds the param)."""


class CheckedParam(Protocol):
    """What the checks read of an input (`ParamSpec` has it all)."""

    @property
    def name(self) -> str: ...
    @property
    def py_name(self) -> str: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def required(self) -> bool: ...
    @property
    def minimum(self) -> float | None: ...
    @property
    def maximum(self) -> float | None: ...
    @property
    def multiple_of(self) -> int | None: ...
    @property
    def zero_means(self) -> str | None: ...
    @property
    def aliases(self) -> Mapping[str, str]: ...
    @property
    def option_values(self) -> tuple[str, ...]: ...
    @property
    def file_limit(self) -> int | None: ...
    @property
    def is_number(self) -> bool: ...
    @property
    def is_integer(self) -> bool: ...
    @property
    def is_select(self) -> bool: ...
    @property
    def is_bool(self) -> bool: ...
    @property
    def is_files(self) -> bool: ...
    def rule(self) -> str: ...


def plain(value: Any) -> Any:
    """A numpy scalar (or 0-d array) as the Python value it holds; anything else as is.

    Example:
        >>> plain(numpy.float32(2.5)), plain(7)
        (2.5, 7)
    """
    if hasattr(value, "dtype") and hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


# -- Python side -------------------------------------------------------------------------------
def check_value(param: CheckedParam, value: Any) -> Any:
    """The normalized value of a Python caller's ``value``, or `ValidationError`."""
    value = plain(value)
    if param.is_number:
        return _number(param, value)
    if param.is_select:
        return _select(param, value)
    if param.is_bool:
        return _boolean(param, value)
    if param.is_files:
        return _files(param, value)
    return _text(param, value)


def _fail(param: CheckedParam, value: Any, rule: str | None = None) -> ValidationError:
    return ValidationError(param.py_name, value, rule or param.rule())


def _number(param: CheckedParam, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(param, value, f"{param.rule()} (got {type(value).__name__})")
    number: int | float = float(value) if not isinstance(value, numbers.Integral) else int(value)
    if not math.isfinite(number):
        raise _fail(param, value)
    if param.is_integer:
        if not float(number).is_integer():
            raise _fail(param, value)
        number = int(number)
    elif param.kind is not Kind.RANGE or isinstance(number, float):
        number = float(number)
    check_range(param, number, lambda rule: _fail(param, value, rule))
    return number


def check_range(param: CheckedParam, number: float, fail: Callable[[str], Exception]) -> None:
    """Raise ``fail(rule)`` when ``number`` is outside the bounds or off the multiple."""
    if param.zero_means and number == 0:
        return
    if param.minimum is not None and number < param.minimum:
        raise fail(param.rule())
    if param.maximum is not None and number > param.maximum:
        raise fail(param.rule())
    if param.multiple_of and int(number) % param.multiple_of:
        raise fail(param.rule())


def select_key(param: CheckedParam, value: Any) -> str | None:
    """The option value ``value`` stands for (exact, else one case-insensitive match, else an
    alias), or None. Numbers and booleans match options spelled as text (``2``, ``true``)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, numbers.Real):
        text = _fmt(float(value))
    elif isinstance(value, str):
        text = value
    else:
        return None
    values = param.option_values
    if text in values:
        return text
    key = text.strip()
    if key in values:
        return key
    folded = [v for v in dict.fromkeys(values) if v.lower() == key.lower()]
    if len(folded) == 1:
        return folded[0]
    alias = param.aliases.get(key.lower())
    return alias if alias in values else None


def _select(param: CheckedParam, value: Any) -> str:
    key = select_key(param, value)
    if key is None:
        raise _fail(param, value)
    return key


def _boolean(param: CheckedParam, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _fail(param, value, f"{param.rule()} (got {type(value).__name__})")


def _text(param: CheckedParam, value: Any) -> str:
    # A plain `text` input takes numbers too (Wiro types some seeds as text).
    if (param.kind is Kind.TEXT and isinstance(value, numbers.Real)
            and not isinstance(value, bool) and math.isfinite(value)):
        check_range(param, float(value), lambda rule: _fail(param, value, rule))
        return _fmt(float(value))
    if not isinstance(value, str):
        kind = type(value).__name__
        raise _fail(param, value, f"must be a string, not {kind}")
    if param.required and not value.strip():
        raise _fail(param, value, "must not be empty")
    if "\x00" in value:
        raise _fail(param, value, "must not contain NUL characters")
    try:
        # Requests carry UTF-8: an unpaired surrogate (broken copy-paste) cannot travel.
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise _fail(param, value, "must be valid Unicode text (it holds an unpaired "
                    f"surrogate at position {err.start})") from None
    number = _as_number(value)
    if number is not None and param.kind is Kind.TEXT:
        check_range(param, number, lambda rule: _fail(param, value, rule))
    return value


def _files(param: CheckedParam, value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, bytearray, memoryview)) or not isinstance(
            value, Sequence):
        items: list[Any] = [value]
    else:
        items = list(value)
    limit = param.file_limit
    if limit is not None and len(items) > limit:
        raise _fail(param, f"<{len(items)} images>", param.rule())
    return items


def _as_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# -- server side -------------------------------------------------------------------------------
def check_wire_value(param: CheckedParam, raw: Any) -> Any:
    """Parse and check a value as a server receives it.

    Raises:
        WireError: with Wiro's wording, e.g. ``Request parameter [steps] must be between 1
            and 50``.
    """
    name = param.name
    if param.is_number:
        return _wire_number(param, raw)
    if param.is_select:
        key = select_key(param, raw)
        if key is None:
            raise WireError(f"Request parameter [{name}] must be one of "
                            + ", ".join(param.option_values))
        return key
    if param.is_bool:
        text = str(raw).strip().lower()
        if text not in _TRUE | _FALSE:
            raise WireError(f"Request parameter [{name}] must be true or false")
        return text in _TRUE
    text = raw if isinstance(raw, str) else str(raw)
    if param.required and not text.strip():
        raise WireError(f"Request parameter [{name}] required")
    number = _as_number(text) if param.kind is Kind.TEXT else None
    if number is not None:
        check_range(param, number, lambda _rule: _between(param))
    return text


def _wire_number(param: CheckedParam, raw: Any) -> int | float:
    name = param.name
    try:
        number = float(raw) if not isinstance(raw, (int, float)) else raw
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(raw, bool) or not math.isfinite(number):
        raise WireError(f"Request parameter [{name}] must be integer or float")
    if param.is_integer:
        if not float(number).is_integer():
            raise WireError(f"Request parameter [{name}] must be integer")
        number = int(number)
    low, high = param.minimum, param.maximum

    def fail(_rule: str) -> Exception:
        inside = (low is None or number >= low) and (high is None or number <= high)
        if param.multiple_of and inside:
            return WireError(f"Request parameter [{name}] must be multiple of "
                             f"{param.multiple_of}")
        return _between(param)

    check_range(param, float(number), fail)
    return number


def _between(param: CheckedParam) -> WireError:
    low = _fmt(param.minimum) if param.minimum is not None else "-inf"
    high = _fmt(param.maximum) if param.maximum is not None else "inf"
    return WireError(f"Request parameter [{param.name}] must be between {low} and {high}")


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
