"""FluxPanel in a real browser, in JupyterLab 4 and Notebook 7 (Chromium via Playwright).

Each test opens a fresh notebook whose only cell is ``FluxPanel()``; the kernel inherits the
session sandbox's WIRO_* variables from the Jupyter server.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytestmark = pytest.mark.browser

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "panel.png"
MAX_SCREENSHOT_BYTES = 300_000

PROGRESS_JS = """() => {
  const bar = document.querySelector('.wiro-progress .progress-bar');
  return bar ? parseFloat(bar.style.width || '0') : -1;
}"""
IMAGE_OK_JS = """() => [...document.querySelectorAll('.wiro-output img')]
  .some(e => e.complete && e.naturalWidth > 0)"""


def write_image(path: Path, size: tuple[int, int], color: tuple[int, int, int]) -> Path:
    Image.new("RGB", size, color).save(path)
    return path


def type_prompt(page: Any, text: str) -> None:
    box = page.locator(".wiro-prompt textarea").first
    box.fill(text)
    box.blur()


def test_generate_with_two_references(page: Any, server: Any, browser_sandbox: Any,
                                      tmp_path: Path) -> None:
    from playwright.sync_api import expect

    type_prompt(page, "image 1 and image 2 as a poster of a lighthouse at dusk")
    files = [write_image(tmp_path / "harbour.png", (320, 240), (30, 90, 160)),
             write_image(tmp_path / "sunset.png", (240, 320), (230, 120, 40))]
    with page.expect_file_chooser() as chooser:
        page.locator(".wiro-upload").first.click()
    assert chooser.value.is_multiple()
    chooser.value.set_files([str(f) for f in files])
    tiles = page.locator(".wiro-references .wiro-ref")
    expect(tiles).to_have_count(2)
    expect(tiles.nth(1)).to_contain_text("image 2")
    expect(tiles.nth(1)).to_contain_text("sunset.png")

    before = len(browser_sandbox.tasks)
    page.locator(".wiro-generate").first.click()
    # The bar moves with the steps: caught part-way, then full.
    page.wait_for_function(f"() => {{ const v = ({PROGRESS_JS})(); return v > 10 && v < 95; }}",
                           polling=50)
    expect(page.locator(".wiro-status")).to_contain_text("generating")
    expect(page.locator(".wiro-status-done")).to_be_visible(timeout=60_000)
    assert page.evaluate(PROGRESS_JS) == 100
    page.wait_for_function(IMAGE_OK_JS)
    image = page.locator(".wiro-output img").first
    assert image.get_attribute("src").startswith("blob:")
    assert image.evaluate("e => e.naturalWidth") > 0
    expect(page.locator(".wiro-history .wiro-thumb")).to_have_count(1)
    expect(page.locator(".wiro-badge-sandbox").first).to_be_visible()

    task = browser_sandbox.tasks[before]
    assert [i["filename"] for i in task.inputs] == ["harbour.png", "sunset.png"]
    assert task.params["prompt"].startswith("image 1 and image 2")

    shot = tmp_path / "panel.png"
    page.locator(".wiro-panel").first.screenshot(path=str(shot))
    # The README's screenshot is refreshed on request only, so a test run leaves the tree clean.
    if server.kind == "lab" and os.environ.get("WIRO_UPDATE_SCREENSHOT"):
        publish_screenshot(shot)


def publish_screenshot(shot: Path) -> None:
    """Copy the finished panel to docs/panel.png for the README, kept small."""
    DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
    if shot.stat().st_size <= MAX_SCREENSHOT_BYTES:
        shutil.copyfile(shot, DOCS_SCREENSHOT)
        return
    image = Image.open(shot).convert("RGB")
    # An adaptive palette keeps UI screenshots crisp at a fraction of the size.
    buffer = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG",
                                                                     optimize=True)
    DOCS_SCREENSHOT.write_bytes(buffer.getvalue())


def test_cancel_shows_the_cancelled_state(page: Any, browser_sandbox: Any) -> None:
    from playwright.sync_api import expect

    type_prompt(page, "a long run to cancel")
    before = len(browser_sandbox.tasks)
    page.locator(".wiro-generate").first.click()
    expect(page.locator(".wiro-status-running")).to_be_visible()
    cancel = page.locator(".wiro-cancel").first
    expect(cancel).to_be_enabled()
    expect(page.locator(".wiro-generate").first).to_be_disabled()
    cancel.click()
    expect(page.locator(".wiro-status-cancelled")).to_be_visible(timeout=30_000)
    expect(page.locator(".wiro-alert")).to_contain_text("Cancelled")
    expect(page.locator(".wiro-generate").first).to_be_enabled()
    expect(cancel).to_be_disabled()
    assert len(browser_sandbox.tasks) == before + 1
    assert browser_sandbox.tasks[before].status == "task_cancel"


def test_reuse_settings_from_history(page: Any) -> None:
    from playwright.sync_api import expect

    type_prompt(page, "the first idea")
    seed = page.locator(".wiro-seed input").first
    seed.fill("4321")
    seed.press("Enter")
    page.locator(".wiro-generate").first.click()
    expect(page.locator(".wiro-status-done")).to_be_visible(timeout=60_000)

    type_prompt(page, "a different idea")
    seed.fill("99")
    seed.press("Enter")
    page.locator(".wiro-history .wiro-thumb button").first.click()
    expect(page.locator(".wiro-result-caption")).to_contain_text("4321")
    page.locator(".wiro-reuse").first.click()
    expect(page.locator(".wiro-prompt textarea").first).to_have_value("the first idea")
    expect(seed).to_have_value("4321")
    expect(page.locator(".wiro-alert")).to_contain_text("Loaded the settings of seed 4321")
