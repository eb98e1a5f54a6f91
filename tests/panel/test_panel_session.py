"""A long session with the panel: history that survives a new panel, save and download,
messages that go stale, the ETA, and memory that does not grow with every run."""

from __future__ import annotations

import base64
import gc
import io
import re
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from wiro_widgets.metadata import read_params
from wiro_widgets.panel import FluxPanel
from wiro_widgets.panel import actions as panel_actions
from wiro_widgets.panel.previews import PREVIEW_BUDGET, preview_bytes


def new_panel(client: Any, tmp_path: Path, prompt: str = "a quiet harbour") -> FluxPanel:
    panel = FluxPanel(client, save_dir=tmp_path / "saved")
    assert panel.wait_history(30)
    assert panel.form.prompt is not None
    panel.form.prompt.value = prompt
    panel.form.controls["steps"].value = 8
    panel.form.set_size(256, 192)
    return panel


def generated(panel: FluxPanel) -> None:
    assert panel.generate(), panel.status.alert.value
    assert panel.wait(60)
    assert panel.status.state == "done", panel.status.alert.value


def test_history_survives_a_new_panel(sandbox: Any, tmp_path: Path,
                                      make_image: Callable[..., bytes]) -> None:
    first = new_panel(sandbox.client(), tmp_path)
    cat = make_image(40, 30, (200, 120, 10))
    first.references.add_image("cat.png", cat)
    first.form.seed.value = 31  # type: ignore[union-attr]
    generated(first)
    first.references.clear()
    first.form.seed.value = 32  # type: ignore[union-attr]
    generated(first)

    # A cell re-run, a kernel restart: a new panel, a new client, the same ledger and cache.
    second = new_panel(sandbox.client(), tmp_path, prompt="something new")
    entries = second.gallery.entries
    assert [e.result.seed for e in entries] == [31, 32]  # oldest first, numbered #1, #2
    assert all(e.earlier for e in entries)
    assert "2 runs (2 from earlier sessions)" in second.gallery.history_title.value
    assert len(second.gallery.strip.children) == 2
    assert second.history == []  # this panel's own runs only
    assert second.gallery.selected is None  # nothing is pushed into the viewer

    second.gallery.strip.children[1].children[1].click()  # the older run: seed 31
    assert second.gallery.selected is not None
    assert second.gallery.selected.seed == 31
    assert "from an earlier session" in second.gallery.caption.value
    second.gallery.reuse.click()
    assert second.form.values()["seed"] == 31
    assert second.form.values()["prompt"] == "a quiet harbour"
    # Its reference image comes back from the uploads folder, by its SHA-256.
    assert [r.name for r in second.references.items] == ["cat.png"]
    assert second.references.items[0].read_bytes() == cat
    assert "with 1 reference image" in second.status.alert.value

    second.gallery.use_reference.click()
    assert len(second.references) == 2
    assert (second.references.items[1].width, second.references.items[1].height) == (256, 192)
    saved = second.save_result(second.gallery.selected)
    assert saved
    assert read_params(saved[0])["seed"] == 31


def test_save_twice_writes_once(sandbox: Any, tmp_path: Path) -> None:
    panel = new_panel(sandbox.client(), tmp_path)
    generated(panel)
    panel.gallery.save.click()
    files = sorted((tmp_path / "saved").iterdir())
    assert files
    panel.gallery.save.click()
    assert sorted((tmp_path / "saved").iterdir()) == files
    assert "Already saved" in panel.status.alert.value
    for path in files:  # deleted by hand: saved again
        path.unlink()
    panel.gallery.save.click()
    assert len(list((tmp_path / "saved").iterdir())) == len(files)


