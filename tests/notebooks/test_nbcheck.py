"""The checks the notebook tests rely on catch what they are meant to catch."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbcheck import assert_no_secrets, error_outputs, image_outputs
from nbformat.v4 import new_code_cell, new_notebook, new_output


def notebook_with(*outputs: object) -> object:
    cell = new_code_cell("x", outputs=list(outputs))
    return new_notebook(cells=[new_code_cell("pass"), cell])


def test_error_outputs_are_found() -> None:
    failed = notebook_with(new_output("error", ename="TaskFailed", evalue="boom", traceback=[]))
    assert error_outputs(failed) == ["cell 1: TaskFailed: boom"]
    printed = notebook_with(new_output("stream", name="stderr",
                                       text="Traceback (most recent call last):\n ..."))
    assert len(error_outputs(printed)) == 1
    warned = notebook_with(new_output("stream", name="stderr", text="WARNING: slow"))
    assert error_outputs(warned) == []


def test_image_outputs_are_found() -> None:
    png = notebook_with(new_output("display_data", data={"image/png": "iVBOR"}))
    html = notebook_with(new_output("execute_result", execution_count=1, data={
        "text/html": '<div><img src="data:image/jpeg;base64,/9j/"></div>'}))
    text = notebook_with(new_output("execute_result", execution_count=1,
                                    data={"text/plain": "Result(...)"}))
    assert image_outputs(png) == [1]
    single = notebook_with(new_output("display_data", data={
        "text/html": "<figure><img src='data:image/jpeg;base64,/9j/' style='width:9px'>"}))
    assert image_outputs(html) == [1]
    assert image_outputs(single) == [1]
    assert image_outputs(text) == []


@pytest.mark.parametrize("where", ["output", "widget-state"])
def test_a_secret_anywhere_in_the_file_is_found(tmp_path: Path, where: str) -> None:
    secret = "sbx-secret-0123456789abcdef"
    if where == "output":
        notebook = notebook_with(new_output("stream", name="stdout", text=f"key={secret}\n"))
    else:
        notebook = notebook_with()
        notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
            "state": {"m1": {"state": {"value": f"\"{secret}\""}}}}}
    path = tmp_path / "leak.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(AssertionError, match="a secret is in"):
        assert_no_secrets(path, [secret])
    assert_no_secrets(path, ["a-different-secret"])
