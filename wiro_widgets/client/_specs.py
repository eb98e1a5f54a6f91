"""Model specs for the client: fetched from ``Tool/Detail`` once, cached on disk, used offline.

``client.spec(model)`` reads the model's live schema and builds its spec
(`schema.spec_from_tool`, then `specs.prefer_builtin`, so a built-in spec that agrees with
the schema keeps its form hints). The record is kept as one JSON file per model under
``<home>/specs/`` with the time it was fetched; within the time-to-live (a day by default)
it is read from there without a request.

When the API cannot be reached (a transport failure, a 5xx, an unknown endpoint), the spec
comes from, in order: the cached record even if it has expired, the built-in spec, or none
at all (parameters then pass through unchecked); each with a `UserWarning` saying so. The
failure is remembered for a minute, so a notebook without network is not slowed down by a
request per call. A model the API does not know raises `ModelNotFound` with the closest
names from ``Tool/List``.

Example:
    >>> source = SpecSource(transport.post, home=Path("~/.cache/wiro-widgets"), ttl=86400)
    >>> source.spec("google/nano-banana-pro").param("aspect_ratio").default
    'match_input_image'
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ApiError, AuthError, ModelNotFound, NetworkError, NotFound
from ..redaction import get_logger
from ..schema import ModelSpec, spec_from_tool
from ..specs import get_spec, prefer_builtin

__all__ = ["DEFAULT_SPEC_TTL", "SpecSource", "model_slug"]

log = get_logger(__name__)

#: Seconds a fetched schema is used without asking again (a day).
DEFAULT_SPEC_TTL = 86_400.0
#: Seconds a failed fetch is remembered before the API is asked again.
_RETRY_AFTER_FAILURE = 60.0
_CLOSEST = 3

Post = Callable[[str, dict[str, Any]], dict[str, Any]]


def model_slug(model: str) -> str:
    """``owner/project`` as given, trimmed of spaces and slashes."""
    return model.strip().strip("/")


class SpecSource:
    """Where a client's specs come from (thread-safe).

    Args:
        post: sends a read request (path, JSON body) and returns Wiro's envelope.
        home: the folder holding ``specs/`` (a callable, read when needed).
        ttl: seconds a fetched schema stays fresh; 0 always asks the API.
    """

    def __init__(self, post: Post, home: Callable[[], Path], ttl: float = DEFAULT_SPEC_TTL
                 ) -> None:
        self._post = post
        self._home = home
        self.ttl = float(ttl)
        self._lock = threading.Lock()
        self._memory: dict[str, tuple[float, ModelSpec | None]] = {}
        self._failed: dict[str, float] = {}

    # -- public ---------------------------------------------------------------------------
    def spec(self, model: str) -> ModelSpec | None:
        """The model's spec, or None when neither the API, the cache nor a built-in spec
        describes it (its parameters then pass through unchecked).

        Raises:
            ModelNotFound: the API does not know the model (the closest names attached).
            AuthError: the API refused the credentials.
        """
        slug = model_slug(model)
        with self._lock:
            fetched_at, spec = self._memory.get(slug, (0.0, None))
            if fetched_at and self._fresh(fetched_at):
                return spec
            cached = self._read_cache(slug)
            if cached is not None and self._fresh(cached[0]):
                return self._remember(slug, cached[0], cached[1])
            if time.time() - self._failed.get(slug, 0.0) < _RETRY_AFTER_FAILURE:
                return self._fallback(slug, cached, None, quiet=True)
            try:
                record = self.tool(slug)
            except (AuthError, ModelNotFound):
                raise
            except (ApiError, NetworkError) as err:
                self._failed[slug] = time.time()
                return self._fallback(slug, cached, err)
            self._failed.pop(slug, None)
            now = time.time()
            self._write_cache(slug, now, record)
            return self._remember(slug, now, record)

    def tool(self, model: str) -> dict[str, Any]:
        """The model's Tool/Detail record, fetched now.

        Raises:
            ModelNotFound: the API does not know the model.
        """
        owner, _, project = model_slug(model).partition("/")
        try:
            envelope = self._post("/Tool/Detail", {"slugowner": owner, "slugproject": project})
        except NotFound as err:
            raise self._not_found(model, err.message) from None
        tools = envelope.get("tool")
        if not isinstance(tools, list) or not tools or not isinstance(tools[0], dict):
            raise self._not_found(model, "Tool/Detail returned no tool")
        return dict(tools[0])

    def closest(self, model: str) -> list[str]:
        """The model slugs from ``Tool/List`` closest to ``model`` (empty when it fails)."""
        slug = model_slug(model).lower()
        owner, _, project = slug.partition("/")
        found: list[str] = []
        for search in dict.fromkeys((project, project.split("-")[0], owner)):
            try:
                envelope = self._post("/Tool/List", {"search": search, "start": "0",
                                                     "limit": "100"})
            except (ApiError, NetworkError):
                break
            tools = envelope.get("tool")
            if isinstance(tools, list):
                found.extend(_slug_of(t) for t in tools if isinstance(t, Mapping))
            if found:
                break
        names = list(dict.fromkeys(found))
        return difflib.get_close_matches(slug, names, n=_CLOSEST, cutoff=0.3)

    def forget(self, model: str | None = None) -> None:
        """Drop the in-memory copy (of one model, or all), so the next call reads again."""
        with self._lock:
            if model is None:
                self._memory.clear()
                self._failed.clear()
            else:
                self._memory.pop(model_slug(model), None)
                self._failed.pop(model_slug(model), None)

    # -- internals -------------------------------------------------------------------------
    def _fresh(self, fetched_at: float) -> bool:
        return time.time() - fetched_at < self.ttl

    def _remember(self, slug: str, fetched_at: float, record: Mapping[str, Any]
                  ) -> ModelSpec | None:
        spec = _build(slug, record)
        self._memory[slug] = (fetched_at, spec)
        return spec

    def _fallback(self, slug: str, cached: tuple[float, dict[str, Any]] | None,
                  err: Exception | None, *, quiet: bool = False) -> ModelSpec | None:
        why = f"the API could not be reached ({err})" if err else "the API was not reachable"
        if cached is not None:
            age = (time.time() - cached[0]) / 3600
            _warn(f"{slug}: {why}; using its schema cached {age:.1f} hours ago", quiet)
            return _build(slug, cached[1])
        builtin = get_spec(slug)
        if builtin is not None:
            _warn(f"{slug}: {why}; using the built-in spec", quiet)
            return builtin
        _warn(f"{slug}: {why} and no schema is cached; its parameters are sent unchecked",
              quiet)
        return None

    def _not_found(self, model: str, message: str) -> ModelNotFound:
        close = self.closest(model)
        hint = f"; closest: {', '.join(close)}" if close else ""
        return ModelNotFound(f"no model {model_slug(model)!r} on Wiro ({message}){hint}",
                             closest=tuple(close), code=1, endpoint="/Tool/Detail")

    def _path(self, slug: str) -> Path:
        return self._home() / "specs" / (slug.replace("/", "__") + ".json")

    def _read_cache(self, slug: str) -> tuple[float, dict[str, Any]] | None:
        try:
            data = json.loads(self._path(slug).read_text(encoding="utf-8"))
            return float(data["fetched_at"]), dict(data["tool"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_cache(self, slug: str, fetched_at: float, record: Mapping[str, Any]) -> None:
        path = self._path(slug)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"model": slug, "fetched_at": fetched_at, "tool": record},
                              ensure_ascii=False, indent=1)
            # Written aside and renamed, so a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".spec-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except OSError as err:
            log.warning("could not cache the schema of %s: %s", slug, err)


def _build(slug: str, record: Mapping[str, Any]) -> ModelSpec | None:
    if record.get("parameters") is None:
        return None  # Tool/Detail may carry no parameters (the docs' own example)
    return prefer_builtin(spec_from_tool(record, slug=slug))


def _slug_of(tool: Mapping[str, Any]) -> str:
    owner = tool.get("cleanslugowner") or tool.get("slugowner") or ""
    project = tool.get("cleanslugproject") or tool.get("slugproject") or ""
    return f"{owner}/{project}".lower()


def _warn(message: str, quiet: bool) -> None:
    if quiet:
        log.debug(message)
    else:
        warnings.warn(message, UserWarning, stacklevel=4)
