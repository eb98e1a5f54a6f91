"""What the panel does in the browser beyond a run (JupyterLab; Notebook 7 runs the same
widget code): Copy as code gives a cell that runs, Ctrl+Enter generates, the history comes
back in a fresh kernel, an oversized pick is refused before it is sent, Download and full
screen work."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from checks import screenshot
from lab_servers import open_panel, panel_notebook, shutdown_kernels
from PIL import Image

pytestmark = pytest.mark.browser

RUN_NEW_CELL_JS = """async (code) => {
  const app = window.jupyterapp; const notebook = app.shell.currentWidget.content;
  notebook.activeCellIndex = notebook.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  notebook.activeCell.model.sharedModel.setSource(code);
  await app.commands.execute('notebook:run-cell');
  return notebook.widgets.length;
}"""


def set_steps(page: Any, steps: int) -> None:
    readout = page.locator(".wiro-steps .widget-readout").first
    readout.fill(str(steps))
    readout.press("Enter")


def type_prompt(page: Any, text: str) -> None:
    box = page.locator(".wiro-prompt textarea").first
    box.fill(text)
    box.blur()


def test_copy_as_code_gives_a_cell_that_runs(lab_page: Any, browser_sandbox: Any,
                                             tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = lab_page
    type_prompt(page, 'image 1 as a "poster"')
    set_steps(page, 6)
    seed = page.locator(".wiro-seed input").first
    seed.fill("2468")
    seed.press("Enter")
    picture = tmp_path / "harbour.png"
    Image.new("RGB", (96, 64), (30, 90, 160)).save(picture)
    with page.expect_file_chooser() as chooser:
        page.locator(".wiro-upload").first.click()
    chooser.value.set_files([str(picture)])
    expect(page.locator(".wiro-references .wiro-ref")).to_have_count(1)

    page.locator(".wiro-code-button").first.click()
    expect(page.locator(".wiro-code-note")).to_contain_text("Copied")
    code = page.evaluate("navigator.clipboard.readText()")
    assert "seed=2468," in code
    assert 'wiro-uploads/' in code  # the upload, kept as a file next to the notebook
    expect(page.locator(".wiro-code textarea")).to_have_value(code)
    page.locator(".wiro-code-close").first.click()
    expect(page.locator(".wiro-code-box")).to_be_hidden()

    before = len(browser_sandbox.tasks)
    page.evaluate(RUN_NEW_CELL_JS, code)  # pasted into a new cell and run, as a user would
    output = page.locator(".jp-Cell").last.locator(".jp-OutputArea-output")
    expect(output.locator("img")).to_have_count(1, timeout=90_000)
    assert page.locator(".jp-Cell").last.locator("[data-mime-type*='stderr']").count() == 0
    task = browser_sandbox.tasks[before]
    assert task.params["seed"] == 2468
    assert task.params["prompt"] == 'image 1 as a "poster"'
    assert [i["filename"] for i in task.inputs] == [f"{task.inputs[0]['filename']}"]
    assert task.inputs[0]["size"] == picture.stat().st_size
    screenshot(page, "lab-copy-as-code")


def test_ctrl_enter_generates_and_the_history_comes_back_in_a_fresh_kernel(
        lab_page: Any, lab_server: Any, chromium: Any) -> None:
    from playwright.sync_api import expect

    page = lab_page
    set_steps(page, 6)
    seed = page.locator(".wiro-seed input").first
    seed.fill("4321")
    seed.press("Enter")
    prompt = page.locator(".wiro-prompt textarea").first
    prompt.fill("a run to remember")
    prompt.press("Control+Enter")
    expect(page.locator(".wiro-status-done")).to_be_visible(timeout=60_000)
    expect(prompt).to_have_value("a run to remember")  # no newline typed by the shortcut

    # A fresh kernel: a second notebook with the same panel cell.
    name = "history-fresh-kernel.ipynb"
    (lab_server.root / name).write_text(json.dumps(panel_notebook()))
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    fresh = context.new_page()
    fresh.set_default_timeout(60_000)
    try:
        open_panel(fresh, lab_server, name)
        tile = fresh.locator(".wiro-history .wiro-thumb", has_text="seed 4321").first
        expect(tile).to_be_visible()
        expect(fresh.locator(".wiro-history-title, .wiro-section").filter(
            has_text="from earlier sessions")).to_have_count(1)
        tile.locator("button").click()
        expect(fresh.locator(".wiro-result-caption")).to_contain_text("from an earlier session")
        fresh.wait_for_function("() => [...document.querySelectorAll('.wiro-output img')]"
                                ".some(e => e.complete && e.naturalWidth > 0)")
        fresh.locator(".wiro-reuse").first.click()
        expect(fresh.locator(".wiro-seed input").first).to_have_value("4321")
        expect(fresh.locator(".wiro-prompt textarea").first).to_have_value("a run to remember")
        screenshot(fresh, "lab-history-fresh-kernel")
    finally:
        context.close()
        shutdown_kernels(lab_server, name)


def test_an_oversized_pick_is_refused_before_it_is_sent(lab_page: Any,
                                                        tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = lab_page
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:  # 103 MB, sparse: only its size matters here
        handle.truncate(108_000_000)
    small = tmp_path / "small.png"
    Image.new("RGB", (40, 30), (200, 40, 40)).save(small)
    with page.expect_file_chooser() as chooser:
        page.locator(".wiro-upload").first.click()
    started = time.monotonic()
    chooser.value.set_files([str(huge), str(small)])
    expect(page.locator(".wiro-refs .wiro-msg")).to_contain_text(
        "huge.png is 103.0 MB; the limit is 100.0 MB per image.")
    took = time.monotonic() - started
    tiles = page.locator(".wiro-references .wiro-ref")
    expect(tiles).to_have_count(1)  # the small one came through
    expect(tiles.first).to_contain_text("small.png")
    assert took < 5.0, took  # not read, not sent: the 103 MB never left the browser


def test_download_and_full_screen(lab_page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = lab_page
    set_steps(page, 6)
    type_prompt(page, "a download")
    page.locator(".wiro-generate").first.click()
    expect(page.locator(".wiro-status-done")).to_be_visible(timeout=60_000)
    with page.expect_download() as download:
        page.locator(".wiro-download").first.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".png"
    assert Image.open(saved).size == (1024, 1024)  # the full image, not the preview

    page.locator(".wiro-fullscreen").first.click()
    panel = page.locator(".wiro-panel").first
    expect(panel).to_have_class(re.compile(r"\bwiro-fullwindow\b"))
    box = panel.bounding_box()
    size = page.viewport_size
    assert box is not None
    assert size is not None
    assert (box["x"], box["y"]) == (0, 0)
    assert (round(box["width"]), round(box["height"])) == (size["width"], size["height"])
    screenshot(page, "lab-full-screen")
    page.locator(".wiro-fullscreen").first.click()
    page.wait_for_function("() => !document.querySelector('.wiro-panel')"
                           ".classList.contains('wiro-fullwindow')")
