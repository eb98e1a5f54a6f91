"""Model input specs: one description of each parameter drives validation, defaults, the
panel's controls, the sandbox's own checks and the Tool/Detail document.

A `ParamSpec` is one input of a model as the Wiro model page lists it (API name, kind, label,
help, default, range). `ModelSpec.validate` checks Python-side (snake_case) parameters before
anything is sent; `ModelSpec.validate_wire` checks what arrives at a server (API names, values
that may be strings from a multipart body) and words its errors the way Wiro does.

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

from .errors import ValidationError

__all__ = [
    "Kind",
    "ModelSpec",
    "Option",
    "ParamSpec",
    "WireValidationError",
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
                text += f" from {_fmt(self.minimum)} to {_fmt(self.maximum)}"
            elif self.minimum is not None:
                text += f" of at least {_fmt(self.minimum)}"
            elif self.maximum is not None:
                text += f" of at most {_fmt(self.maximum)}"
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
                low, high = _fmt(self.minimum or 0), _fmt(self.maximum or 0)
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


Check = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class ModelSpec:
    """A model's inputs and the rules that join them.

    Attributes:
        slug: ``owner/model`` as in the Run URL.
        title: a display name.
        description: one line.
        params: the inputs in form order.
        checks: rules across several inputs; each takes the normalized Python params and
            raises `ValidationError`.
        price_per_megapixel: the USD estimate per output megapixel (an estimate: the task
            record's ``totalcost`` is the real figure).
        price_per_reference: the USD estimate added per reference image.
        estimated_seconds: typical processing time, for progress estimates.
    """

    slug: str
    title: str
    description: str
    params: tuple[ParamSpec, ...]
    checks: tuple[Check, ...] = ()
    price_per_megapixel: float = 0.0
    price_per_reference: float = 0.0
    estimated_seconds: float = 10.0

    @property
    def owner(self) -> str:
        return self.slug.split("/", 1)[0]

    @property
    def project(self) -> str:
        return self.slug.split("/", 1)[1]

    def param(self, name: str) -> ParamSpec:
        """The input with this Python or API name.

        Example:
            >>> spec.param("safety_tolerance").name
            'safetyTolerance'
        """
        for p in self.params:
            if name in (p.py_name, p.name):
                return p
        raise KeyError(name)

    @property
    def file_param(self) -> ParamSpec | None:
        return next((p for p in self.params if p.is_files), None)

    def defaults(self) -> dict[str, Any]:
        """Python-named defaults, file inputs excluded (their defaults are sample files)."""
        return {
            p.py_name: p.default for p in self.params if p.default is not None and not p.is_files
        }

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check Python-named params against every rule; return them with defaults filled.

        Raises:
            ValidationError: naming the first field that breaks a rule, its value and the rule.

        Example:
            >>> spec.validate({"prompt": "a fox", "width": 1000})
            Traceback (most recent call last):
            ...
            ValidationError: width=1000: must be an integer from 64 to 2048 and a multiple ...
        """
        known = {p.py_name for p in self.params}
        unknown = sorted(set(params) - known)
        if unknown:
            allowed = ", ".join(sorted(known))
            raise ValidationError(unknown[0], params[unknown[0]], f"is not a parameter of "
                                  f"{self.slug}; the parameters are: {allowed}")
        out: dict[str, Any] = {}
        for p in self.params:
            if p.py_name in params and params[p.py_name] is not None:
                out[p.py_name] = p.check(params[p.py_name])
            elif p.required:
                raise ValidationError(p.py_name, None, "is required")
            elif p.is_files:
                out[p.py_name] = []
            elif p.default is not None:
                out[p.py_name] = p.default
        for check in self.checks:
            check(out)
        return out

    def to_wire(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Rename validated Python params to API names (file inputs left as given)."""
        return {self.param(k).name: v for k, v in params.items()}

    def from_wire(self, wire: Mapping[str, Any]) -> dict[str, Any]:
        """Rename API-named params to Python names; unknown keys are dropped."""
        out: dict[str, Any] = {}
        for key, value in wire.items():
            try:
                out[self.param(key).py_name] = value
            except KeyError:
                continue
        return out

    def validate_wire(self, wire: Mapping[str, Any], *, file_count: int) -> dict[str, Any]:
        """Server-side check of API-named values (strings allowed for numbers).

        Args:
            wire: the request's non-file parameters by API name.
            file_count: how many entries arrived for the file input.

        Returns:
            API-named values, parsed, with defaults filled.

        Raises:
            WireValidationError: with Wiro's message, e.g.
                ``Request parameter [steps] must be between 1 and 50``.
        """
        out: dict[str, Any] = {}
        for p in self.params:
            if p.is_files:
                if p.max_files is not None and file_count > p.max_files:
                    raise WireValidationError(
                        f"Request files [{p.name}] must be at most {p.max_files} files",
                        param=p.name,
                    )
                if p.required and file_count == 0:
                    raise WireValidationError(f"Request files [{p.name}] required", param=p.name)
                continue
            raw = wire.get(p.name)
            if raw is None or (isinstance(raw, str) and raw == "" and not p.required):
                if p.required:
                    raise WireValidationError(
                        f"Request parameter [{p.name}] required", param=p.name
                    )
                if p.default is not None:
                    out[p.name] = p.default
                continue
            out[p.name] = p.check_wire(raw)
        py = {self.param(k).py_name: v for k, v in out.items()}
        if self.file_param is not None:
            py[self.file_param.py_name] = [None] * file_count
        for check in self.checks:
            try:
                check(py)
            except ValidationError as err:
                name = self.param(err.field).name
                raise WireValidationError(
                    f"Request parameter [{name}] {err.rule}", param=name
                ) from None
        return out

    def estimate_cost(self, params: Mapping[str, Any]) -> float:
        """A USD estimate for one run with these (Python-named, validated) params.

        Example:
            >>> round(spec.estimate_cost({"width": 1024, "height": 1024}), 4)
            0.0629
        """
        width = int(params.get("width") or 1024)
        height = int(params.get("height") or 1024)
        refs = params.get(self.file_param.py_name, []) if self.file_param else []
        megapixels = width * height / 1_000_000
        return round(megapixels * self.price_per_megapixel + len(refs) * self.price_per_reference,
                     6)

    def tool_detail(self) -> dict[str, Any]:
        """This spec as a Tool/Detail ``tool`` entry; item keys in both spellings seen in
        Wiro's clients (``default``/``defaultvalue``, ``min``/``minvalue``, ...)."""
        items = []
        for p in self.params:
            item: dict[str, Any] = {
                "id": p.name,
                "type": p.kind.value,
                "label": p.label,
                "note": p.help,
                "help": p.help,
                "required": p.required,
                "default": p.default,
                "defaultvalue": p.default,
            }
            if p.minimum is not None:
                item["min"] = item["minvalue"] = p.minimum
            if p.maximum is not None:
                item["max"] = item["maxvalue"] = p.maximum
            if p.step is not None:
                item["step"] = item["incrementby"] = p.step
            if p.options:
                item["options"] = [
                    {"value": o.value, "label": o.label, "text": o.label} for o in p.options
                ]
            if p.max_files is not None:
                item["maxinputlenght"] = p.max_files
            items.append(item)
        return {
            "slugowner": self.owner,
            "slugproject": self.project,
            "title": self.title,
            "description": self.description,
            "parameters": [{"title": "Inputs", "items": items}],
            "dynamicprice": (
                f'{{"per_megapixel": {self.price_per_megapixel}, '
                f'"per_reference": {self.price_per_reference}}}'
            ),
        }


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
