"""The ipywidgets panel: `FluxPanel` (form, references, Generate/Cancel, status, history).

Example:
    >>> from wiro_widgets.panel import FluxPanel
    >>> FluxPanel()
"""

from __future__ import annotations

from .panel import FluxPanel

__all__ = ["FluxPanel"]
