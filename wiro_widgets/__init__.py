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

from ._version import __version__ as __version__

_EXPORTS = {
    "WiroClient": "client",
    "FluxPanel": "panel",
    "Result": "results",
    "Task": "results",
    "TaskUpdate": "results",
    "Output": "results",
    "Sweep": "sweep",
    "compare": "comparison",
    "read_params": "metadata",
    "ModelSpec": "schema",
    "ParamSpec": "schema",
    "get_spec": "specs",
    "FLUX_2_FLEX": "specs",
    "WiroError": "errors",
    "ConfigError": "errors",
    "ValidationError": "errors",
    "BudgetExceeded": "errors",
    "ApiError": "errors",
    "AuthError": "errors",
    "ConcurrencyLimit": "errors",
    "InsufficientBalance": "errors",
    "NotFound": "errors",
    "NetworkError": "errors",
    "RunOutcomeUnknown": "errors",
    "TaskError": "errors",
    "TaskFailed": "errors",
    "Moderated": "errors",
    "TaskCancelled": "errors",
    "TaskTimeout": "errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:
    from .client import WiroClient
    from .comparison import compare
    from .errors import (
        ApiError,
        AuthError,
        BudgetExceeded,
        ConcurrencyLimit,
        ConfigError,
        InsufficientBalance,
        Moderated,
        NetworkError,
        NotFound,
        RunOutcomeUnknown,
        TaskCancelled,
        TaskError,
        TaskFailed,
        TaskTimeout,
        ValidationError,
        WiroError,
    )
    from .metadata import read_params
    from .panel import FluxPanel
    from .results import Output, Result, Task, TaskUpdate
    from .schema import ModelSpec, ParamSpec
    from .specs import FLUX_2_FLEX, get_spec
    from .sweep import Sweep


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wiro_widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
