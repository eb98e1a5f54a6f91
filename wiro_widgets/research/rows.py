"""The rows of a batch: an iterable of parameter dicts, or a JSONL or CSV file of them.

A file is read row by row each time it is needed (never held whole), so a batch of any size
fits in memory. Each row comes with where it is: the file's line number (CSV: the line the
row starts on, the header being line 1), or the item's position from 1 in an iterable.

CSV cells are text: `coerce` turns them into the model's types (integers, numbers,
booleans; a file input takes one path or URL, several separated by ``|``, or a JSON list);
an empty cell leaves the parameter out (its default applies).

Example:
    >>> source = RowSource.of("prompts.csv")
    >>> next(iter(source))
    (2, {'prompt': 'a red fox', 'seed': '7'})
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..schema import ModelSpec

__all__ = ["BadRow", "RowSource", "coerce"]


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read as a parameter dict (its rule, in words)."""

    rule: str
    text: str = ""


@dataclass(frozen=True)
class RowSource:
    """Where a batch's rows come from.

    Attributes:
        path: the JSONL or CSV file (None for an iterable).
        items: the rows of an iterable (None for a file).
        format: ``jsonl``, ``csv`` or ``items``.
    """

    path: Path | None = None
    items: tuple[Any, ...] | None = None
    format: str = "items"

    @classmethod
    def of(cls, rows: str | Path | Iterable[Mapping[str, Any]]) -> RowSource:
        """A source for a path (``.jsonl``/``.ndjson``/``.json`` lines, or ``.csv``) or an
        iterable of dicts (kept as given).

        Raises:
            FileNotFoundError: the file does not exist.
            ValueError: a file of another type.
        """
        if isinstance(rows, (str, Path)):
            path = Path(rows).expanduser().resolve()
            if not path.is_file():
                raise FileNotFoundError(f"no batch file at {path}")
            suffix = path.suffix.lower()
            if suffix in (".jsonl", ".ndjson", ".json"):
                return cls(path=path, format="jsonl")
            if suffix in (".csv", ".tsv"):
                return cls(path=path, format="csv")
            raise ValueError(f"{path.name}: a batch file is .jsonl (one JSON object per line) "
                             "or .csv (a header line, then one row per line)")
        return cls(items=tuple(rows), format="items")

    @property
    def where(self) -> str:
        """How a row's place is named in messages (``line`` or ``item``)."""
        return "item" if self.path is None else "line"

    @property
    def label(self) -> str:
        return str(self.path) if self.path else ""

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
        if self.format == "jsonl":
            return self._jsonl()
        if self.format == "csv":
            return self._csv()
        return self._items()

    def _items(self) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
        for position, item in enumerate(self.items or (), start=1):
            if isinstance(item, Mapping):
                yield position, dict(item)
            else:
                yield position, BadRow(f"is a {type(item).__name__}, not a dict of "
                                       "parameters")

    def _jsonl(self) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
        assert self.path is not None
        with open(self.path, encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                text = line.strip()
                if not text or text.startswith("//"):
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as err:
                    yield number, BadRow(f"is not valid JSON ({err.msg})", text)
                    continue
                if isinstance(value, dict):
                    yield number, value
                else:
                    yield number, BadRow("is not a JSON object ({...})", text)

    def _csv(self) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
        assert self.path is not None
        delimiter = "\t" if self.path.suffix.lower() == ".tsv" else ","
        with open(self.path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            for row in reader:
                # The reader says where a row ends; it starts as many lines earlier as its
                # quoted cells hold line breaks (blank lines before it are skipped).
                cells_text = [v for v in row.values() if isinstance(v, str)]
                number = reader.line_num - sum(v.count("\n") for v in cells_text)
                if None in row:
                    yield number, BadRow(f"has more cells than the header's "
                                         f"{len(reader.fieldnames or [])} columns")
                    continue
                cells = {k.strip(): v for k, v in row.items() if k and v not in (None, "")}
                if cells:
                    yield number, cells


def coerce(row: Mapping[str, Any], spec: ModelSpec | None) -> dict[str, Any]:
    """A CSV row's text cells as the model's types (left as text where the spec says
    nothing, or the text is not of the type: validation then names the rule).

    Example:
        >>> coerce({"seed": "7", "guidance": "4.5"}, FLUX_2_FLEX)
        {'seed': 7, 'guidance': 4.5}
    """
    out: dict[str, Any] = {}
    for name, value in row.items():
        out[name] = value
        if spec is None or not isinstance(value, str):
            continue
        try:
            param = spec.param(name)
        except KeyError:
            continue
        out[name] = _typed(value.strip(), param)
    return out


def _typed(text: str, param: Any) -> Any:
    try:
        if param.is_files:
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split("|") if part.strip()]
        if param.is_bool:
            lowered = text.lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            return text
        if param.is_integer:
            number = float(text)
            return int(number) if number.is_integer() else number
        if param.is_number:
            return float(text)
    except ValueError:
        return text
    return text
