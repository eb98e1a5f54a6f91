"""ModelPanel in a real JupyterLab and Chromium, for models other than flux-2-flex: an editing
model (google/nano-banana-pro) with a reference image uploaded through its
``wiro-param-inputImage`` uploader, and the video model (klingai/kling-v3). Both panels sit
in one notebook, so one kernel and one page cover both (the browser budget is tight)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from checks import screenshot
from lab_servers import open_panel, panel_notebook, shutdown_kernels
from PIL import Image

pytestmark = pytest.mark.browser

EDIT, VIDEO = "google/nano-banana-pro", "klingai/kling-v3"


def two_panels() -> dict[str, Any]:
    notebook = panel_notebook()
    sources = [
        "from wiro_widgets import ModelPanel\n"
        f"edit = ModelPanel({EDIT!r}, history=0)\n"
        "edit",
        f"video = ModelPanel({VIDEO!r}, history=0)\n"
        "video",
        "chooser = ModelPanel(history=0)  # the picker\n"
        "chooser",
    ]
    notebook["cells"] = [{"cell_type": "code", "execution_count": None, "id": f"cell{i}",
                          "metadata": {}, "outputs": [], "source": source}
                         for i, source in enumerate(sources)]
    return notebook


def test_model_panels_for_an_editing_and_a_video_model(
        chromium: Any, lab_server: Any, browser_sandbox: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    name = "model-panels.ipynb"
    (lab_server.root / name).write_text(json.dumps(two_panels()))
    context = chromium.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        open_panel(page, lab_server, name)
        panels = page.locator(".wiro-panel")
        expect(panels).to_have_count(3)
        edit, video, picking = panels.nth(0), panels.nth(1), panels.nth(2)
        expect(edit.locator(".wiro-model")).to_have_text(EDIT)
        expect(video.locator(".wiro-model")).to_have_text(VIDEO)

        # The editing model: a reference image through its own input's uploader.
        picture = tmp_path / "street.png"
        Image.new("RGB", (80, 60), (200, 120, 40)).save(picture)
        with page.expect_file_chooser() as chooser:
            edit.locator(".wiro-param-inputImage .wiro-upload").click()
        chooser.value.set_files([str(picture)])
        expect(edit.locator(".wiro-param-inputImage .wiro-ref")).to_have_count(1)
        prompt = edit.locator(".wiro-param-prompt textarea")
        prompt.fill("image 1 at night, neon signs")
        prompt.blur()
        before = len(browser_sandbox.tasks)
        edit.locator(".wiro-generate").click()
        expect(edit.locator(".wiro-status-done")).to_be_visible(timeout=90_000)
        image = edit.locator(".wiro-output img").first
        expect(image).to_be_visible()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0",
                               arg=image.element_handle())
        task = browser_sandbox.tasks[before]
        assert task.model == EDIT
        assert task.params["prompt"] == "image 1 at night, neon signs"
        assert [i["size"] for i in task.inputs] == [picture.stat().st_size]

        # The video model: its output plays in a <video> element.
        prompt = video.locator(".wiro-param-prompt textarea")
        prompt.fill("a paper boat on a river")
        prompt.blur()
        video.locator(".wiro-generate").click()
        expect(video.locator(".wiro-status-done")).to_be_visible(timeout=120_000)
        player = video.locator("video.wiro-output-video")
        expect(player).to_have_count(1)
        page.wait_for_function("(v) => v.readyState >= 1 && v.duration > 0",
                               arg=player.element_handle())
        assert browser_sandbox.tasks[-1].model == VIDEO
        screenshot(page, "lab-model-panels")

        # The picker: words and Enter search Tool/List; Open builds the form in place.
        search = picking.locator(".wiro-picker-search input")
        search.fill("animations")
        search.press("Enter")
        options = picking.locator(".wiro-picker-list select option")
        expect(options).to_have_count(1)
        expect(options.first).to_contain_text("wiro/3d-text-animations")
        picking.locator(".wiro-picker-open").click()
        expect(picking.locator(".wiro-model")).to_have_text("wiro/3d-text-animations")
        expect(picking.locator(".wiro-param-effectType select")).to_be_visible()
        expect(picking.locator(".wiro-picker")).to_have_count(0)
    finally:
        page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        context.close()
        shutdown_kernels(lab_server, name)
