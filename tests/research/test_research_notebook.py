"""A sweep in a real Jupyter kernel: count and estimate shown up front, the grid as output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import MODEL

pytestmark = pytest.mark.notebook

SWEEP_CELL = f"""
from wiro_widgets import WiroClient
client = WiroClient()
sweep = client.sweep({MODEL!r}, prompt="a fox", seed=[1, 2], guidance=[3.0, 6.0],
                     width=256, height=256)
"""


def test_sweep_progress_and_grid_in_a_kernel(sandbox: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SWEEP_CELL), nbformat.v4.new_code_cell("sweep")]
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)  # the kernel inherits this process's environment
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    [progress] = [o for o in notebook.cells[0].outputs if o.output_type == "display_data"]
    text = progress.data["text/plain"]
    # The one line was updated in place: from the announcement to the final tally.
    assert "4/4 ended" in text
    assert "est. $" in text
    [grid] = [o for o in notebook.cells[1].outputs if o.output_type == "execute_result"]
    page = grid.data["text/html"]
    assert 'class="wiro-sweep"' in page
    assert page.count("<img ") == 4
    assert "guidance=6.0" in page
