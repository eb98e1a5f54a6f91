"""Size rules of the package: no module over 500 lines, no function over 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import wiro_widgets

PACKAGE = Path(wiro_widgets.__file__).parent
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_walk_sees_the_package() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in _modules()}
    assert {"__init__.py", "client/_facade.py", "sandbox/engine.py"} <= names


def test_no_module_over_500_lines() -> None:
    too_long = {p.relative_to(PACKAGE).as_posix(): n for p in _modules()
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_no_function_over_60_lines() -> None:
    too_long = {}
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    where = f"{path.relative_to(PACKAGE).as_posix()}:{node.lineno} {node.name}"
                    too_long[where] = length
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"
