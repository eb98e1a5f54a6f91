"""One model input: `ParamSpec`, its kind, its rules, and its checks on both sides of the wire.

A `ParamSpec` is one input of a model as the Wiro model page lists it (API name, kind, label,
help, default, range), with the form hints the panel needs. `ParamSpec.check` checks a value
from a Python caller; `ParamSpec.check_wire` checks what arrives at a server (values that may
be strings from a multipart body) and words its errors the way Wiro does.

Example:
    >>> from wiro_widgets.specs import get_spec
    >>> spec = get_spec("black-forest-labs/flux-2-flex")
    >>> params = spec.validate({"prompt": "a red fox", "steps": 28})
    >>> params["guidance"], spec.to_wire(params)["safetyTolerance"]
    (4.5, 2)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..errors import ValidationError

__all__ = [
    "Kind",
    "Option",
    "ParamSpec",
    "WireValidationError",
    "fmt_number",
    "snake_case",
]


class Kind(str, Enum):
    """Wiro's input types (`type` in the model's parameter list)."""

    TEXT = "text"
    TEXTAREA = "textarea"
    NUMBER = "number"
    FLOAT = "float"
    SELECT = "select"
    COMBINEFILEINPUT = "combinefileinput"


class WireValidationError(ValueError):
    """A server-side validation failure, worded as Wiro words it (code 0)."""

    def __init__(self, message: str, *, param: str) -> None:
        self.param = param
        super().__init__(message)


@dataclass(frozen=True)
class Option:
    """One choice of a `select` input."""

    value: str
    label: str


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(api_name: str) -> str:
    """Python name for an API name: ``safetyTolerance`` -> ``safety_tolerance``.

    Example:
        >>> snake_case("outputFormat")
        'output_format'
    """
    return _CAMEL.sub("_", api_name).lower()


@dataclass(frozen=True)
class ParamSpec:
    """One model input.

    Attributes:
        name: the API name (``safetyTolerance``).
        kind: the input type.
        label: short label for a form.
        help: the model page's help text (used as a tooltip).
        default: the value sent when the caller gives none (None: not sent).
        required: whether a value must be given.
        minimum, maximum: inclusive range for numbers.
        step: the natural increment for a slider.
        multiple_of: numbers must be a multiple of this.
        zero_means: when set, 0 is also allowed and means this (e.g. "match the first
            reference image").
        options: the choices of a select.
        aliases: extra spellings accepted for select values (``jpg`` -> ``jpeg``).
        max_files: how many entries a file input takes.
        py_name: the Python keyword (derived from ``name`` unless given).
        css_class: form hint: the CSS hook class on this input's control in the panel.
        zero_label: form hint: how a caption shows the value 0 when it has a meaning
            (``zero_means``), e.g. ``as image 1``.
    """

    name: str
    kind: Kind
    label: str
    help: str = ""
    default: Any = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    multiple_of: int | None = None
    zero_means: str | None = None
    options: tuple[Option, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    max_files: int | None = None
    py_name: str = ""
    css_class: str = ""
    zero_label: str = ""

    def __post_init__(self) -> None:
        if not self.py_name:
            object.__setattr__(self, "py_name", snake_case(self.name))

    # -- descriptions ---------------------------------------------------------------------
    @property
    def is_number(self) -> bool:
        return self.kind in (Kind.NUMBER, Kind.FLOAT)

    @property
    def is_files(self) -> bool:
        return self.kind is Kind.COMBINEFILEINPUT

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    def rule(self) -> str:
        """What this input allows, in plain words (used in every error message)."""
        if self.is_number:
            noun = "an integer" if self.kind is Kind.NUMBER else "a number"
            text = noun
            if self.minimum is not None and self.maximum is not None:
                text += f" from {fmt_number(self.minimum)} to {fmt_number(self.maximum)}"
            elif self.minimum is not None:
                text += f" of at least {fmt_number(self.minimum)}"
            elif self.maximum is not None:
                text += f" of at most {fmt_number(self.maximum)}"
            if self.multiple_of:
                text += f" and a multiple of {self.multiple_of}"
            if self.zero_means:
                text += f", or 0 to {self.zero_means}"
            return f"must be {text}"
        if self.kind is Kind.SELECT:
            return "must be one of " + ", ".join(repr(v) for v in self.option_values)
        if self.is_files:
            return f"takes at most {self.max_files} images" if self.max_files else "takes images"
        return "must be a non-empty string" if self.required else "must be a string"

    # -- Python-side validation -----------------------------------------------------------
    def check(self, value: Any) -> Any:
        """Return the normalized value, or raise `ValidationError` naming field, value, rule.

        Example:
            >>> spec.param("steps").check(28)
            28
        """
        if self.is_number:
            return self._check_number(value)
        if self.kind is Kind.SELECT:
            return self._check_select(value)
        if self.is_files:
            return self._check_files(value)
        return self._check_text(value)

    def _check_number(self, value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError(
                self.py_name, value, f"{self.rule()} (got {type(value).__name__})"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(self.py_name, value, self.rule())
        number: int | float = value
        if self.kind is Kind.NUMBER:
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValidationError(self.py_name, value, self.rule())
                number = int(value)
        else:
            number = float(value)
        self._check_range(number, lambda rule: ValidationError(self.py_name, value, rule))
        return number

    def _check_range(self, number: float, fail: Callable[[str], Exception]) -> None:
        if self.zero_means and number == 0:
            return
        if self.minimum is not None and number < self.minimum:
            raise fail(self.rule())
        if self.maximum is not None and number > self.maximum:
            raise fail(self.rule())
        if self.multiple_of and int(number) % self.multiple_of:
            raise fail(self.rule())

    def _check_select(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(self.py_name, value, self.rule())
        key = value.strip().lower()
        key = self.aliases.get(key, key)
        if key not in self.option_values:
            raise ValidationError(self.py_name, value, self.rule())
        return key

    def _check_text(self, value: Any) -> str:
        if not isinstance(value, str):
            kind = type(value).__name__
            raise ValidationError(self.py_name, value, f"must be a string, not {kind}")
        if self.required and not value.strip():
            raise ValidationError(self.py_name, value, "must not be empty")
        if "\x00" in value:
            raise ValidationError(self.py_name, value, "must not contain NUL characters")
        try:
            # Requests carry UTF-8: an unpaired surrogate (broken copy-paste) cannot travel.
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValidationError(
                self.py_name, value, "must be valid Unicode text (it holds an unpaired "
                f"surrogate at position {err.start})"
            ) from None
        return value

    def _check_files(self, value: Any) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, (str, bytes, bytearray, memoryview)) or not isinstance(
            value, Sequence
        ):
            items: list[Any] = [value]
        else:
            items = list(value)
        if self.max_files is not None and len(items) > self.max_files:
            raise ValidationError(
                self.py_name, f"<{len(items)} images>", f"takes at most {self.max_files} images"
            )
        return items

    # -- server-side validation -------------------------------------------------------------
    def check_wire(self, raw: Any) -> Any:
        """Parse and check a value as a server receives it; errors use Wiro's wording."""
        if self.is_number:
            try:
                number = float(raw) if not isinstance(raw, (int, float)) else raw
            except (TypeError, ValueError):
                number = math.nan
            if isinstance(raw, bool) or not math.isfinite(number):
                raise WireValidationError(
                    f"Request parameter [{self.name}] must be integer or float", param=self.name
                )
            if self.kind is Kind.NUMBER:
                if not float(number).is_integer():
                    raise WireValidationError(
                        f"Request parameter [{self.name}] must be integer", param=self.name
                    )
                number = int(number)

            def fail(_rule: str) -> Exception:
                low, high = fmt_number(self.minimum or 0), fmt_number(self.maximum or 0)
                if self.multiple_of and (self.minimum or 0) <= number <= (self.maximum or 0):
                    return WireValidationError(
                        f"Request parameter [{self.name}] must be multiple of {self.multiple_of}",
                        param=self.name,
                    )
                return WireValidationError(
                    f"Request parameter [{self.name}] must be between {low} and {high}",
                    param=self.name,
                )

            self._check_range(float(number), fail)
            return number
        if self.kind is Kind.SELECT:
            text = str(raw).strip().lower()
            if text not in self.option_values:
                raise WireValidationError(
                    f"Request parameter [{self.name}] must be one of "
                    + ", ".join(self.option_values),
                    param=self.name,
                )
            return text
        text = str(raw)
        if self.required and not text.strip():
            raise WireValidationError(f"Request parameter [{self.name}] required", param=self.name)
        return text


def fmt_number(number: float) -> str:
    """``64`` for 64.0, ``4.5`` for 4.5: numbers as a person writes them."""
    return str(int(number)) if float(number).is_integer() else str(number)
