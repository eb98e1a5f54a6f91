"""Wiro's input types (`Kind`) and what each one is: a number, a choice, a file input ...

The types are the ``type`` of a Tool/Detail parameter item. The docs name ``text``,
``textarea``, ``select``, ``range``, ``fileinput``, ``multifileinput`` and
``combinefileinput`` (model-parameters.md); model pages add ``number``, ``float`` and
``selectwithcover``; the SDKs' parsers read ``numeric`` and ``integer`` as numbers, and the Go
CLI knows ``checkbox``. Any other type is kept as text (see `kind_of`).

Example:
    >>> kind_of("SelectWithCover")
    (<Kind.SELECTWITHCOVER: 'selectwithcover'>, True)
    >>> kind_of("multiselect")
    (<Kind.TEXT: 'text'>, False)
"""

from __future__ import annotations

from enum import Enum
from typing import Any

__all__ = [
    "BOOL_KINDS",
    "FILE_KINDS",
    "INTEGER_KINDS",
    "NUMBER_KINDS",
    "SELECT_KINDS",
    "TEXT_KINDS",
    "Kind",
    "kind_of",
]


class Kind(str, Enum):
    """Wiro's input types (``type`` in a model's parameter list)."""

    TEXT = "text"
    TEXTAREA = "textarea"
    SELECT = "select"
    SELECTWITHCOVER = "selectwithcover"
    RANGE = "range"
    NUMBER = "number"
    FLOAT = "float"
    NUMERIC = "numeric"
    INTEGER = "integer"
    CHECKBOX = "checkbox"
    FILEINPUT = "fileinput"
    MULTIFILEINPUT = "multifileinput"
    COMBINEFILEINPUT = "combinefileinput"


#: Numbers. ``number`` and ``integer`` take whole numbers (the Go CLI reads ``number`` with
#: Atoi); ``float`` and ``numeric`` take decimals; a ``range`` takes whole numbers only when
#: its bounds and step are whole (see `ParamSpec.is_integer`).
NUMBER_KINDS = frozenset({Kind.RANGE, Kind.NUMBER, Kind.FLOAT, Kind.NUMERIC, Kind.INTEGER})
INTEGER_KINDS = frozenset({Kind.NUMBER, Kind.INTEGER})
#: One of ``options[].value`` (``selectwithcover`` shows a picture per option).
SELECT_KINDS = frozenset({Kind.SELECT, Kind.SELECTWITHCOVER})
TEXT_KINDS = frozenset({Kind.TEXT, Kind.TEXTAREA})
BOOL_KINDS = frozenset({Kind.CHECKBOX})
#: Files or URLs. Each is encoded its own way on the wire (see `client._body`):
#: ``fileinput`` one entry (URL in ``{id}Url``), ``multifileinput`` several (URLs
#: comma-separated in ``{id}Url``), ``combinefileinput`` several under ``{id}`` itself.
FILE_KINDS = frozenset({Kind.FILEINPUT, Kind.MULTIFILEINPUT, Kind.COMBINEFILEINPUT})


def kind_of(raw_type: Any) -> tuple[Kind, bool]:
    """The `Kind` for a schema's ``type``, and whether the type was known.

    An unknown or missing type is read as `Kind.TEXT` (shown as text, sent as given).

    Example:
        >>> kind_of(" Number ")
        (<Kind.NUMBER: 'number'>, True)
    """
    text = str(raw_type or "").strip().lower()
    try:
        return Kind(text), True
    except ValueError:
        return Kind.TEXT, False
