"""Every notebook runs top to bottom in a real kernel against a sandbox: images are shown, no
cell fails, and no key or secret lands anywhere in the saved notebook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nbcheck import (
    NOTEBOOK_NAMES,
    assert_no_secrets,
    error_outputs,
    image_outputs,
    secret_strings,
)

from wiro_widgets.demo import HEADLESS_TAG, add_headless_cell

pytestmark = pytest.mark.notebook


@pytest.mark.parametrize("name", [n for n in NOTEBOOK_NAMES if n != "quickstart.ipynb"])
def test_notebook_runs(name: str, nb_sandbox: Any, run_notebook: Any) -> None:
    before = len(nb_sandbox.tasks)
    notebook, saved = run_notebook(name, nb_sandbox)
    assert error_outputs(notebook) == []
    assert image_outputs(notebook), "no image shown"
    assert len(nb_sandbox.tasks) > before, "the notebook ran nothing on the sandbox"
    assert_no_secrets(saved, secret_strings(nb_sandbox))


def test_quickstart_panel_generates(nb_sandbox: Any, run_notebook: Any, tmp_path: Path) -> None:
    images = tmp_path / "images"

    def press_generate(notebook: Any, workdir: Path) -> None:
        add_headless_cell(notebook, images, timeout=120)

    notebook, saved = run_notebook("quickstart.ipynb", nb_sandbox, prepare=press_generate)
    assert error_outputs(notebook) == []
    pressed = [i for i, c in enumerate(notebook.cells)
               if HEADLESS_TAG in c.metadata.get("tags", [])]
    assert pressed
    assert pressed[0] in image_outputs(notebook)
    pngs = sorted(images.glob("*.png"))
    assert pngs
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)
    # The panel was live in the kernel, so its state was saved: it must hold no secret either.
    assert "widgets" in notebook.metadata
    assert_no_secrets(saved, secret_strings(nb_sandbox))
