"""Model input specs: `ParamSpec` (one input), `ModelSpec` (a model's inputs and rules), the
`FormHints` a form needs, and `spec_from_tool`, which reads any model's spec from its
Tool/Detail record.

Modules: `kinds` (Wiro's input types), `params` (`ParamSpec`), `checks` (value checks on
both sides of the wire), `model` (`ModelSpec`), `tool_detail` and `tool_items` (reading a
record, both key spellings), `form_guess` (form hints of a read spec), `pricing`
(``dynamicprice``), `form` (`FormHints`).

Example:
    >>> from wiro_widgets.schema import Kind, ModelSpec, ParamSpec
    >>> ParamSpec("safetyTolerance", Kind.NUMBER, "Safety tolerance").py_name
    'safety_tolerance'
"""

from __future__ import annotations

from .checks import plain
from .form import FormHints, FormSection
from .kinds import Kind
from .model import Check, ModelSpec
from .params import Option, ParamSpec, WireValidationError, fmt_number, snake_case
from .pricing import COMPUTED_METHODS, PriceRule, parse_dynamicprice
from .tool_detail import spec_from_tool
from .tool_items import MATCH_INPUT_IMAGE

__all__ = [
    "COMPUTED_METHODS",
    "MATCH_INPUT_IMAGE",
    "Check",
    "FormHints",
    "FormSection",
    "Kind",
    "ModelSpec",
    "Option",
    "ParamSpec",
    "PriceRule",
    "WireValidationError",
    "fmt_number",
    "parse_dynamicprice",
    "plain",
    "snake_case",
    "spec_from_tool",
]
