"""The curated public API: ``wiro_widgets.__all__`` in reading order, every name importable,
and ``import wiro_widgets`` still lazy."""

from __future__ import annotations

import subprocess
import sys

import wiro_widgets

EXPECTED = [
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


def test_all_is_the_curated_list_in_reading_order() -> None:
    assert wiro_widgets.__all__ == EXPECTED
    assert dir(wiro_widgets) == sorted(EXPECTED)  # dir() sorts what __dir__ gives


def test_every_public_name_imports_from_its_home() -> None:
    for name in EXPECTED:
        value = getattr(wiro_widgets, name)
        assert value is not None, name
    from wiro_widgets.client import WiroClient
    from wiro_widgets.research import compare

    assert wiro_widgets.WiroClient is WiroClient
    assert wiro_widgets.compare is compare
    assert wiro_widgets.__version__ == wiro_widgets._version.__version__


def test_the_package_import_stays_lazy() -> None:
    code = ("import sys, wiro_widgets; "
            "print(sorted(m for m in sys.modules if m.startswith('wiro_widgets')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['wiro_widgets', 'wiro_widgets._version']"
