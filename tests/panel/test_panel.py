"""FluxPanel without a kernel, against a real sandbox: generate, cancel, history, secrets."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest
from PIL import Image
from shared_helpers import wait_for, widgets_of

from wiro_widgets.metadata import read_params
from wiro_widgets.panel import FluxPanel
from wiro_widgets.panel.batch import MAX_CONCURRENT
from wiro_widgets.panel.gallery import PREVIEW_SIDE, THUMB_SIDE

MODEL = "black-forest-labs/flux-2-flex"
Entry = Callable[..., dict[str, Any]]



def saved_state(panel: FluxPanel) -> dict[str, Any]:
    """What a notebook saved with widget state would hold: each model's synced state."""
    return {widget.model_id: widget.get_state() for widget in widgets_of(panel)}


def generated(panel: FluxPanel, timeout: float = 60) -> None:
    assert panel.generate(), panel.status.alert.value
    assert panel.wait(timeout)
    assert panel.status.state == "done", (panel.status.stage.value, panel.status.alert.value)



@pytest.fixture
def panel(sandbox: Any, tmp_path: Path) -> FluxPanel:
    made = FluxPanel(sandbox.client(), save_dir=tmp_path / "saved")
    assert made.form.prompt is not None
    made.form.prompt.value = "a red fox in fresh snow"
    made.form.controls["steps"].value = 12
    made.form.set_size(512, 384)
    return made


def test_generate_shows_images_and_keeps_history(panel: FluxPanel, sandbox: Any) -> None:
    updates: list[str] = []
    panel.status.stage.observe(lambda c: updates.append(c["new"]), names="value")
    progress: list[float] = []
    panel.status.progress.observe(lambda c: progress.append(c["new"]), names="value")
    generated(panel)

    assert len(panel.images) == 1
    assert isinstance(panel.images[0], Image.Image)
    assert panel.images[0].size == (512, 384)
    assert panel.result is not None
    assert panel.history == [panel.result]
    assert panel.result.params["steps"] == 12
    assert panel.result.prompt == "a red fox in fresh snow"
    task = next(t for t in sandbox.tasks if t.id == panel.result.task_id)
    assert task.params["prompt"] == "a red fox in fresh snow"
    assert task.status == \
        "task_postprocess_end"
    # Live status: stages, step progress that only moves forward, end style, task id.
    assert any("generating" in u for u in updates)
    assert any("/12" in u for u in updates)
    assert progress == sorted(progress)
    assert progress[-1] == 1.0
    assert any(0.1 < p < 0.95 for p in progress)
    assert "wiro-status-done" in panel.status.stage._dom_classes
    assert panel.status.progress.bar_style == "success"
    assert panel.result.task_id in panel.status.task.value
    assert panel.status.elapsed.value.endswith(" s")
    # Results inline: one preview, seed and parameters in the caption.
    viewer = panel.gallery.viewer
    assert "wiro-output" in viewer._dom_classes
    assert len(viewer.children) == 1
    assert isinstance(viewer.children[0], w.Image)
    caption = panel.gallery.caption.value
    assert f"seed <code>{panel.result.seed}</code>" in caption
    assert "steps <code>12</code>" in caption
    assert f"seed used: {panel.result.seed}" in panel.form.seed_used.value
    # Buttons restored.
    assert not panel.generate_button.disabled
    assert panel.cancel_button.disabled

    panel.form.controls["guidance"].value = 7.0
    generated(panel)
    assert len(panel.history) == 2
    assert panel.history[-1] is panel.result
    assert panel.result.params["guidance"] == 7.0
    strip = panel.gallery.strip
    assert "wiro-history" in strip._dom_classes
    assert len(strip.children) == 2
    assert "#2" in strip.children[0].children[1].description  # newest first
    assert repr(panel) == f"FluxPanel(model='{MODEL}', runs=2)"


