"""Preparing a submission: parameters checked against the model's spec, reference images
checked and described, and the Run body built. Nothing here touches the network.

Example:
    >>> prepared = prepare("black-forest-labs/flux-2-flex", {"prompt": "a fox", "seed": 7},
    ...                    client.spec("black-forest-labs/flux-2-flex"))
    >>> prepared.params["steps"], prepared.body.fields["seed"], prepared.estimate
    (50, 7, 0.062915)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ..errors import ValidationError
from ..protocol import parse_number
from ..redaction import strip_userinfo
from ..references import Reference, is_reference_like, normalize_references
from ..schema import ModelSpec, plain
from ..specs import get_spec
from ._body import RequestBody, build_body

__all__ = ["Prepared", "check_model", "params_from_record", "prepare"]

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
        spec: the spec the parameters were checked against (None: passed through).
    """

    model: str
    body: RequestBody
    params: dict[str, Any]
    estimate: float | None
    file_fields: frozenset[str] = field(default_factory=frozenset)
    spec: ModelSpec | None = None

    def sent_values(self) -> dict[str, Any]:
        """The non-file values a task record's ``parameters`` should echo (the callback URL
        is kept apart by the API, and empty values are not stored)."""
        return {k: v for k, v in self.body.fields.items()
                if k not in self.file_fields and k != _CALLBACK_WIRE
                and v not in ("", [], None)}


def prepare(model: str, params: Mapping[str, Any],
            spec: ModelSpec | Literal["builtin"] | None = "builtin") -> Prepared:
    """Check ``params`` for ``model`` and build its Run body.

    Args:
        model: ``owner/model``.
        params: Python names or API ids; numpy numbers count as the Python numbers they
            hold.
        spec: the model's spec (``client.spec(model)``); ``"builtin"`` looks up the
            package's built-in spec; None passes the parameters through unchecked
            (file-like values as files, booleans as ``"true"``/``"false"``).

    Raises:
        ValidationError: a bad model name, parameter or reference image (naming the field).

    Example:
        >>> prepare("someone/new-model", {"text": "hi", "hd": True}, None).body.fields
        {'text': 'hi', 'hd': 'true'}
    """
    model = check_model(model)
    params = dict(params)
    callback = _check_callback(params.pop(_CALLBACK_PY, params.pop(_CALLBACK_WIRE, None)))
    if spec == "builtin":
        spec = get_spec(model)
    if spec is None:
        wire, files, shown = _pass_through(params)
        estimate, kinds = None, {}
        file_fields = frozenset(files)
    else:
        wire, files, shown, estimate = _checked(spec, params)
        kinds = {p.name: p.kind.value for p in spec.file_params}
        file_fields = frozenset(n for p in spec.file_params for n in (p.name, p.name + "Url"))
    if callback:
        wire[_CALLBACK_WIRE] = callback
        shown[_CALLBACK_PY] = strip_userinfo(callback)  # a password is sent, never kept
    return Prepared(model=model, body=build_body(wire, files, kinds), params=shown,
                    estimate=estimate, file_fields=file_fields, spec=spec)


def check_model(model: Any) -> str:
    """``owner/model``, trimmed; else `ValidationError` (field ``model``).

    Example:
        >>> check_model(" google/nano-banana-pro/ ")
        'google/nano-banana-pro'
    """
    text = model.strip().strip("/") if isinstance(model, str) else model
    if not isinstance(text, str) or not _MODEL.fullmatch(text):
        raise ValidationError("model", model, "must be 'owner/model', e.g. "
                              "'black-forest-labs/flux-2-flex'")
    return text


def _checked(spec: ModelSpec, params: Mapping[str, Any]
             ) -> tuple[dict[str, Any], dict[str, list[Reference]], dict[str, Any],
                        float | None]:
    """Validated wire values, checked references by API id, what the ledger shows, and the
    estimate (computed with the references, whose pixel sizes some prices need)."""
    py = spec.validate(params)
    files: dict[str, list[Reference]] = {}
    refs_by_py: dict[str, list[Reference]] = {}
    for p in spec.file_params:
        refs = normalize_references(py.pop(p.py_name, []), p.py_name)
        refs_by_py[p.py_name] = refs
        if refs:
            files[p.name] = refs
    estimate = spec.estimate_cost({**py, **refs_by_py})
    shown = dict(py)
    for name, refs in refs_by_py.items():
        shown[name] = [r.descriptor() for r in refs]
    return spec.to_wire(py), files, _ordered(spec, shown), estimate


def _ordered(spec: ModelSpec, shown: dict[str, Any]) -> dict[str, Any]:
    """``shown`` in the spec's order (file inputs where the spec lists them)."""
    return {p.py_name: shown[p.py_name] for p in spec.params if p.py_name in shown}


def params_from_record(model: str, raw: Any,
                       spec: ModelSpec | Literal["builtin"] | None = "builtin"
                       ) -> dict[str, Any]:
    """Python-named params from a task record's ``parameters`` (references as URL
    descriptors); unknown models keep the record's names.

    Example:
        >>> params_from_record("black-forest-labs/flux-2-flex", {"steps": "28"})
        {'steps': 28}
    """
    if not isinstance(raw, Mapping):
        return {}
    if spec == "builtin":
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
                int(number) if param.is_integer else number)
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
    """Models without a spec: names and values go as given, file-like values as file parts,
    booleans as the strings ``"true"``/``"false"`` (as Wiro's SDK fixtures send them), numpy
    numbers as the Python numbers they hold."""
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
            fields[name] = _plain_value(value)
            shown[name] = fields[name]
    return fields, files, shown


def _plain_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    value = plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
