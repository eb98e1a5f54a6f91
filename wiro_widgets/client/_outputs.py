"""Outputs without a file: an LLM's ``raw`` output (``{"contenttype": "raw", "content":
{...}}``, no url) kept in the output cache as JSON, so it is listed, reloaded and resumed
like any downloaded output.

Example:
    >>> keep_raw({"contenttype": "raw", "content": {"raw": "Hi."}}, cache, 0).text()
    'Hi.'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..ledger import OutputCache
from ..results import RAW, Output

__all__ = ["keep_raw"]


def keep_raw(item: Mapping[str, Any], cache: OutputCache, position: int) -> Output | None:
    """The `Output` of an item with content and no url (stored as ``.json``), or None."""
    if item.get("url") or "content" not in item:
        return None
    data = json.dumps(item["content"], ensure_ascii=False, sort_keys=True).encode("utf-8")
    digest, path = cache.put(data, ".json")
    name = str(item.get("name") or f"output-{position}.json")
    return Output(name=name, content_type=str(item.get("contenttype") or RAW),
                  size=len(data), url="", sha256=digest, path=str(path))
