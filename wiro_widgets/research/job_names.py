"""Names and digests of jobs: what ties a run of a sweep or batch to its earlier runs.

A job's digest hashes what it runs (each cell's model and checked parameters, references by
their content hash); a name is derived from the digest when none is given, so running the
same sweep again resumes it, and any change makes another job.

Example:
    >>> digest = job_digest([("black-forest-labs/flux-2-flex", {"prompt": "a fox"})])
    >>> derived_name("sweep", ["black-forest-labs/flux-2-flex"], digest)
    'sweep-flux-2-flex-3a91c2d07b5e'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["DigestBuilder", "canonical", "derived_name", "job_digest"]


def canonical(value: Any) -> str:
    """JSON text that is the same for the same values, whatever their origin."""
    return json.dumps(json.loads(json.dumps(value, default=str)), sort_keys=True,
                      ensure_ascii=True)


class DigestBuilder:
    """A job digest built cell by cell (a batch file is never held whole)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.count = 0

    def add(self, model: str, params: Mapping[str, Any]) -> None:
        self._hash.update(canonical([model, dict(params)]).encode() + b"\n")
        self.count += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()[:16]


def job_digest(cells: Iterable[tuple[str, Mapping[str, Any]]]) -> str:
    """The digest of a job's cells (model, checked parameters), in order."""
    builder = DigestBuilder()
    for model, params in cells:
        builder.add(model, params)
    return builder.hexdigest()


def derived_name(kind: str, models: Sequence[str], digest: str, stem: str = "") -> str:
    """``<kind>-<model>[-<stem>]-<digest>``: readable, and distinct for distinct jobs."""
    short = "-".join(m.rsplit("/", 1)[-1] for m in models[:2]) or "model"
    middle = f"-{stem}" if stem else ""
    return f"{kind}-{short}{middle}-{digest[:12]}"
