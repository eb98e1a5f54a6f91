"""The models the sandbox serves: its catalogue's tool records, and the spec of each, built
exactly as the client builds it (`schema.spec_from_tool`, then `specs.prefer_builtin`).

Lookups accept the clean slug (``qwen/qwen3-5-27b``) and Wiro's raw one (``Qwen/Qwen3.5-27B``,
``wiro/3D Text Animations``), in any case. Records are served in one of the two spellings
of Tool/Detail items seen in Wiro's sources (`SPELLINGS`): the SDKs' ``default``, ``min``,
``max``, ``step``, ``options[].label`` (``sdk``, the default) or the docs site's and Go CLI's
``defaultvalue``, ``minvalue``, ``maxvalue``, ``incrementby``, ``options[].text`` (``docs``).
``maxinputlenght`` (sic) is the only known spelling of a file input's limit, so both keep it.
``dynamicprice`` is the JSON-encoded string the docs show, and only where a source documents
the price.

Example:
    >>> models = SandboxModels()
    >>> models.spec("Qwen/Qwen3.5-27B").slug
    'qwen/qwen3-5-27b'
    >>> models.record("google/nano-banana", "docs")["parameters"][0]["items"][0]["id"]
    'inputImage'
"""

from __future__ import annotations

import copy
import difflib
import threading
from collections.abc import Mapping
from typing import Any

from ..schema import ModelSpec, spec_from_tool
from ..specs import prefer_builtin
from .catalogue import load_catalogue, model_outputs

__all__ = ["SPELLINGS", "SandboxModels", "respell"]

#: The two spellings of Tool/Detail items: SDK keys -> docs-site keys.
SPELLINGS = ("sdk", "docs")
_DOCS_KEYS = {"default": "defaultvalue", "min": "minvalue", "max": "maxvalue",
              "step": "incrementby"}


def respell(record: Mapping[str, Any], spelling: str) -> dict[str, Any]:
    """A copy of a tool record with its items in ``spelling`` (``sdk`` or ``docs``); the
    help text is also given as ``note`` (the docs' name for it).

    Raises:
        ValueError: an unknown spelling.
    """
    if spelling not in SPELLINGS:
        raise ValueError(f"spelling must be one of {SPELLINGS}, not {spelling!r}")
    out = copy.deepcopy(dict(record))
    for group in out.get("parameters") or []:
        group["items"] = [_respell_item(item, spelling) for item in group.get("items", [])]
    return out


def _respell_item(item: dict[str, Any], spelling: str) -> dict[str, Any]:
    out = dict(item)
    if "help" in out and "note" not in out:
        out["note"] = out["help"]
    if spelling == "sdk":
        return out
    for sdk, docs in _DOCS_KEYS.items():
        if sdk in out:
            out[docs] = out.pop(sdk)
    if "options" in out:
        out["options"] = [
            {("text" if k == "label" else k): v for k, v in option.items()}
            for option in out["options"]
        ]
    return out


class SandboxModels:
    """The catalogue as the sandbox serves it; specs are built once per model."""

    def __init__(self) -> None:
        self._records = load_catalogue()
        self._specs: dict[str, ModelSpec] = {}
        self._lock = threading.Lock()
        self._aliases: dict[str, str] = {}
        for slug, record in self._records.items():
            self._aliases[slug.lower()] = slug
            raw = f"{record.get('slugowner', '')}/{record.get('slugproject', '')}".lower()
            self._aliases.setdefault(raw, slug)

    @property
    def slugs(self) -> list[str]:
        return sorted(self._records)

    def find(self, owner: str, project: str) -> str | None:
        """The clean slug of ``owner/project`` (clean or raw, any case), or None."""
        return self._aliases.get(f"{owner}/{project}".strip().lower())

    def closest(self, text: str, count: int = 3) -> list[str]:
        """The slugs closest to ``text`` (for a "did you mean" message)."""
        return difflib.get_close_matches(text.lower(), self.slugs, n=count, cutoff=0.4)

    def spec(self, slug: str) -> ModelSpec:
        """The spec of a catalogue model, as the client builds it from the served record.

        Raises:
            KeyError: not in the catalogue.
        """
        owner, _, project = slug.partition("/")
        clean = self.find(owner, project)
        if clean is None:
            raise KeyError(slug)
        with self._lock:
            if clean not in self._specs:
                self._specs[clean] = prefer_builtin(spec_from_tool(self._records[clean]))
            return self._specs[clean]

    def record(self, slug: str, spelling: str = "sdk") -> dict[str, Any]:
        """The tool record of a catalogue model, in ``spelling``."""
        return respell(self._records[slug], spelling)

    def outputs(self, slug: str) -> dict[str, Any]:
        """What the model returns (the catalogue's ``_outputs``)."""
        return model_outputs(slug)

    def listing(self, *, search: str = "", categories: tuple[str, ...] = (),
                slugowner: str = "") -> list[dict[str, Any]]:
        """Tool/List entries (records without ``parameters``) matching every filter:
        ``search`` in the slug, title or description; all ``categories``; the owner."""
        words = search.lower().split()
        found = []
        for slug in self.slugs:
            record = self._records[slug]
            text = " ".join(str(record.get(k, "")) for k in (
                "cleanslugowner", "cleanslugproject", "slugproject", "title", "description"))
            text = f"{slug} {text}".lower()
            if words and not all(w in text for w in words):
                continue
            if categories and not set(categories) <= set(record.get("categories") or ()):
                continue
            if slugowner and slugowner.lower() not in (
                    str(record.get("slugowner", "")).lower(), record["cleanslugowner"]):
                continue
            found.append({k: copy.deepcopy(v) for k, v in record.items() if k != "parameters"})
        return found
