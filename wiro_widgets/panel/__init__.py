"""The ipywidgets panels: `ModelPanel` (any Wiro model, or a picker) and `FluxPanel` (its
flux-2-flex preset): form, file inputs, Generate/Cancel, status, outputs, history.

Example:
    >>> from wiro_widgets.panel import FluxPanel, ModelPanel
    >>> FluxPanel()
    >>> ModelPanel("klingai/kling-v3")
"""

from __future__ import annotations

from .flux import FluxPanel
from .panel import ModelPanel

__all__ = ["FluxPanel", "ModelPanel"]
