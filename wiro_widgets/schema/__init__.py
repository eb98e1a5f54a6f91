"""Model input specs: `ParamSpec` (one input), `ModelSpec` (a model's inputs and rules) and
the `FormHints` a form needs.

Example:
    >>> from wiro_widgets.schema import Kind, ModelSpec, ParamSpec
    >>> ParamSpec("safetyTolerance", Kind.NUMBER, "Safety tolerance").py_name
    'safety_tolerance'
"""

from __future__ import annotations

from .form import FormHints, FormSection
from .model import Check, ModelSpec
from .params import Kind, Option, ParamSpec, WireValidationError, fmt_number, snake_case

__all__ = [
    "Check",
    "FormHints",
    "FormSection",
    "Kind",
    "ModelSpec",
    "Option",
    "ParamSpec",
    "WireValidationError",
    "fmt_number",
    "snake_case",
]
