"""The sandbox's model catalogue: real Wiro models, transcribed from what Wiro documents.

Each ``*.json`` file next to this module holds one model's ``Tool/Detail`` tool record as Wiro
returns it (``title``, slugs, ``description``, ``categories``, ``parameters`` ...), written with one
spelling of the item keys (``default``/``min``/``max``/``step``/``options[].label``, plus
``maxinputlenght`` for file inputs). Two keys are not part of the record and never served:
``_outputs`` (what the model returns and how many) and ``_source`` (where each fact came from).
See ``README.md`` in this folder for the table of models.

The files are package data, read through `importlib.resources`, so the catalogue works from a
wheel as well as from a source tree.

Example:
    >>> from wiro_widgets.sandbox.catalogue import load_catalogue, model_outputs, sources
    >>> tools = load_catalogue()
    >>> tools["black-forest-labs/flux-2-flex"]["parameters"][0]["items"][0]["type"]
    'combinefileinput'
    >>> model_outputs("qwen/qwen3-5-27b")["contenttype"]
    'raw'
    >>> "page" in sources("black-forest-labs/flux-2-flex")["documents"]
    True
"""

from __future__ import annotations

import copy
import difflib
import json
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["CatalogueError", "load_catalogue", "model_outputs", "slugs", "sources"]

_PRIVATE_PREFIX = "_"
_REQUIRED_KEYS = ("cleanslugowner", "cleanslugproject", "parameters", "_outputs", "_source")


class CatalogueError(ValueError):
    """A catalogue file is malformed (names the file and what is wrong)."""


def load_catalogue() -> dict[str, dict[str, Any]]:
    """Every model's tool record by slug (``owner/project``), without the underscore keys.

    The records are fresh copies: changing one does not change the catalogue.

    Example:
        >>> sorted(load_catalogue())[:2]
        ['black-forest-labs/flux-2-flex', 'black-forest-labs/flux-2-klein-4b']
    """
    return {
        slug: {k: copy.deepcopy(v) for k, v in record.items() if not k.startswith(_PRIVATE_PREFIX)}
        for slug, record in _records().items()
    }


def slugs() -> list[str]:
    """The catalogue's model slugs, sorted.

    Example:
        >>> "google/nano-banana-pro" in slugs()
        True
    """
    return sorted(_records())


def model_outputs(slug: str) -> dict[str, Any]:
    """What a model returns: ``contenttype`` (a MIME type, or ``raw`` for LLM text), ``count``,
    and where known ``format_param``/``formats``, ``count_param``, ``count_is_maximum``, and
    ``documented`` (False when the output kind is assumed; see `sources`).

    Raises:
        KeyError: the slug is not in the catalogue (the message lists the closest slugs).

    Example:
        >>> model_outputs("klingai/kling-v3")["contenttype"]
        'video/mp4'
    """
    return copy.deepcopy(_record(slug)["_outputs"])


def sources(slug: str) -> dict[str, Any]:
    """Where each fact of a model's record came from (documents, items, inferences, price).

    Raises:
        KeyError: the slug is not in the catalogue (the message lists the closest slugs).

    Example:
        >>> sources("google/nano-banana")["price"].startswith("docs")
        True
    """
    return copy.deepcopy(_record(slug)["_source"])


def _record(slug: str) -> dict[str, Any]:
    records = _records()
    if slug in records:
        return records[slug]
    # Wiro's raw slugs can differ in case ("Qwen/Qwen3.5-27B" is served as "qwen/qwen3-5-27b").
    for record in records.values():
        raw = f"{record.get('slugowner')}/{record.get('slugproject')}"
        if slug.lower() in (raw.lower(), _slug_of(record)):
            return record
    close = difflib.get_close_matches(slug.lower(), list(records), n=3, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise KeyError(f"{slug!r} is not in the sandbox catalogue{hint}")


@lru_cache(maxsize=1)
def _records() -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        record = _parse(entry.name, entry.read_text(encoding="utf-8"))
        slug = _slug_of(record)
        if slug in records:
            raise CatalogueError(f"{entry.name}: a second record for {slug}")
        records[slug] = record
    return records


def _parse(name: str, text: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise CatalogueError(f"{name}: not valid JSON ({err})") from None
    if not isinstance(record, dict):
        raise CatalogueError(f"{name}: the top level must be an object")
    missing = [key for key in _REQUIRED_KEYS if key not in record]
    if missing:
        raise CatalogueError(f"{name}: missing {', '.join(missing)}")
    return record


def _slug_of(record: dict[str, Any]) -> str:
    return f"{record['cleanslugowner']}/{record['cleanslugproject']}"
