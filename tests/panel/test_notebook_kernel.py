"""The panel in a real kernel (nbclient): Generate from a cell, the worker thread finishes while
the kernel polls, images arrive, and nothing secret lands in the executed notebook."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image

pytestmark = pytest.mark.notebook

CELLS = [
    "from wiro_widgets import FluxPanel\n"
    "panel = FluxPanel()\n"
    "panel",
    "panel.form.prompt.value = 'a fox drawn by a kernel'\n"
    "panel.form.controls['steps'].value = 8\n"
    "panel.form.set_size(1024, 768)\n"
    "panel.generate_button.click()\n"
    "print('running:', panel.running)",
    "import time\n"
    "deadline = time.monotonic() + 90\n"
    "while panel.running and time.monotonic() < deadline:\n"
    "    time.sleep(0.1)\n"
    "print('state:', panel.status.state)\n"
    "print('images:', [im.size for im in panel.images])\n"
    "print('task:', panel.result.task_id)\n"
    "print('sandbox:', 'SANDBOX' in panel.badge.value)",
    "panel.present()",
]


def test_panel_generates_in_a_real_kernel(make_sandbox: Callable[..., Any],
                                          tmp_path: Path) -> None:
    sb = make_sandbox(speed=5.0)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env={**os.environ, **sb.env()})

    text = {i: "".join(o.get("text", "") for o in cell.outputs)
            for i, cell in enumerate(nb.cells)}
    assert "running: True" in text[1]
    assert "state: done" in text[2], text
    assert "images: [(1024, 768)]" in text[2]
    assert "sandbox: True" in text[2]
    (task,) = sb.tasks
    assert f"task: {task.id}" in text[2]
    assert task.params["prompt"] == "a fox drawn by a kernel"
    assert task.status == "task_postprocess_end"

    # The panel's output is a widget view; its text fallback is the short repr.
    view = nb.cells[0].outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in view
    assert view["text/plain"].startswith("FluxPanel(model='black-forest-labs/flux-2-flex'")

    saved = nbformat.writes(nb)
    for secret in (sb.api_key, sb.api_secret):
        assert secret not in saved
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert len(state) > 50
    buffers = [base64.b64decode(b["data"]) for model in state.values()
               for b in model.get("buffers", [])]
    assert buffers, "the images travel as binary buffers"
    assert all(b[:3] == b"\xff\xd8\xff" for b in buffers)  # small JPEGs, never the full PNG
    assert max(len(b) for b in buffers) < 400_000
    sides = [max(Image.open(io.BytesIO(b)).size) for b in buffers]
    assert max(sides) <= 1280  # previews and thumbnails, not the 1024x768 PNG itself
    assert len(saved) < 2_000_000
