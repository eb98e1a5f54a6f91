"""The model specs this package knows by heart: the offline fallback of the live schema.

Any model's spec comes from its Tool/Detail record (`schema.spec_from_tool`, fetched and
cached by the client). The built-in specs here are hand-written from the model pages (form
hints, CSS hooks, aliases) and are used when the live schema agrees with them
(`prefer_builtin`), or when the API cannot be reached and nothing is cached.

Example:
    >>> from wiro_widgets.specs import get_spec
    >>> get_spec("black-forest-labs/flux-2-flex").param("steps").maximum
    50
"""

from __future__ import annotations

from ..schema import ModelSpec
from .agreement import BUILTIN, differences, prefer_builtin
from .flux_2_flex import FLUX_2_FLEX

__all__ = ["FLUX_2_FLEX", "SPECS", "differences", "get_spec", "prefer_builtin"]

#: The built-in specs by slug.
SPECS: dict[str, ModelSpec] = BUILTIN


def get_spec(model: str) -> ModelSpec | None:
    """The built-in spec for ``owner/model``, or None when this package has none by heart
    (the client reads any model's spec from its live schema: ``client.spec(model)``)."""
    return SPECS.get(model.strip().strip("/"))
