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
from .pricing import PriceRule, estimate_price

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
        price_per_megapixel: the package's own USD estimate per output megapixel, used only
            when the model has no price rules (``prices``); not a Wiro fact.
        price_per_reference: the package's own USD estimate added per reference image.
        estimated_seconds: typical processing time, for progress estimates.
        form: how a form lays the inputs out (see `form_hints` for the fallback).
        prices: the model's ``dynamicprice`` rules (see `pricing`).
        output_count: the API id of the input that sets how many outputs a run makes.
        categories: Wiro's categories of the model (``text-to-image``, ``text-to-video``...).
        notes: what was odd in the schema this spec was read from, and how it was read.
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
    prices: tuple[PriceRule, ...] = ()
    output_count: str | None = None
    categories: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

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
    def file_params(self) -> tuple[ParamSpec, ...]:
        """Every input that takes files or URLs, in form order."""
        return tuple(p for p in self.params if p.is_files)

    @property
    def file_param(self) -> ParamSpec | None:
        """The first input that takes files (reference images), if any."""
        return next(iter(self.file_params), None)

    def all_notes(self) -> list[str]:
        """The spec's notes, then each input's (prefixed with its API id)."""
        return [*self.notes, *(f"{p.name}: {n}" for p in self.params for n in p.notes)]

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
        """Check params (Python names or API ids) against every rule; return them by Python
        name with defaults filled.

        An input whose 0 means "match the input image" (``zero_means``) is left out, rather
        than given its default, when the caller did not set it and reference images are
        given: the model then matches the input image, as its page says.

        Raises:
            ValidationError: naming the first field that breaks a rule, its value and the rule.

        Example:
            >>> spec.validate({"prompt": "a fox", "width": 1000})
            Traceback (most recent call last):
            ...
            ValidationError: width=1000: must be an integer from 64 to 2048 and a multiple ...
        """
        given, spelled = self._by_python_name(params)

        def checked(p: ParamSpec) -> Any:
            try:
                return p.check(given[p.py_name])
            except ValidationError as err:  # named as the caller spelled it
                raise ValidationError(spelled[p.py_name], err.value, err.rule) from None

        files_given = any(checked(p) for p in self.file_params
                          if given.get(p.py_name) is not None)
        out: dict[str, Any] = {}
        for p in self.params:
            if p.py_name in given and given[p.py_name] is not None:
                out[p.py_name] = checked(p)
            elif p.is_files:
                out[p.py_name] = []
            elif p.required and p.default is None:
                raise ValidationError(p.py_name, None, "is required")
            elif p.zero_means and files_given:
                continue  # not sent: 0 or absent means "match the input image"
            elif p.default is not None:
                out[p.py_name] = p.default
        self._check_zero_needs_files(out, files_given)
        for check in self.checks:
            check(out)
        return out

    def _by_python_name(self, params: Mapping[str, Any]
                        ) -> tuple[dict[str, Any], dict[str, str]]:
        by_python: dict[str, Any] = {}
        spelled: dict[str, str] = {}
        for key, value in params.items():
            try:
                p = self.param(key)
            except KeyError:
                allowed = ", ".join(sorted(q.py_name for q in self.params))
                raise ValidationError(key, value, f"is not a parameter of {self.slug}; the "
                                      f"parameters are: {allowed}") from None
            if p.py_name in spelled:
                raise ValidationError(key, value, f"is given twice (as {spelled[p.py_name]} "
                                      f"and as {key}); give one")
            spelled[p.py_name] = key
            by_python[p.py_name] = value
        return by_python, spelled

    def _check_zero_needs_files(self, out: Mapping[str, Any], files_given: bool) -> None:
        if files_given or not self.file_params:
            return
        files = ", ".join(p.py_name for p in self.file_params)
        for p in self.params:
            if p.zero_means and out.get(p.py_name) == 0:
                raise ValidationError(
                    p.py_name, 0, f"0 means '{p.zero_means}', so it needs at least one "
                    f"reference image ({files}); give a value{p.range_text()} instead")

    def to_wire(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validated Python params by API name, as they travel (booleans as ``"true"``/
        ``"false"``; file inputs left as given)."""
        out: dict[str, Any] = {}
        for key, value in params.items():
            p = self.param(key)
            out[p.name] = value if p.is_files else p.to_wire(value)
        return out

    def from_wire(self, wire: Mapping[str, Any]) -> dict[str, Any]:
        """Rename API-named params to Python names; unknown keys are dropped."""
        out: dict[str, Any] = {}
        for key, value in wire.items():
            try:
                out[self.param(key).py_name] = value
            except KeyError:
                continue
        return out

    def validate_wire(self, wire: Mapping[str, Any], *, file_count: int = 0,
                      file_counts: Mapping[str, int] | None = None) -> dict[str, Any]:
        """Server-side check of API-named values (strings allowed for numbers).

        Args:
            wire: the request's non-file parameters by API name.
            file_count: how many entries arrived for the first file input.
            file_counts: how many entries arrived for each file input, by API id (wins over
                ``file_count``).

        Returns:
            API-named values, parsed, with defaults filled (an input whose 0 means "match
            the input image" stays absent when files came and it did not).

        Raises:
            WireValidationError: with Wiro's message, e.g.
                ``Request parameter [steps] must be between 1 and 50``.
        """
        counts = dict(file_counts) if file_counts is not None else (
            {self.file_param.name: file_count} if self.file_param else {})
        files_given = any(counts.values())
        out: dict[str, Any] = {}
        for p in self.params:
            if p.is_files:
                self._check_file_count(p, counts.get(p.name, 0))
                continue
            raw = wire.get(p.name)
            if raw is None or (isinstance(raw, str) and raw == "" and not p.required):
                if p.required and p.default is None:
                    raise WireValidationError(
                        f"Request parameter [{p.name}] required", param=p.name
                    )
                if p.default is not None and not (p.zero_means and files_given):
                    out[p.name] = p.default
                continue
            out[p.name] = p.check_wire(raw)
        py = {self.param(k).py_name: v for k, v in out.items()}
        for p in self.file_params:
            py[p.py_name] = [None] * counts.get(p.name, 0)
        try:
            self._check_zero_needs_files(py, files_given)
            for check in self.checks:
                check(py)
        except ValidationError as err:
            name = self.param(err.field).name
            raise WireValidationError(
                f"Request parameter [{name}] {err.rule}", param=name
            ) from None
        return out

    @staticmethod
    def _check_file_count(p: ParamSpec, count: int) -> None:
        limit = p.file_limit
        if limit is not None and count > limit:
            raise WireValidationError(
                f"Request files [{p.name}] must be at most {limit} files", param=p.name)
        if p.required and count == 0:
            raise WireValidationError(f"Request files [{p.name}] required", param=p.name)

    def estimate_cost(self, params: Mapping[str, Any]) -> float | None:
        """A USD estimate for one run with these (Python-named, validated) params, or None
        when the model's price cannot be computed before the run (see `pricing`).

        Example:
            >>> round(spec.estimate_cost({"width": 1024, "height": 1024}), 4)
            0.0629
        """
        files = {p.name: list(params.get(p.py_name) or []) for p in self.file_params}
        if self.prices:
            wire = {p.name: params[p.py_name] for p in self.params
                    if p.py_name in params and not p.is_files}
            count = _whole(wire.get(self.output_count)) if self.output_count else None
            return estimate_price(self.prices, wire, files, outputs=count or 1,
                                  size_names=self._size_ids(),
                                  prompt_name=self._prompt_id())
        if not (self.price_per_megapixel or self.price_per_reference):
            return None
        width = int(params.get("width") or 1024)
        height = int(params.get("height") or 1024)
        refs = sum(len(v) for v in files.values())
        megapixels = width * height / 1_000_000
        return round(megapixels * self.price_per_megapixel + refs * self.price_per_reference,
                     6)

    def _size_ids(self) -> tuple[str, str]:
        size = self.form.size or ("width", "height")
        names = []
        for name in size:
            try:
                names.append(self.param(name).name)
            except KeyError:
                names.append(name)
        return names[0], names[1]

    def _prompt_id(self) -> str:
        try:
            return self.param(self.form.prompt or "prompt").name
        except KeyError:
            return "prompt"


def _whole(value: Any) -> int | None:
    try:
        return max(1, int(float(value)))
    except (TypeError, ValueError):
        return None
