"""One model input: `ParamSpec`, its kind, its rules, and its checks on both sides of the wire.

A `ParamSpec` is one input of a model as its Tool/Detail record lists it (API name, kind,
label, help, default, range, options, file limit), with the form hints a panel needs.
`ParamSpec.check` checks a value from a Python caller (`values`); `ParamSpec.check_wire`
checks what arrives at a server (values that may be strings from a multipart body) and words
its errors the way Wiro does (`wire`).

Example:
    >>> from wiro_widgets.specs import get_spec
    >>> spec = get_spec("black-forest-labs/flux-2-flex")
    >>> params = spec.validate({"prompt": "a red fox", "steps": 28})
    >>> params["guidance"], spec.to_wire(params)["safetyTolerance"]
    (4.5, 2)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .checks import WireError, check_value, check_wire_value
from .kinds import (
    BOOL_KINDS,
    FILE_KINDS,
    INTEGER_KINDS,
    NUMBER_KINDS,
    SELECT_KINDS,
    TEXT_KINDS,
    Kind,
)

__all__ = [
    "Kind",
    "Option",
    "ParamSpec",
    "WireValidationError",
    "fmt_number",
    "snake_case",
]


class WireValidationError(ValueError):
    """A server-side validation failure, worded as Wiro words it (code 0)."""

    def __init__(self, message: str, *, param: str) -> None:
        self.param = param
        super().__init__(message)


@dataclass(frozen=True)
class Option:
    """One choice of a ``select`` (``cover``: the picture of a ``selectwithcover`` choice)."""

    value: str
    label: str
    cover: str = ""


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
        minimum, maximum: inclusive range for numbers (for a ``text`` input: the range of
            the number it holds, as Wiro's seeds do).
        step: the natural increment for a slider.
        multiple_of: numbers must be a multiple of this.
        zero_means: when set, 0 is also allowed and means this (e.g. "match the first
            reference image"); left unset while reference images are given, it is not sent
            at all (the model then matches the input image).
        options: the choices of a select.
        aliases: extra spellings accepted for select values (``jpg`` -> ``jpeg``).
        max_files: how many entries a file input takes.
        py_name: the Python keyword (derived from ``name`` unless given).
        css_class: form hint: the CSS hook class on this input's control in the panel.
        zero_label: form hint: how a caption shows the value 0 when it has a meaning
            (``zero_means``), e.g. ``as image 1``.
        wire_type: the ``type`` as the schema spelled it (an unknown type is kept here while
            ``kind`` is `Kind.TEXT`); empty for ``kind.value``.
        advanced: the schema marks it as an advanced setting.
        notes: what was odd in the schema and how it was read (an unknown type, bounds that
            contradict each other, a default outside them ...).
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
    wire_type: str = ""
    advanced: bool = False
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.py_name:
            object.__setattr__(self, "py_name", snake_case(self.name))
        if not self.wire_type:
            object.__setattr__(self, "wire_type", self.kind.value)

    # -- descriptions ---------------------------------------------------------------------
    @property
    def is_number(self) -> bool:
        return self.kind in NUMBER_KINDS

    @property
    def is_integer(self) -> bool:
        """Whole numbers only: ``number``/``integer``, or a ``range`` whose bounds and step
        are whole."""
        if self.kind in INTEGER_KINDS:
            return True
        if self.kind is not Kind.RANGE:
            return False
        bounds = (self.minimum, self.maximum, self.step if self.step is not None else 1)
        return all(b is None or float(b).is_integer() for b in bounds)

    @property
    def is_select(self) -> bool:
        return self.kind in SELECT_KINDS

    @property
    def is_bool(self) -> bool:
        return self.kind in BOOL_KINDS

    @property
    def is_text(self) -> bool:
        return self.kind in TEXT_KINDS

    @property
    def is_files(self) -> bool:
        return self.kind in FILE_KINDS

    @property
    def is_known_type(self) -> bool:
        """False when the schema's type was not one Wiro documents (kept as text)."""
        return self.wire_type == self.kind.value

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    @property
    def file_limit(self) -> int | None:
        """How many entries the input takes (1 for ``fileinput``)."""
        return 1 if self.kind is Kind.FILEINPUT else self.max_files

    def rule(self) -> str:
        """What this input allows, in plain words (used in every error message)."""
        if self.is_number:
            text = ("an integer" if self.is_integer else "a number") + self.range_text()
            if self.multiple_of:
                text += f" and a multiple of {self.multiple_of}"
            if self.zero_means:
                text += f", or 0 to {self.zero_means}"
            return f"must be {text}"
        if self.is_select:
            return "must be one of " + ", ".join(repr(v) for v in self.option_values)
        if self.is_bool:
            return "must be True or False"
        if self.is_files:
            limit = self.file_limit
            noun = "image" if limit == 1 else "images"
            return f"takes at most {limit} {noun}" if limit else "takes images"
        if self.kind is Kind.TEXT and (self.minimum is not None or self.maximum is not None):
            return "must be a string or a number" + self.range_text()
        return "must be a non-empty string" if self.required else "must be a string"

    def range_text(self) -> str:
        """`` from 1 to 50``, `` of at least 0``, or nothing."""
        if self.minimum is not None and self.maximum is not None:
            return f" from {fmt_number(self.minimum)} to {fmt_number(self.maximum)}"
        if self.minimum is not None:
            return f" of at least {fmt_number(self.minimum)}"
        if self.maximum is not None:
            return f" of at most {fmt_number(self.maximum)}"
        return ""

    # -- checks -----------------------------------------------------------------------------
    def check(self, value: Any) -> Any:
        """Return the normalized value, or raise `ValidationError` naming field, value, rule.

        Numpy numbers count as the Python numbers they hold.

        Example:
            >>> spec.param("steps").check(28)
            28
        """
        return check_value(self, value)

    def check_wire(self, raw: Any) -> Any:
        """Parse and check a value as a server receives it; errors use Wiro's wording."""
        try:
            return check_wire_value(self, raw)
        except WireError as err:
            raise WireValidationError(str(err), param=self.name) from None

    def to_wire(self, value: Any) -> Any:
        """A checked value as it travels: booleans as the strings ``"true"``/``"false"``
        (as Wiro's SDK fixtures send them), numbers held by ``text`` inputs as strings."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return value


def fmt_number(number: float) -> str:
    """``64`` for 64.0, ``4.5`` for 4.5: numbers as a person writes them."""
    return str(int(number)) if float(number).is_integer() else str(number)
