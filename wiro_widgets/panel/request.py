"""The immutable snapshot a Generate press makes of the form: what the worker sends.

The worker thread only ever sees a `GenerationRequest`, never a widget, so a user editing the
form while a run is in flight cannot change what is being sent.

Example:
    >>> ref = Reference.from_bytes("cat.png", png_bytes)
    >>> request = GenerationRequest("black-forest-labs/flux-2-flex",
    ...                             {"prompt": "image 1 as a watercolour"}, (ref,))
    >>> request.client_params()[request.file_param][0].name
    'cat.png'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..references import Reference
from ..specs import get_spec

__all__ = ["GenerationRequest"]


@dataclass(frozen=True)
class GenerationRequest:
    """Everything one run sends, frozen at the moment Generate was pressed.

    Attributes:
        model: ``owner/model``.
        params: Python-named parameters without the reference images.
        references: the reference images in order ("image 1" first).
        files: the Python name of the input the references go to (None: the built-in
            spec's file input, if any).
        inputs: the files of the model's other file inputs, by Python name.
    """

    model: str
    params: Mapping[str, Any]
    references: tuple[Reference, ...] = ()
    files: str | None = None
    inputs: Mapping[str, tuple[Reference, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "inputs", MappingProxyType(
            {k: tuple(v) for k, v in self.inputs.items() if v}))

    @property
    def file_param(self) -> str | None:
        """The Python name of the model's file input (its spec says which), if any."""
        if self.files is not None:
            return self.files
        spec = get_spec(self.model)
        return spec.file_param.py_name if spec is not None and spec.file_param else None

    def with_param(self, name: str, value: Any) -> GenerationRequest:
        """The same request with one parameter changed (a batch's own seed).

        Example:
            >>> request.with_param("seed", 8).params["seed"]
            8
        """
        return GenerationRequest(self.model, {**self.params, name: value}, self.references,
                                 self.files, self.inputs)

    def client_params(self) -> dict[str, Any]:
        """Keyword arguments for ``client.submit(model, **params)``: the references go under
        the model's file input, checked again by the client before anything is sent."""
        params = dict(self.params)
        if self.references and self.file_param:
            params[self.file_param] = list(self.references)
        for name, refs in self.inputs.items():
            params[name] = list(refs)
        return params
