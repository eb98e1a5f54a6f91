"""The model specs this package knows. Unknown models pass parameters through unvalidated.

Example:
    >>> from wiro_widgets.specs import get_spec
    >>> get_spec("black-forest-labs/flux-2-flex").param("steps").maximum
    50
"""

from __future__ import annotations

from ..schema import ModelSpec
from .flux_2_flex import FLUX_2_FLEX

__all__ = ["FLUX_2_FLEX", "SPECS", "get_spec"]

SPECS: dict[str, ModelSpec] = {FLUX_2_FLEX.slug: FLUX_2_FLEX}


def get_spec(model: str) -> ModelSpec | None:
    """The spec for ``owner/model``, or None when this package does not know the model."""
    return SPECS.get(model.strip().strip("/"))
