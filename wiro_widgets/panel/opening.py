"""Which client and which spec a panel opens with, and why it could not.

`resolve_client` builds a `WiroClient` from the environment when none is given (None and
the reason when that fails); `resolve_spec` reads a model's spec through ``client.spec``
(the live schema, cached on disk, the built-in spec offline) and turns every way that can
fail into a reason the panel shows, never a traceback.

Example:
    >>> spec, problem = resolve_spec(client, "google/nano-banana-pro", None)
    >>> spec.slug, problem
    ('google/nano-banana-pro', None)
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..client import WiroClient
    from ..errors import ConfigError
    from ..schema import ModelSpec

__all__ = ["ModelUnavailable", "config_hint", "resolve_client", "resolve_spec"]


class ModelUnavailable(Exception):
    """A model's spec could not be had (no client and no built-in spec, no answer)."""


def config_hint() -> str:
    """How to give the panel a client (credentials, or the sandbox)."""
    from .messages import CONFIG_HINT

    return CONFIG_HINT


def resolve_client(client: WiroClient | None) -> tuple[WiroClient | None, ConfigError | None]:
    """``client``, or one built from the environment; ``(None, reason)`` when that fails."""
    if client is not None:
        return client, None
    from ..client import WiroClient
    from ..errors import ConfigError

    try:
        return WiroClient(), None
    except ConfigError as err:
        return None, err


def resolve_spec(client: WiroClient | None, model: str, config_error: BaseException | None
                 ) -> tuple[ModelSpec | None, BaseException | None]:
    """The spec of ``model`` and None, or None and why it cannot be had.

    Without a client only built-in specs are known. ``ModelNotFound`` (with the closest
    names) and every other error of the client come back as the reason.

    Example:
        >>> resolve_spec(client, "acme/nope", None)[1].closest
        ('acme/nope-2',)
    """
    from ..errors import WiroError
    from ..specs import get_spec

    slug = model.strip().strip("/")
    if client is None:
        spec = get_spec(slug)
        if spec is not None:
            return spec, None
        return None, ModelUnavailable(
            f"No Wiro client to read the schema of {slug!r}: {config_error}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            spec = client.spec(slug)
    except WiroError as err:
        return None, err
    except Exception as err:  # a broken answer must not break the panel
        return None, ModelUnavailable(f"Could not read the schema of {slug!r}: {err}")
    if spec is None:
        said = "; ".join(str(w.message) for w in caught)
        return None, ModelUnavailable(
            f"Wiro could not be reached for the schema of {slug!r}, and no copy is cached "
            f"({said})" if said else f"The schema of {slug!r} lists no inputs, so no form can "
            f"be built; run it from code: client.run({slug!r}, ...)")
    if caught:
        from dataclasses import replace

        notes = tuple(dict.fromkeys((*spec.notes, *(str(w.message) for w in caught))))
        spec = replace(spec, notes=notes)
    return spec, None
