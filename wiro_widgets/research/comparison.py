"""Results side by side, with the parameters that differ between them marked.

Example:
    >>> a = client.run(MODEL, prompt="a fox", guidance=3.0)
    >>> b = client.run(MODEL, prompt="a fox", guidance=6.0)
    >>> view = compare([a, b])
    >>> view                            # in a notebook: thumbnails and a parameter table
    >>> view.differing
    ['guidance']
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ..images import thumbnail_data_uri
from ..results import Result
from ..specs import get_spec

__all__ = ["Comparison", "Row", "compare"]

_THUMB = 160
_DIFF_STYLE = "background:#fff3bf;font-weight:600"


class Row(NamedTuple):
    """One parameter across the compared results."""

    name: str
    values: tuple[Any, ...]
    differs: bool


class Comparison:
    """Results side by side; build it with `compare`.

    Attributes:
        results: the compared results, in the order given.
    """

    def __init__(self, results: Iterable[Result]) -> None:
        self.results: list[Result] = list(results)

    def rows(self) -> list[Row]:
        """One row per parameter (model first), with its value in each result.

        Example:
            >>> [row.name for row in compare([a, b]).rows() if row.differs]
            ['guidance']
        """
        names: dict[str, None] = {"model": None}
        for result in self.results:
            names.update(dict.fromkeys(result.params))
        rows = []
        for name in names:
            values = tuple(_value(result, name) for result in self.results)
            keys = {_comparable(v) for v in values}
            rows.append(Row(name, values, len(keys) > 1))
        return rows

    @property
    def differing(self) -> list[str]:
        """The names of the parameters whose values are not all the same."""
        return [row.name for row in self.rows() if row.differs]

    def __len__(self) -> int:
        return len(self.results)

    def __repr__(self) -> str:
        return f"Comparison({len(self.results)} results, differing={self.differing})"

    def _repr_html_(self) -> str:
        if not self.results:
            return '<div class="wiro-compare">nothing to compare</div>'
        head = "".join(f'<th style="padding:4px;vertical-align:top">{_thumb(r)}'
                       f'<div style="font-weight:normal;font-size:85%;color:#555">'
                       f'{html.escape(_caption(r))}</div></th>' for r in self.results)
        body = []
        for row in self.rows():
            style = f' style="{_DIFF_STYLE}"' if row.differs else ""
            css = ' class="wiro-differs"' if row.differs else ""
            cells = "".join(f'<td style="padding:2px 6px;vertical-align:top" '
                            f'title="{html.escape(_text(v, limit=2000))}">'
                            f'{html.escape(_text(v))}</td>' for v in row.values)
            body.append(f"<tr{css}{style}><td style=\"padding:2px 6px\">"
                        f"{html.escape(row.name)}</td>{cells}</tr>")
        note = ('<div style="font-size:80%;color:#666">highlighted: parameters that differ'
                '</div>') if any(r.differs for r in self.rows()) else ""
        return ('<div class="wiro-compare"><table style="border-collapse:collapse">'
                f'<thead><tr><th></th>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>{note}</div>')


def compare(results: Iterable[Result]) -> Comparison:
    """Put ``results`` side by side; parameters that differ are highlighted.

    Args:
        results: any iterable of `Result`, such as a list or a `Sweep`.

    Example:
        >>> compare(client.history(limit=3))
    """
    return Comparison(results)


def _value(result: Result, name: str) -> Any:
    if name == "model":
        return result.model
    value = result.params.get(name)
    spec = get_spec(result.model)
    is_files = spec is not None and spec.file_param is not None and \
        name == spec.file_param.py_name
    if is_files and isinstance(value, list):
        return [_ref_name(v) for v in value]
    return value


def _ref_name(ref: Any) -> str:
    if isinstance(ref, Mapping):
        return str(ref.get("name") or ref.get("sha256", "?")[:12])
    return str(ref)


def _comparable(value: Any) -> str:
    # Lists and dicts are unhashable; their JSON text compares them by content.
    return json.dumps(value, sort_keys=True, default=str)


def _text(value: Any, limit: int = 160) -> str:
    if value is None:
        text = "—"
    elif isinstance(value, list):
        text = ", ".join(str(v) for v in value) or "none"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _caption(result: Result) -> str:
    return f"task {result.task_id} · ${result.cost:.4f} · {result.elapsed:.1f}s"


def _thumb(result: Result) -> str:
    try:
        image = result.image
    except (LookupError, OSError):
        return '<div style="width:120px;color:#999">no image</div>'
    alt = html.escape(f"task {result.task_id}")
    return f'<img src="{thumbnail_data_uri(image, _THUMB)}" alt="{alt}" style="border-radius:4px">'
