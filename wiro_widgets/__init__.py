"""wiro_widgets: Wiro's image models in Jupyter.

A synchronous client (`WiroClient`), an ipywidgets panel (`FluxPanel`) and a local sandbox
server (`wiro_widgets.sandbox.Sandbox`) that speaks the same API.

Example:
    >>> from wiro_widgets import WiroClient, FluxPanel
    >>> client = WiroClient()                       # WIRO_API_KEY / WIRO_API_SECRET
    >>> result = client.run("black-forest-labs/flux-2-flex", prompt="a lighthouse at dusk")
    >>> result.images[0]
    >>> FluxPanel(client)                           # the panel, as a cell's last line

Names are imported on first use, so ``import wiro_widgets`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

#: The public names, in reading order: the client and what it returns, the panel, research,
#: model specs, then the errors (their hierarchy in `wiro_widgets.errors`). Not sorted on
#: purpose; tests/unit/test_unit_public_api.py pins it.
__all__ = [  # noqa: RUF022
    "__version__",
    "WiroClient",
    "Task",
    "TaskUpdate",
    "Result",
    "Output",
    "models",
    "ModelInfo",
    "FluxPanel",
    "ModelPanel",
    "Sweep",
    "Batch",
    "sweep_over",
    "compare",
    "read_params",
    "pack",
    "ModelSpec",
    "ParamSpec",
    "get_spec",
    "FLUX_2_FLEX",
    "WiroError",
    "ConfigError",
    "ValidationError",
    "InvalidRows",
    "BudgetExceeded",
    "AlreadyRun",
    "JobBusy",
    "JobChanged",
    "ApiError",
    "AuthError",
    "ConcurrencyLimit",
    "InsufficientBalance",
    "NotFound",
    "CancelRefused",
    "ModelNotFound",
    "NetworkError",
    "RunOutcomeUnknown",
    "OutputError",
    "TaskError",
    "TaskFailed",
    "Moderated",
    "TaskCancelled",
    "TaskTimeout",
]

#: Where each lazily imported name lives.
_HOMES = {
    "WiroClient": "client",
    "Task": "results",
    "TaskUpdate": "results",
    "Result": "results",
    "Output": "results",
    "models": "client",
    "ModelInfo": "client",
    "FluxPanel": "panel",
    "ModelPanel": "panel",
    "Sweep": "research",
    "Batch": "research",
    "sweep_over": "research",
    "compare": "research",
    "read_params": "metadata",
    "pack": "research",
    "ModelSpec": "schema",
    "ParamSpec": "schema",
    "get_spec": "specs",
    "FLUX_2_FLEX": "specs",
    **{name: "errors" for name in __all__[__all__.index("WiroError"):]},
}

if TYPE_CHECKING:
    from .client import ModelInfo, WiroClient, models
    from .errors import (
        AlreadyRun,
        ApiError,
        AuthError,
        BudgetExceeded,
        CancelRefused,
        ConcurrencyLimit,
        ConfigError,
        InsufficientBalance,
        InvalidRows,
        JobBusy,
        JobChanged,
        ModelNotFound,
        Moderated,
        NetworkError,
        NotFound,
        OutputError,
        RunOutcomeUnknown,
        TaskCancelled,
        TaskError,
        TaskFailed,
        TaskTimeout,
        ValidationError,
        WiroError,
    )
    from .metadata import read_params
    from .panel import FluxPanel, ModelPanel
    from .research import Batch, Sweep, compare, pack, sweep_over
    from .results import Output, Result, Task, TaskUpdate
    from .schema import ModelSpec, ParamSpec
    from .specs import FLUX_2_FLEX, get_spec


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'wiro_widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
