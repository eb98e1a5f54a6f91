"""Reading a Run for any catalogue model: its values checked with the model's spec, its
files gathered per file input, and what the task record's ``parameters`` show.

Each file input (``fileinput``, ``multifileinput``, ``combinefileinput``) takes every
encoding `intake.collect` accepts: file parts, URL text parts, comma-separated URLs, JSON
arrays and the ``{id}Url`` companion. Values are checked by `ModelSpec.validate_wire`, with
Wiro's wording.

Example:
    >>> run = read_run(body, spec, store=store, token=token, public_root=root,
    ...                self_hosts={"127.0.0.1:8000"})
    >>> run.params["steps"], [i["name"] for i in run.inputs]
    (50, ['inputImage'])
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from ..references import Reference
from ..schema import ModelSpec
from .files import FileStore
from .forms import Body, FilePart
from .intake import InputError, collect, input_record, resolve

__all__ = ["RunRequest", "read_run"]

_CALLBACK = "callbackUrl"


@dataclass
class RunRequest:
    """A Run as the engine takes it.

    Attributes:
        params: API-named values, parsed, defaults filled (file inputs excluded).
        parameters: what the task record's ``parameters`` show (file inputs as their
            comma-separated stored URLs).
        refs: every file entry, in input order, then entry order.
        inputs: `intake.input_record` of each entry (its ``name`` is the input's id).
        callback: the ``callbackUrl`` given, or ``""``.
    """

    params: dict[str, Any]
    parameters: dict[str, Any]
    refs: tuple[Reference, ...] = ()
    inputs: list[dict[str, Any]] = field(default_factory=list)
    callback: str = ""


def read_run(body: Body, spec: ModelSpec, *, store: FileStore, token: str, public_root: str,
             self_hosts: Collection[str]) -> RunRequest:
    """Check a Run's body against ``spec`` and store its files.

    Raises:
        InputError: a file entry or a value the sandbox refuses (Wiro's code 0).
        WireValidationError: a value breaks the spec (Wiro's wording).
    """
    file_names = {name for p in spec.file_params for name in (p.name, p.name + "Url")}
    entries: dict[str, list[FilePart | str]] = {
        p.name: collect(body, p.name) for p in spec.file_params}
    wire = {k: v for k, v in body.scalars().items() if k not in file_names}
    for p in spec.params:
        if isinstance(wire.get(p.name), (list, dict)):
            raise InputError(f"Request parameter [{p.name}] must be a single value")
    params = spec.validate_wire(wire, file_counts={k: len(v) for k, v in entries.items()})
    refs: list[Reference] = []
    inputs: list[dict[str, Any]] = []
    parameters: dict[str, Any] = {}
    try:
        for name, given in entries.items():
            if not given:
                continue
            resolved = resolve(given, param=name, store=store, token=token,
                               public_root=public_root, self_hosts=self_hosts)
            refs.extend(resolved)
            inputs.extend(input_record(r, name) for r in resolved)
            parameters[name] = ",".join(str(r.url) for r in resolved)
    except InputError:
        store.remove_files(r.path for r in refs if r.path is not None)
        raise
    for key, value in wire.items():
        if key != _CALLBACK and value is not None and value != "":
            parameters[key] = value
    callback = body.first(_CALLBACK)
    return RunRequest(params=params, parameters=parameters, refs=tuple(refs), inputs=inputs,
                      callback=str(callback) if callback else "")
