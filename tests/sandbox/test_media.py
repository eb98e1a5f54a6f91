"""The sandbox's sample video: a real H.264 MP4 that browsers play, labelled SANDBOX, small."""

from __future__ import annotations

import base64
import concurrent.futures
import io
import os
import shutil

import pytest

from wiro_widgets.sandbox.outputs import sandbox_video

av = pytest.importorskip("av")
CHROMIUM = os.environ.get("WIRO_CHROMIUM") or shutil.which("chromium")


def test_the_sample_is_a_small_h264_mp4_labelled_sandbox() -> None:
    data = sandbox_video()
    assert data[4:8] == b"ftyp"
    assert len(data) < 50_000
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"  # what every browser decodes
        frames = [f.to_image() for f in container.decode(stream)]
    assert len(frames) >= 12
    for image in frames[:: max(1, len(frames) // 4)]:
        width = image.width
        red = [image.getpixel((x, 20)) for x in range(width - 110, width - 10)]
        assert sum(1 for r, g, b in red if r > 150 and g < 90 and b < 90) > 20  # the badge


def _play(uri: str) -> tuple[int, object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_content(f'<video id="v" muted src="{uri}"></video>')
            page.wait_for_function("document.getElementById('v').readyState >= 2",
                                   timeout=15_000)
            width, error = page.evaluate(
                "[document.getElementById('v').videoWidth, document.getElementById('v').error]")
        finally:
            browser.close()
    return int(width), error


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_chromium_plays_the_sample() -> None:
    pytest.importorskip("playwright.sync_api")
    uri = "data:video/mp4;base64," + base64.b64encode(sandbox_video()).decode()
    # Its own thread: the sync API refuses to run where an asyncio loop is running (the
    # browser tests' session keeps one on the main thread).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        width, error = pool.submit(_play, uri).result(timeout=60)
    assert width == 320
    assert error is None
