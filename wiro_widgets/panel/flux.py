"""`FluxPanel`: the flux-2-flex preset of `ModelPanel` (its hand-written spec, no fetch).

Example:
    >>> from wiro_widgets import FluxPanel
    >>> panel = FluxPanel()          # WiroClient() from WIRO_API_KEY / WIRO_API_SECRET
    >>> panel.wait(120); panel.images[0].size
    (1024, 1024)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .panel import ModelPanel

if TYPE_CHECKING:
    from ..client import WiroClient

__all__ = ["DEFAULT_MODEL", "FluxPanel"]

#: The model a `FluxPanel` shows when none is named.
DEFAULT_MODEL = "black-forest-labs/flux-2-flex"


class FluxPanel(ModelPanel):
    """The flux-2-flex preset of `ModelPanel`: its built-in spec (prompt, size with aspect
    presets, seed tools, up to 10 reference images), no schema fetched.

    Args:
        client: a `WiroClient`; None builds one from the environment (see `ModelPanel`).
        model: a model with a built-in spec (default: flux-2-flex).
        save_dir, uploads_dir, history: as for `ModelPanel`.

    Example:
        >>> panel = FluxPanel(sandbox.client())
        >>> panel.form.prompt.value = "a red fox in snow"
        >>> panel.generate_button.click(); panel.wait(60)
        True
    """

    def __init__(self, client: WiroClient | None = None, *, model: str | None = None,
                 save_dir: str | Path = "wiro-images", uploads_dir: str | Path = "wiro-uploads",
                 history: int = 24) -> None:
        from ..specs import get_spec

        slug = model or DEFAULT_MODEL
        spec = get_spec(slug)
        if spec is None:
            raise ValueError(f"FluxPanel has no form for {slug!r}; known: {DEFAULT_MODEL}")
        super().__init__(spec.slug, client, save_dir=save_dir, uploads_dir=uploads_dir,
                         history=history, spec=spec)
