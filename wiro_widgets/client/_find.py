"""``wiro_widgets.models(...)``: find models on Wiro (``Tool/List``) without building a client
first.

Example:
    >>> import wiro_widgets
    >>> wiro_widgets.models(search="flux", category="image-editing")
"""

from __future__ import annotations

from ._catalog import ModelList
from ._facade import WiroClient

__all__ = ["models"]


def models(search: str | None = None, category: str | None = None, *,
           client: WiroClient | None = None, owner: str | None = None,
           limit: int = 50) -> ModelList:
    """The models ``Tool/List`` finds: a list of `ModelInfo` (slug, title, description,
    categories, price rules), shown as a table in a notebook.

    Args:
        search: words to look for in the slug, title or description.
        category: one of Wiro's categories (``text-to-image``, ``image-editing``,
            ``text-to-video``, ...).
        client: the client to ask (default: a `WiroClient` from the environment).
        owner: only this owner's models (``google``).
        limit: the most models to return.

    Example:
        >>> found = models(search="banana")
        >>> found.slugs[:2]
        ['google/nano-banana', 'google/nano-banana-pro']
        >>> client.run(found[0].slug, prompt="a koala in a shirt")
    """
    return (client or WiroClient()).models(search, category, owner=owner, limit=limit)
