"""A model's inputs and the rules that join them: `ModelSpec`.

One description of each model drives validation, defaults, the panel's form (through its
`FormHints`), the sandbox's own checks, the cost estimate and the Tool/Detail document.
`ModelSpec.validate` checks Python-side (snake_case) parameters before anything is sent;
`ModelSpec.validate_wire` checks what arrives at a server (API names, values that may be
strings from a multipart body) and words its errors the way Wiro does.

Example:
    >>> from wiro_widgets.specs import get_spec
    >>> spec = get_spec("black-forest-labs/flux-2-flex")
    >>> params = spec.validate({"prompt": "a red fox", "steps": 28})
    >>> params["guidance"], spec.to_wire(params)["safetyTolerance"]
    (4.5, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError
from .form import FormHints, FormSection
from .params import ParamSpec, WireValidationError

__all__ = ["Check", "ModelSpec"]

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
        form: how a form lays the inputs out (see `form_hints` for the fallback).
    """

    slug: str
    title: str
    description: str
    params: tuple[ParamSpec, ...]
    checks: tuple[Check, ...] = ()
    price_per_megapixel: float = 0.0
    price_per_reference: float = 0.0
    estimated_seconds: float = 10.0
    form: FormHints = field(default_factory=FormHints)

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
        """The input that takes files (reference images), if any."""
        return next((p for p in self.params if p.is_files), None)

    def form_hints(self) -> FormHints:
        """The form hints; a spec without sections gets one "Settings" section of every
        input but files, in spec order."""
        if self.form.sections:
            return self.form
        names = tuple(p.py_name for p in self.params if not p.is_files)
        return FormHints(sections=(FormSection("Settings", names),), prompt=self.form.prompt,
                         seed=self.form.seed, size=self.form.size,
                         caption=self.form.caption)

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


