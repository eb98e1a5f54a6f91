"""Checking a batch before anything is sent: every row, all bad rows reported at once.

One pass over the rows checks each against its model's spec (`client.validate`), sums the
estimate, and hashes what the batch runs (the job's digest), holding nothing but counts:
a batch file of any size is checked in bounded memory.

Example:
    >>> checked = check_rows(client, RowSource.of("prompts.jsonl"), model=MODEL, common={})
    >>> checked.problems        # [(line, field, value, rule), ...]
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelNotFound, ValidationError
from .client_like import ClientLike
from .job_names import DigestBuilder
from .rows import BadRow, RowSource, coerce

__all__ = ["CheckedRows", "check_rows", "row_request"]


@dataclass
class CheckedRows:
    """What one pass over a batch's rows found.

    Attributes:
        total: rows read (good and bad).
        digest: the hash of every row's model and parameters, in order.
        problems: (line, field, value, rule) of each bad row.
        bad: the indexes of the bad rows.
        lines: each row's line (or item position), by index.
        estimates: each row's USD estimate (NaN when unknown), by index.
        models: the models the rows run.
    """

    total: int = 0
    digest: str = ""
    problems: list[tuple[int, str, Any, str]] = field(default_factory=list)
    bad: set[int] = field(default_factory=set)
    lines: array[int] = field(default_factory=lambda: array("q"))
    estimates: array[float] = field(default_factory=lambda: array("d"))
    models: list[str] = field(default_factory=list)

    def estimate(self, indices: list[int] | range) -> float | None:
        """The summed estimate of these rows (None when one is unknown)."""
        total = 0.0
        for index in indices:
            one = self.estimates[index]
            if one != one:  # NaN: unknown
                return None
            total += one
        return round(total, 6)


def row_request(row: Mapping[str, Any], *, model: str | None, common: Mapping[str, Any],
                client: ClientLike, text_cells: bool) -> tuple[str, dict[str, Any]]:
    """The model and parameters of one row: the common ones, then the row's own (a row may
    name its ``model``); CSV cells converted to the model's types.

    Raises:
        ValueError: no model, neither for the batch nor in the row.
    """
    params = {**common, **row}
    chosen = str(params.pop("model", None) or model or "")
    if not chosen:
        raise ValueError("no model: pass model= to batch(), or give each row a 'model'")
    if text_cells:
        params = coerce(params, client.spec(chosen))
    return chosen, params


def check_rows(client: ClientLike, source: RowSource, *, model: str | None,
               common: Mapping[str, Any]) -> CheckedRows:
    """Check every row; nothing is sent (a model's schema may be read once)."""
    checked = CheckedRows()
    digest = DigestBuilder()
    for index, (line, row) in enumerate(source):
        checked.total += 1
        checked.lines.append(line)
        checked.estimates.append(float("nan"))
        problem = _check(client, source, checked, index, row, model, common, digest)
        if problem is not None:
            checked.problems.append((line, *problem))
            checked.bad.add(index)
            digest.add("", {"bad row": repr(row)})
    checked.digest = digest.hexdigest()
    return checked


def _check(client: ClientLike, source: RowSource, checked: CheckedRows, index: int,
           row: dict[str, Any] | BadRow, model: str | None, common: Mapping[str, Any],
           digest: DigestBuilder) -> tuple[str, Any, str] | None:
    if isinstance(row, BadRow):
        return "<row>", row.text or None, row.rule
    try:
        chosen, params = row_request(row, model=model, common=common, client=client,
                                     text_cells=source.format == "csv")
        valid = client.validate(chosen, **params)
        estimate = client.estimate_cost(chosen, **params)
    except ValidationError as err:
        return err.field, err.value, err.rule
    except ModelNotFound as err:
        return "model", row.get("model", model), str(err)
    except ValueError as err:
        return "model", row.get("model", model), str(err)
    digest.add(chosen, valid)
    if chosen not in checked.models:
        checked.models.append(chosen)
    if estimate is not None:
        checked.estimates[index] = float(estimate)
    return None
