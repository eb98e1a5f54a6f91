"""Finding models: ``Tool/List`` as a list of small typed records, for a model picker.

Example:
    >>> found = list_models(transport.post, search="banana", category="image-editing")
    >>> [m.slug for m in found]
    ['google/nano-banana', 'google/nano-banana-pro', 'google/nano-banana-2']
    >>> found                     # in a notebook: a table of slug, title, categories, price
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..backoff import RetryPolicy
from ..schema import PriceRule, parse_dynamicprice

__all__ = ["ModelInfo", "ModelList", "list_models"]


@dataclass(frozen=True)
class ModelInfo:
    """One model as ``Tool/List`` describes it.

    Attributes:
        slug: ``owner/project`` for ``client.run`` (the clean slugs).
        title: the display name.
        description: what it does.
        categories: Wiro's categories (``text-to-image``, ``text-to-video``, ...).
        tags: Wiro's tags.
        image: a picture of the model, when given.
        computing_time: Wiro's typical processing time (``"10 seconds"``).
        prices: its ``dynamicprice`` rules.
        record: the entry as the API returned it.
    """

    slug: str
    title: str = ""
    description: str = ""
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    image: str = ""
    computing_time: str = ""
    prices: tuple[PriceRule, ...] = ()
    record: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_tool(cls, tool: Mapping[str, Any]) -> ModelInfo:
        """A record from one ``tool`` entry (missing fields stay empty)."""
        owner = tool.get("cleanslugowner") or tool.get("slugowner") or ""
        project = tool.get("cleanslugproject") or tool.get("slugproject") or ""
        prices, _ = parse_dynamicprice(tool.get("dynamicprice"))
        return cls(slug=f"{owner}/{project}", title=str(tool.get("title") or ""),
                   description=str(tool.get("description") or ""),
                   categories=_strings(tool.get("categories")), tags=_strings(tool.get("tags")),
                   image=str(tool.get("image") or ""),
                   computing_time=str(tool.get("computingtime") or ""), prices=prices,
                   record=dict(tool))

    @property
    def price_text(self) -> str:
        """``$0.039 per output``, a range, or ``""`` when no price is given."""
        if not self.prices:
            return ""
        low = min(r.price for r in self.prices)
        high = max(r.price for r in self.prices)
        unit = _UNITS.get(self.prices[0].method, self.prices[0].method)
        amount = f"${low:g}" if low == high else f"${low:g}–${high:g}"
        return f"{amount} {unit}"


_UNITS = {"cpr": "per run", "cps": "per second", "cpo": "per output", "cpt": "per token",
          "cp-pixel": "per megapixel tier", "cp-promptlength": "per character",
          "cp-audiosecondslength": "per audio second",
          "cp-outputVideoLength": "per video second", "cp-realtimeturn": "per turn",
          "cp-readoutput": "as reported by the model"}


class ModelList(list[ModelInfo]):
    """The models found, in the API's order, with a table for notebooks.

    Attributes:
        total: how many models match in all (the API pages its answer).
    """

    total: int = 0

    @property
    def slugs(self) -> list[str]:
        return [m.slug for m in self]

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(m.slug)}</code></td><td>{html.escape(m.title)}</td>"
            f"<td>{html.escape(', '.join(c for c in m.categories if c != 'tool'))}</td>"
            f"<td>{html.escape(m.price_text)}</td></tr>" for m in self)
        shown = f"{len(self)} of {self.total}" if self.total > len(self) else f"{len(self)}"
        return (f'<div class="wiro-models"><div style="font-size:90%">{shown} models</div>'
                '<table><thead><tr><th>model</th><th>title</th><th>categories</th>'
                f"<th>price</th></tr></thead><tbody>{rows}</tbody></table></div>")


Post = Callable[..., dict[str, Any]]


def list_models(post: Post, *, search: str | None = None, category: str | None = None,
                owner: str | None = None, limit: int = 50,
                retry: RetryPolicy | None = None) -> ModelList:
    """Ask ``Tool/List`` for models.

    Args:
        post: the transport's ``post(path, body, retry=...)``.
        search: words to look for (slug, title, description).
        category: one of Wiro's categories (``text-to-image``, ``image-editing``, ...).
        owner: only this owner's models.
        limit: the most models to return.
        retry: how the read is retried.
    """
    body: dict[str, Any] = {"start": "0", "limit": str(int(limit))}
    if search:
        body["search"] = search
    if category:
        body["categories"] = [category]
    if owner:
        body["slugowner"] = owner
    envelope = post("/Tool/List", body, retry=retry) if retry else post("/Tool/List", body)
    tools = envelope.get("tool")
    found = ModelList(ModelInfo.from_tool(t) for t in (tools if isinstance(tools, list) else [])
                      if isinstance(t, Mapping))
    try:
        found.total = int(envelope.get("total") or len(found))
    except (TypeError, ValueError):
        found.total = len(found)
    return found


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(str(v) for v in value)
