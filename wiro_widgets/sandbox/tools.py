"""The sandbox's Tool endpoints: ``Tool/Detail``, ``Tool/List`` and ``Tool/Explore``, served
from its catalogue with the fields the docs and the official types show.

- ``Tool/Detail {slugowner, slugproject}`` -> ``{"tool": [record]}``: the catalogue record
  (``id`` where documented, ``title``, the raw and clean slugs, ``description``,
  ``categories``, ``tags``, ``computingtime``, ``dynamicprice`` as its JSON-encoded string
  where documented, ``parameters``) with the items in the sandbox's spelling (`models`).
- ``Tool/List {start, limit, search, categories[], slugowner, ...}`` -> ``{"tool": [...],
  "total": n}`` (``total`` a number, as models.md shows it), entries without ``parameters``.
- ``Tool/Explore {}`` -> ``{"explore": [{"id", "title", "tools": [...]}]}`` (Wiro-MCP's
  type): the catalogue grouped by what the models make.

Example:
    >>> tool_list(models, search="banana")["total"]
    3
"""

from __future__ import annotations

from typing import Any

from .models import SandboxModels

__all__ = ["ToolNotFound", "tool_detail", "tool_explore", "tool_list"]

_EXPLORE = (("1", "Image generation and editing", "image/"), ("2", "Video", "video/"),
            ("3", "Text (LLMs)", "raw"))
_SUMMARY_KEYS = ("id", "cleanslugowner", "cleanslugproject", "slugowner", "slugproject",
                 "title", "description", "categories", "image")


class ToolNotFound(LookupError):
    """No such model; the message names the closest ones (Wiro's code 1)."""


def tool_detail(models: SandboxModels, owner: str, project: str,
                spelling: str) -> dict[str, Any]:
    """The Tool/Detail payload of one model.

    Raises:
        ToolNotFound: not in the catalogue.
    """
    slug = models.find(owner, project)
    if slug is None:
        close = models.closest(f"{owner}/{project}")
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise ToolNotFound(f"slug-owner-project-not-exist{hint}")
    return {"tool": [models.record(slug, spelling)]}


def tool_list(models: SandboxModels, *, search: str = "", categories: tuple[str, ...] = (),
              slugowner: str = "", start: int = 0, limit: int = 20) -> dict[str, Any]:
    """The Tool/List payload: the matching models, a page of them, and their count."""
    found = models.listing(search=search, categories=categories, slugowner=slugowner)
    return {"tool": found[start:start + limit], "total": len(found)}


def tool_explore(models: SandboxModels) -> dict[str, Any]:
    """The Tool/Explore payload: the catalogue in groups of image, video and text models."""
    groups = []
    for ident, title, kind in _EXPLORE:
        tools = [{k: v for k, v in entry.items() if k in _SUMMARY_KEYS}
                 for entry in models.listing()
                 if str(models.outputs(_slug(entry))["contenttype"]).startswith(kind)]
        groups.append({"id": ident, "title": title, "tools": tools, "total": len(tools)})
    return {"explore": groups}


def _slug(entry: dict[str, Any]) -> str:
    return f"{entry['cleanslugowner']}/{entry['cleanslugproject']}"
