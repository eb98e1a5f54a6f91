"""Copy as code: the exact ``client.run(...)`` call for a panel request.

Example:
    >>> print(request_code(request))
    result = client.run(
        "black-forest-labs/flux-2-flex",
        prompt="a lighthouse at dusk",
        ...
    )
"""

from __future__ import annotations

import json
from typing import Any

from ..redaction import redact_data
from ..references import Reference
from ..specs import get_spec
from .request import GenerationRequest

__all__ = ["request_code"]


def _literal(value: Any) -> str:
    if isinstance(value, str):
        # A JSON string is also a valid Python literal (quotes, newlines, unicode escaped),
        # and reads the way most people write strings: in double quotes.
        text = json.dumps(value, ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: only an escaped form is pasteable
            return json.dumps(value)
        return text
    if isinstance(value, float):
        return repr(round(value, 6))
    return repr(value)


def request_code(request: GenerationRequest, *, client_name: str = "client",
                 build_client: bool = True, order: tuple[str, ...] | None = None) -> str:
    """Python source that repeats ``request`` with the client API, runnable as pasted.

    Uploaded references kept as files (the panel's uploads folder) appear by path; others by
    file name with their SHA-256 prefix in a comment; URL references as URLs. With
    ``build_client`` the code makes its client from the environment, as a panel without one
    given does; otherwise it uses a ``client`` variable the notebook already has.

    Example:
        >>> "seed=" in request_code(request)
        True
    """
    if build_client:
        lines = [
            "# Made by the wiro_widgets panel.",
            "from wiro_widgets import WiroClient",
            "",
            f"{client_name} = WiroClient()  # reads WIRO_API_KEY / WIRO_API_SECRET",
        ]
    else:
        lines = [
            f"# Made by the wiro_widgets panel; {client_name}: the WiroClient the panel uses.",
        ]
    lines += [
        f"result = {client_name}.run(",
        f"    {_literal(request.model)},",
    ]
    if order is None:
        spec = get_spec(request.model)
        # Form order, so generated code reads like the panel does.
        order = spec.form_hints().order if spec is not None else ()
    keys = [k for k in order if k in request.params]
    keys += sorted(k for k in request.params if k not in order)
    for key in keys:  # URLs without their user and password, as references show them
        lines.append(f"    {key}={_literal(redact_data(request.params[key]))},")
    groups = [(request.file_param, request.references)] if request.file_param else []
    groups += list(request.inputs.items())
    for name, refs in groups:
        if refs:
            lines += [f"    {name}=[", *_reference_lines(refs), "    ],"]
    lines.append(")")
    lines.append("result.images[0]")
    return "\n".join(lines) + "\n"


def _reference_lines(refs: tuple[Reference, ...]) -> list[str]:
    lines = []
    for index, ref in enumerate(refs, start=1):
        if ref.url is not None:
            lines.append(f"        {_literal(ref.shown_url)},  # image {index}")
        elif ref.path is not None:
            lines.append(f"        {_literal(str(ref.path))},  # image {index}, "
                         f"{ref.size or 0:,} bytes")
        else:
            lines.append(
                f"        {_literal(ref.name)},  # image {index}, sha256 "
                f"{(ref.sha256 or '')[:12]}, {ref.size or 0:,} bytes"
            )
    return lines
