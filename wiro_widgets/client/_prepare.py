"""Preparing a submission: parameters checked against the model's spec, reference images
checked and described, and the Run body built. Nothing here touches the network.

Example:
    >>> prepared = prepare("black-forest-labs/flux-2-flex", {"prompt": "a fox", "seed": 7})
    >>> prepared.params["steps"], prepared.body.fields["seed"], prepared.estimate
    (50, 7, 0.062915)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..errors import ValidationError
from ..protocol import parse_number
from ..redaction import strip_userinfo
from ..references import Reference, is_reference_like, normalize_references
from ..schema import Kind
from ..specs import get_spec
from ._body import RequestBody, build_body

__all__ = ["Prepared", "params_from_record", "prepare"]

_MODEL = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
#: A Run option of every model rather than a model input: Wiro POSTs the finished task there.
_CALLBACK_WIRE, _CALLBACK_PY = "callbackUrl", "callback_url"


@dataclass(frozen=True)
class Prepared:
    """A validated submission: what goes on the wire and what the ledger keeps.

    Attributes:
        model: ``owner/model``.
        body: the Run body (API names; references as file parts or URLs).
        params: Python-named parameters with defaults filled; references as descriptors.
        estimate: the USD estimate (None for models without a price).
        file_fields: the API names of the file inputs (kept apart when matching records).
    """

    model: str
    body: RequestBody
    params: dict[str, Any]
    estimate: float | None
    file_fields: frozenset[str] = field(default_factory=frozenset)

    def sent_values(self) -> dict[str, Any]:
        """The non-file values a task record's ``parameters`` should echo (the callback URL
        is kept apart by the API, and empty values are not stored)."""
        return {k: v for k, v in self.body.fields.items()
                if k not in self.file_fields and k != _CALLBACK_WIRE
                and v not in ("", [], None)}


def prepare(model: str, params: Mapping[str, Any]) -> Prepared:
    """Check ``params`` for ``model`` and build its Run body.

    Unknown models pass their parameters through as given (file-like values as file parts).

    Raises:
        ValidationError: a bad model name, parameter or reference image (naming the field).

    Example:
        >>> prepare("someone/new-model", {"text": "hi"}).body.fields
        {'text': 'hi'}
    """
    model = model.strip().strip("/") if isinstance(model, str) else model
    if not isinstance(model, str) or not _MODEL.fullmatch(model):
        raise ValidationError("model", model, "must be 'owner/model', e.g. "
                              "'black-forest-labs/flux-2-flex'")
    params = dict(params)
    callback = _check_callback(params.pop(_CALLBACK_PY, None))
    spec = get_spec(model)
    if spec is None:
        wire, files, shown = _pass_through(params)
        estimate = None
    else:
        py = spec.validate(params)
        shown = dict(py)
        files = {}
        file_param = spec.file_param
        if file_param is not None:
            refs = normalize_references(py.pop(file_param.py_name, []), file_param.py_name)
            if refs:
                files[file_param.name] = refs
            shown[file_param.py_name] = [r.descriptor() for r in refs]
        wire = spec.to_wire(py)
        estimate = spec.estimate_cost(shown)
    if callback:
        wire[_CALLBACK_WIRE] = callback
        shown[_CALLBACK_PY] = strip_userinfo(callback)  # a password is sent, never kept
    file_fields = (frozenset({spec.file_param.name}) if spec and spec.file_param
                   else frozenset(files))
    return Prepared(model=model, body=build_body(wire, files), params=shown,
                    estimate=estimate, file_fields=file_fields)


def params_from_record(model: str, raw: Any) -> dict[str, Any]:
    """Python-named params from a task record's ``parameters`` (references as URL
    descriptors); unknown models keep the record's names.

    Example:
        >>> params_from_record("black-forest-labs/flux-2-flex", {"steps": "28"})
        {'steps': 28}
    """
    if not isinstance(raw, Mapping):
        return {}
    spec = get_spec(model) if model else None
    if spec is None:
        return dict(raw)
    params: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            param = spec.param(name)
        except KeyError:
            continue
        if param.is_files:
            urls = value if isinstance(value, list) else [
                u for u in str(value or "").split(",") if u.strip()]
            params[param.py_name] = [
                {"name": str(u).rsplit("/", 1)[-1], "sha256": None, "size": None,
                 "source": "url", "url": str(u).strip(), "content_type": None} for u in urls]
        elif param.is_number:
            number = parse_number(value)
            params[param.py_name] = value if number is None else (
                int(number) if param.kind is Kind.NUMBER else number)
        else:
            params[param.py_name] = value
    return params


def _check_callback(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(_CALLBACK_PY, value, "must be an http(s) URL string")
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError(_CALLBACK_PY, value, "must be an http(s) URL with a host")
    return value.strip()


def _pass_through(params: Mapping[str, Any]
                  ) -> tuple[dict[str, Any], dict[str, list[Reference]], dict[str, Any]]:
    """Unknown models: names and values go as given; file-like values as file parts."""
    fields: dict[str, Any] = {}
    files: dict[str, list[Reference]] = {}
    shown: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        if items and any(is_reference_like(v) for v in items):
            refs = normalize_references(list(items), name)
            files[name] = refs
            shown[name] = [r.descriptor() for r in refs]
        else:
            fields[name] = list(value) if isinstance(value, tuple) else value
            shown[name] = fields[name]
    return fields, files, shown
