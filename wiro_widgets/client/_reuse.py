"""Reuse: a request already run is answered from the ledger and the output cache, unbilled.

A succeeded run in the ledger answers a new request when the model is the same, every
parameter is the same (defaults filled, as the ledger keeps them), the reference images are
the same by SHA-256 (their names may differ), the seed was given explicitly (a request
without one asks for a fresh draw, so it always runs), the server was of the same kind (a
sandbox's pictures never answer a live request, nor the other way round), and every output
is still in the cache with its recorded hash. The `Result` is that run's, with ``cost`` 0
and ``reused`` True. A model without a seed input is never reused: nothing in the request
would make its answer the same.

Example:
    >>> found = find_reusable(ledger, cache, prepared, {"prompt": "a fox", "seed": 7},
    ...                       sandbox=False)
    >>> found.reused, found.cost
    (True, 0.0)
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping
from typing import Any

from ..ledger import Ledger, OutputCache, TaskEntry
from ..research import result_from_entry
from ..results import Result
from ._prepare import Prepared

__all__ = ["find_reusable", "seed_given"]


def seed_given(prepared: Prepared, given: Mapping[str, Any]) -> bool:
    """Whether the caller chose the seed (by Python name or API id), not left it out."""
    spec = prepared.spec
    seed = spec.form_hints().seed if spec is not None else None
    if spec is None or not seed:
        return False
    wanted = spec.param(seed).py_name
    for key, value in given.items():
        try:
            same = spec.param(key).py_name == wanted
        except KeyError:
            continue
        if same and value is not None:
            return True
    return False


def find_reusable(ledger: Ledger | None, cache: OutputCache, prepared: Prepared,
                  given: Mapping[str, Any], *, sandbox: bool) -> Result | None:
    """The newest succeeded run that answers this request (see the module docstring), or
    None when it must run."""
    if ledger is None or not seed_given(prepared, given):
        return None
    for entry in reversed(_index(ledger).get((prepared.model, _canon(prepared.params)), [])):
        if entry.sandbox != sandbox:
            continue
        result = result_from_entry(entry, cache)
        if not result.outputs or not all(o.path for o in result.outputs):
            continue  # an output left the cache (or changed): run it again
        return dataclasses.replace(result, cost=0.0, reused=True, _images=None,
                                   _lock=threading.Lock())
    return None


#: The ledger's succeeded runs by (model, parameters), per ledger file as last read: a sweep
#: or batch asks once per cell, so the ledger is read again only when it has grown.
_INDEXES: dict[str, tuple[tuple[int, int], dict[tuple[str, str], list[TaskEntry]]]] = {}
_INDEX_LOCK = threading.Lock()


def _index(ledger: Ledger) -> dict[tuple[str, str], list[TaskEntry]]:
    try:
        stat = ledger.path.stat()
    except OSError:
        return {}
    stamp = (stat.st_size, stat.st_mtime_ns)
    key = str(ledger.path)
    with _INDEX_LOCK:
        known = _INDEXES.get(key)
        if known is not None and known[0] == stamp:
            return known[1]
    index: dict[tuple[str, str], list[TaskEntry]] = {}
    for entry in ledger.tasks().values():
        if entry.outcome == "succeeded":
            index.setdefault((entry.model, _canon(entry.params)), []).append(entry)
    with _INDEX_LOCK:
        _INDEXES[key] = (stamp, index)
    return index


def _canon(params: Mapping[str, Any]) -> str:
    """The parameters in one spelling: references by hash only, numbers as floats."""
    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            if "sha256" in value:
                return str(value.get("sha256"))
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, float)):
            return float(value)
        return str(value)
    return json.dumps(plain(dict(params)), sort_keys=True)
