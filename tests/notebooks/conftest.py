"""Fixtures for the notebook and demo tests: a fast sandbox and a notebook runner."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbcheck import NOTEBOOKS, SANDBOX_SPEED, SLOW, clean_env
from nbclient import NotebookClient

CELL_TIMEOUT = 240 if SLOW else 120


@pytest.fixture(scope="module")
def nb_sandbox() -> Iterator[Any]:
    """A sandbox for this module's notebooks, fast."""
    from wiro_widgets.sandbox import Sandbox

    with Sandbox(speed=SANDBOX_SPEED) as sb:
        yield sb


@pytest.fixture
def run_notebook(tmp_path: Path, wiro_home: Path) -> Callable[..., tuple[Any, Path]]:
    """Execute a notebook in a real kernel against a sandbox; returns (notebook, saved path).

    The notebooks are copied to a temp folder first (they write files beside themselves), and
    the executed notebook is written there, as a user's save would.
    """

    def run(name: str, sandbox: Any, *, prepare: Callable[[Any, Path], None] | None = None,
            ) -> tuple[Any, Path]:
        workdir = tmp_path / "nb"
        workdir.mkdir(exist_ok=True)
        shutil.copy2(NOTEBOOKS / name, workdir / name)
        if (NOTEBOOKS / "assets").is_dir():
            shutil.copytree(NOTEBOOKS / "assets", workdir / "assets", dirs_exist_ok=True)
        notebook = nbformat.read(workdir / name, as_version=4)
        if prepare is not None:
            prepare(notebook, workdir)
        env = clean_env(WIRO_WIDGETS_HOME=str(wiro_home), **sandbox.env())
        client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": str(workdir)}})
        try:
            client.execute(env=env, cwd=str(workdir))
        finally:
            out = tmp_path / f"executed-{name}"
            nbformat.write(notebook, out)
        return notebook, out

    return run
