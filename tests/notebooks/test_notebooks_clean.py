"""The committed notebooks stay small and open without a kernel dialog: no outputs, no
execution counts, no widget state, and kernelspec metadata on each."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbcheck import KERNELSPEC, NOTEBOOK_NAMES, NOTEBOOKS


def test_every_expected_notebook_is_committed() -> None:
    present = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert sorted(NOTEBOOK_NAMES) == present


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_is_clean(name: str) -> None:
    path = NOTEBOOKS / name
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert dict(notebook.metadata.get("kernelspec", {})) == KERNELSPEC
    assert "widgets" not in notebook.metadata, "saved widget state"
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code, "a notebook with no code"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"cell {index} has outputs"
        assert cell.execution_count is None, f"cell {index} has an execution count"
    # A raw look too: nothing base64-sized hides anywhere (metadata, attachments).
    assert len(path.read_bytes()) < 60_000
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert "attachments" not in json.dumps(raw)


def test_assets_are_small() -> None:
    assets = NOTEBOOKS / "assets"
    files = [p for p in assets.rglob("*") if p.is_file()] if assets.is_dir() else []
    for path in files:
        assert path.stat().st_size < 50_000, f"{path.name} is over 50 KB"