def test_second_generate_is_refused_while_running(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox()
    panel = FluxPanel(sb.client())
    assert panel.form.prompt is not None
    panel.form.prompt.value = "one at a time"
    panel.form.controls["steps"].value = 10
    with sb.gate("task_queue") as queued:  # the first run cannot end during the checks
        assert panel.generate()
        assert panel.running
        assert panel.generate_button.disabled
        assert not panel.cancel_button.disabled
        assert panel.generate() is False
        assert "already in progress" in panel.status.alert.value
        queued.wait_reached()
        assert panel.running
    assert panel.wait(60)
    assert panel.status.state == "done"
    assert len(sb.tasks) == 1


@pytest.mark.parametrize("stage", ["queued", "running"])
def test_cancel(make_sandbox: Callable[..., Any], stage: str) -> None:
    sb = make_sandbox()
    panel = FluxPanel(sb.client())
    assert panel.form.prompt is not None
    panel.form.prompt.value = f"cancel me while {stage}"
    with sb.gate("task_queue" if stage == "queued" else "task_output") as gate:
        assert panel.generate()
        gate.wait_reached()
        if stage == "running":
            wait_for(lambda: "generating" in panel.status.stage.value)
        assert panel.cancel()
        assert "cancelling" in panel.status.stage.value
        assert panel.wait(30)
    assert panel.status.state == "cancelled"
    assert "wiro-status-cancelled" in panel.status.stage._dom_classes
    assert panel.status.progress.bar_style == "warning"
    assert "Cancelled" in panel.status.alert.value
    (task,) = sb.tasks
    assert task.status == "task_cancel"
    statuses = [s for s, _t in task.history]
    if stage == "queued":
        assert "task_start" not in statuses
    else:
        assert "task_output" in statuses
    assert panel.history == []
    assert panel.images == []
    assert not panel.generate_button.disabled
    assert panel.cancel_button.disabled
    assert panel.cancel() is False


def test_cancel_answers_at_once_even_while_the_worker_waits(
        make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox()
    panel = FluxPanel(sb.client())
    assert panel.form.prompt is not None
    panel.form.prompt.value = "slow"
    with sb.gate("task_queue"):  # the worker is still waiting on the task
        panel.generate()
        started = time.monotonic()
        panel.cancel()
        assert time.monotonic() - started < 0.5  # the handler only sets an event
        assert panel.wait(30)
    assert panel.status.state == "cancelled"


def test_inline_validation_and_errors_in_plain_words(panel: FluxPanel, sandbox: Any) -> None:
    before = len(sandbox.tasks)
    assert panel.form.prompt is not None
    assert panel.form.seed is not None
    panel.form.prompt.value = "   "
    panel.form.seed.value = -1
    assert panel.generate() is False
    assert "Prompt must not be empty" in panel.form.messages["prompt"].value
    assert "Seed must be an integer from 0" in panel.form.messages["seed"].value
    assert "wiro-invalid" in panel.form.seed._dom_classes
    assert "Not sent" in panel.status.alert.value
    panel.form.match_reference.value = True
    assert "needs a reference image" in panel.form.messages["width"].value
    assert len(sandbox.tasks) == before

    # A failure from the server is shown escaped, and the inputs stay for a retry.
    panel.form.match_reference.value = False
    panel.form.seed.value = 5
    panel.form.prompt.value = "<b>fail-me</b> please"
    assert panel.generate()
    assert panel.wait(60)
    assert panel.status.state == "failed"
    assert panel.status.progress.bar_style == "danger"
    alert = panel.status.alert.value
    # The server's text is escaped (its quotes included), never injected as HTML.
    assert "The run failed" in alert
    assert "Generation failed" in alert
    assert "&#x27;fail-me&#x27;" in alert
    assert "'fail-me'" not in alert
    assert panel.form.prompt.value == "<b>fail-me</b> please"
    assert panel.form.seed.value == 5
    assert panel.history == []

    panel.form.prompt.value = "nsfw test"
    panel.form.controls["safety_tolerance"].value = 1
    assert panel.generate()
    assert panel.wait(60)
    assert "Refused by moderation" in panel.status.alert.value


def test_client_validation_error_highlights_the_field(panel: FluxPanel, sandbox: Any) -> None:
    # A reference the client cannot read is refused before anything is sent.
    from wiro_widgets.references import Reference

    panel.references.add(Reference(name="ghost.png", sha256="0" * 64, size=10,
                                   content_type="image/png", data=b"not really a png"))
    before = len(sandbox.tasks)
    assert panel.generate()
    assert panel.wait(30)
    assert panel.status.state == "failed"
    assert "Not sent" in panel.status.alert.value
    assert panel.references.message.layout.display == ""
    assert len(sandbox.tasks) == before


def test_references_reach_the_sandbox_in_order(panel: FluxPanel, sandbox: Any,
                                               make_image: Callable[..., bytes],
                                               entry: Entry) -> None:
    one, two = make_image(320, 240, (250, 0, 0)), make_image(60, 30, (0, 0, 250), "JPEG")
    panel.references.uploader.set_state({"value": [entry("one.png", one)]})
    panel.references.uploader.set_state({"value": [entry("two.jpg", two, "image/jpeg")]})
    panel.references.add_url(sandbox.base_url.rsplit("/v1", 1)[0] + "/missing.png")
    panel.form.prompt.value = "image 1 next to image 2"  # type: ignore[union-attr]
    panel.form.match_reference.value = True
    panel.references.remove(2)
    generated(panel)
    task = next(t for t in sandbox.tasks if t.id == panel.result.task_id)  # type: ignore[union-attr]
    assert [i["filename"] for i in task.inputs] == ["one.png", "two.jpg"]
    assert [i["size"] for i in task.inputs] == [len(one), len(two)]
    assert task.params["width"] == 0
    assert panel.images[0].size == (320, 240)  # matched the first reference image


def test_reuse_settings_use_as_reference_and_save(panel: FluxPanel, tmp_path: Path,
                                                  make_image: Callable[..., bytes]) -> None:
    panel.references.add_image("cat.png", make_image())
    panel.form.seed.value = 4242  # type: ignore[union-attr]
    generated(panel)
    first = panel.result
    assert first is not None

    panel.form.prompt.value = "something else"  # type: ignore[union-attr]
    panel.form.controls["steps"].value = 3
    panel.form.set_size(1024, 1024)
    panel.references.clear()
    panel.form.seed.value = 1  # type: ignore[union-attr]
    generated(panel)

    panel.gallery.strip.children[1].children[1].click()  # run #1, second tile (newest first)
    assert panel.gallery.selected is first
    assert "wiro-selected" in panel.gallery.strip.children[1]._dom_classes
    panel.gallery.reuse.click()
    values = panel.form.values()
    assert values["prompt"] == "a red fox in fresh snow"
    assert values["steps"] == 12
    assert (values["width"], values["height"], values["seed"]) == (512, 384, 4242)
    assert [r.name for r in panel.references.items] == ["cat.png"]
    assert "Loaded the settings of seed 4242" in panel.status.alert.value

    panel.gallery.strip.children[0].children[1].click()  # run #2 had no references
    panel.gallery.reuse.click()
    assert [r.name for r in panel.references.items] == ["cat.png"]
    assert "stay, though that run had none" in panel.status.alert.value
    assert panel.form.values()["seed"] == 1
    panel.gallery.strip.children[1].children[1].click()

    panel.gallery.use_reference.click()
    assert [r.name for r in panel.references.items] == ["cat.png", "run1-0.png"]
    added = panel.references.items[1]
    assert (added.width, added.height) == first.images[0].size  # full resolution, not preview

    panel.gallery.save.click()
    saved = sorted((tmp_path / "saved").iterdir())
    images = [p for p in saved if p.suffix in (".png", ".jpg", ".jpeg")]
    assert images
    assert "Saved to" in panel.status.alert.value
    assert read_params(images[0])["seed"] == 4242


def test_copy_as_code_runs_the_same_request(panel: FluxPanel, sandbox: Any, tmp_path: Path,
                                            make_image: Callable[..., bytes],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cat = make_image(48, 48, (10, 200, 10))
    panel.references.add_image("cat.png", cat)
    panel.form.prompt.value = 'image 1 says "hi"\nsecond line'  # type: ignore[union-attr]
    panel.form.seed.value = 777  # type: ignore[union-attr]
    panel.code_button.click()
    code = panel.code.value
    assert "wiro-code" in panel.code._dom_classes
    assert panel.code.layout.display == ""
    assert "seed=777," in code
    # The upload is kept as a file in the uploads folder, and the code names that file.
    stored = f"wiro-uploads/{panel.references.items[0].sha256[:12]}-cat.png"
    assert f'"{stored}",  # image 1, {len(cat)} bytes' in code
    assert (tmp_path / stored).read_bytes() == cat
    panel.code.value = "edited"  # read-only: edits are put back
    assert panel.code.value == code

    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"client": sandbox.client()}
    exec(compile(code, "<panel code>", "exec"), namespace)
    result = namespace["result"]
    assert result.seed == 777
    assert result.prompt == 'image 1 says "hi"\nsecond line'
    generated(panel)
    assert panel.result is not None
    assert result.params["steps"] == panel.result.params["steps"] == 12
    assert result.images[0].tobytes() == panel.images[0].tobytes()  # same request, same image

    panel.form.controls["steps"].value = 20  # the box follows the form while shown
    assert "steps=20," in panel.code.value


def test_presentation_view(panel: FluxPanel) -> None:
    panel.present()
    assert "Nothing to present yet" in panel.presenter.caption.value
    panel.present(False)
    panel.form.prompt.value = "a <lighthouse> at dusk"  # type: ignore[union-attr]
    generated(panel)
    shown = panel.present()
    assert shown is panel
    assert panel.presenter.widget.layout.display == ""
    assert panel._body.layout.display == "none"
    assert "a &lt;lighthouse&gt; at dusk" in panel.presenter.caption.value
    assert "SANDBOX" in panel.presenter.caption.value
    assert bytes(panel.presenter.image.value[:3]) == b"\xff\xd8\xff"
    panel.present_toggle.value = False
    assert panel.presenter.widget.layout.display == "none"
    assert panel._body.layout.display == ""


def test_sandbox_badge(panel: FluxPanel) -> None:
    assert "SANDBOX" in panel.badge.value
    assert "LIVE" not in panel.badge.value


def test_live_badge_for_a_client_that_is_not_a_sandbox(sandbox: Any) -> None:
    class Live:
        """Stands in for a client pointed at api.wiro.ai; the panel only reads is_sandbox."""

        is_sandbox = False

    badge = FluxPanel(Live()).badge.value
    assert "LIVE" in badge
    assert "SANDBOX" not in badge


def test_no_credentials_still_renders_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    panel = FluxPanel()
    assert panel.generate_button.disabled
    alert = panel.status.alert.value
    assert "No Wiro client" in alert
    assert "WIRO_API_KEY" in alert
    assert "Sandbox" in alert
    assert "NOT CONNECTED" in panel.badge.value
    assert panel.generate() is False
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_no_secret_anywhere_and_only_small_images_in_state(
        panel: FluxPanel, sandbox: Any, make_image: Callable[..., bytes], entry: Entry) -> None:
    big = make_image(1600, 1200, (90, 90, 200))
    panel.references.uploader.set_state({"value": [entry("big.png", big)]})
    panel.form.set_size(1536, 1024)
    panel.form.prompt.value = "fail-me first"  # type: ignore[union-attr]
    generated_ok = panel.generate() and panel.wait(60)
    assert generated_ok
    assert panel.status.state == "failed"
    panel.form.prompt.value = "a big one"  # type: ignore[union-attr]
    generated(panel)
    panel.code_button.click()
    panel.present()

    state = saved_state(panel)
    text = json.dumps(state, default=lambda v: f"<{len(bytes(v))} bytes>")
    for secret in (sandbox.api_key, sandbox.api_secret):
        assert secret
        assert secret not in text
    for text_out in (repr(panel), str(panel._repr_mimebundle_()), panel.status.alert.value):
        assert sandbox.api_key not in text_out
        assert sandbox.api_secret not in text_out

    full = Path(panel.result.outputs[0].path).read_bytes()  # type: ignore[union-attr]
    assert panel.images[0].size == (1536, 1024)
    blobs = [bytes(v["value"]) for v in state.values()
             if isinstance(v.get("value"), (bytes, memoryview))]
    assert blobs
    assert all(b[:3] == b"\xff\xd8\xff" for b in blobs)
    assert full not in blobs
    assert big not in blobs
    sizes = sorted(Image.open(io.BytesIO(b)).size for b in blobs)
    assert max(max(s) for s in sizes) <= 1280  # presentation image is the largest
    thumbs = [w_ for w_ in widgets_of(panel.gallery.strip) if isinstance(w_, w.Image)]
    assert all(max(Image.open(io.BytesIO(bytes(t.value))).size) <= THUMB_SIDE
               for t in thumbs)
    preview = panel.gallery.viewer.children[0]
    assert max(Image.open(io.BytesIO(bytes(preview.value))).size) == PREVIEW_SIDE
    assert sum(len(b) for b in blobs) < 600_000


def test_worker_touches_widgets_only_through_traits(panel: FluxPanel) -> None:
    # The worker thread must never display or print: capture both while it runs.
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        generated(panel)
    assert captured.stdout == ""
    assert captured.stderr == ""
    assert captured.outputs == []
    wait_for(lambda: not any(t.name.startswith("wiro-generate") for t in threading.enumerate()))
    # The tasks ran on the kernel's few shared workers, which stay (idle) for the next run.
    workers = [t for t in threading.enumerate() if t.name.startswith("wiro-worker")]
    assert 1 <= len(workers) <= MAX_CONCURRENT