def test_download_sends_the_full_image_with_its_recipe(sandbox: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(panel_actions, "DOWNLOAD_SECONDS", 0.5)
    panel = new_panel(sandbox.client(), tmp_path)
    panel.form.seed.value = 77  # type: ignore[union-attr]
    generated(panel)
    panel.gallery.download.click()
    link = panel.gallery.download_link.value
    match = re.search(r'download="([^"]+)" href="data:image/png;base64,([^"]+)"', link)
    assert match, link
    name, data = match[1], base64.b64decode(match[2])
    assert name.endswith(".png")
    assert "seed77" in name
    assert Image.open(io.BytesIO(data)).size == (256, 192)  # the full image, not a preview
    (tmp_path / name).write_bytes(data)
    assert read_params(tmp_path / name)["seed"] == 77
    assert "Downloading" in panel.status.alert.value
    deadline = time.monotonic() + 10
    while "base64" in panel.gallery.download_link.value:  # the bytes do not stay around
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert name in panel.gallery.download_link.value


def test_stale_messages_go_once_fixed(sandbox: Any, tmp_path: Path) -> None:
    panel = new_panel(sandbox.client(), tmp_path, prompt="")
    assert panel.generate() is False
    assert "Not sent" in panel.status.alert.value
    assert panel.form.prompt is not None
    panel.form.prompt.value = "now there is a prompt"
    assert panel.status.alert.value == ""
    assert panel.status.alert_box.layout.display == "none"
    # Other messages stay until something replaces them.
    panel.status.info("Saved to x")
    panel.form.prompt.value = "another prompt"
    assert "Saved to x" in panel.status.alert.value


def test_moderation_is_said_once_in_the_panel(sandbox: Any, tmp_path: Path) -> None:
    panel = new_panel(sandbox.client(), tmp_path, prompt="nsfw test")
    panel.form.controls["safety_tolerance"].value = 1
    assert panel.generate()
    assert panel.wait(60)
    text = re.sub("<[^>]+>", " ", panel.status.alert.value)
    # The client's "refused by moderation:" and the server's "Request Moderated:" are not
    # repeated after the panel's own words.
    assert text.strip().startswith("Refused by moderation: the prompt"), text
    assert text.lower().count("refused by moderation") == 1, text
    assert "request moderated" not in text.lower(), text


def test_the_eta_shows_once_steps_move(make_sandbox: Callable[..., Any],
                                       tmp_path: Path) -> None:
    sb = make_sandbox(speed=1.0)  # 40 steps: about 3 s of generating
    panel = new_panel(sb.client(), tmp_path)
    panel.form.controls["steps"].value = 40
    seen: list[str] = []
    panel.status.elapsed.observe(lambda change: seen.append(change["new"]), names="value")
    generated(panel)
    assert any(re.search(r"~\d+ s left", text) for text in seen), seen
    assert "left" not in panel.status.elapsed.value  # over: no ETA


def test_previews_stay_under_the_budget() -> None:
    # Photo-like detail at every scale: the hardest case for a JPEG.
    noise = Image.effect_noise((1024, 1024), 80).convert("RGB")
    data = preview_bytes(noise)
    assert len(data) <= PREVIEW_BUDGET
    assert len(base64.b64encode(data)) < 150_000  # what a saved notebook holds
    assert max(Image.open(io.BytesIO(data)).size) <= 768


def live_images() -> int:
    """PIL images alive in this process (their pixels live outside Python's allocator)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Image.Image))


def test_memory_per_run_stays_small(sandbox: Any, tmp_path: Path) -> None:
    panel = new_panel(sandbox.client(), tmp_path)
    panel.form.set_size(1024, 1024)
    for _ in range(3):  # warm-up: imports, pools, caches
        generated(panel)
    images = live_images()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        runs = 8
        for _ in range(runs):
            generated(panel)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Decoded, a 1024x1024 image is 3 MB: no run may keep one (make bench measures the RSS).
    assert live_images() <= images
    assert grown / runs < 300_000, f"{grown / runs / 1e3:.0f} kB per run"
    assert panel.images[0].size == (1024, 1024)  # still there, from the cache, on demand
