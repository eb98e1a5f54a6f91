"""The panel's pure parts: status bar, error wording, generated code, hook classes."""

from __future__ import annotations

import time

import ipywidgets as w
import pytest

from wiro_widgets.errors import (
    AuthError,
    ConfigError,
    Moderated,
    TaskTimeout,
    ValidationError,
)
from wiro_widgets.panel import FluxPanel
from wiro_widgets.panel.codegen import request_code
from wiro_widgets.panel.messages import explain
from wiro_widgets.panel.request import GenerationRequest
from wiro_widgets.panel.status import StatusBar
from wiro_widgets.references import Reference
from wiro_widgets.results import TaskUpdate

HOOKS = {
    "wiro-panel": FluxPanel, "wiro-prompt": w.Textarea, "wiro-guidance": w.FloatSlider,
    # Sizes are number boxes: a typed 1000 reaches Python, which snaps it and says so.
    "wiro-steps": w.IntSlider, "wiro-width": w.IntText, "wiro-height": w.IntText,
    "wiro-seed": w.IntText, "wiro-generate": w.Button, "wiro-cancel": w.Button,
    "wiro-status": w.HTML, "wiro-progress": w.FloatProgress, "wiro-output": w.HBox,
    "wiro-references": w.HBox, "wiro-history": w.HBox, "wiro-count": w.Dropdown,
    "wiro-check-again": w.Button, "wiro-fullscreen": w.ToggleButton,
    "wiro-download": w.Button, "wiro-code-copy": w.Button, "wiro-code-close": w.Button,
}


def all_widgets(root: w.Widget) -> list[w.Widget]:
    """Every widget under ``root`` once (the presentation view shows some twice: the prompt,
    Generate and Cancel are the same widgets in both views)."""
    found: dict[str, w.Widget] = {}
    stack = [root]
    while stack:
        widget = stack.pop()
        if widget.model_id not in found:
            found[widget.model_id] = widget
            stack.extend(getattr(widget, "children", ()))
    return list(found.values())


def test_every_hook_class_sits_on_one_widget_of_the_right_kind() -> None:
    class Offline:
        is_sandbox = True

    panel = FluxPanel(Offline())
    widgets = all_widgets(panel)
    for hook, kind in HOOKS.items():
        holders = [x for x in widgets if hook in x._dom_classes]
        assert len(holders) == 1, hook
        assert isinstance(holders[0], kind), hook


def update(status: str, step: int | None = None, total: int | None = None,
           label: str = "") -> TaskUpdate:
    return TaskUpdate(status=status, label=label or status, elapsed=1.5, task_id="77",
                      step=step, total_steps=total)


def test_status_bar_moves_forward_and_keeps_a_cancelling_note() -> None:
    bar = StatusBar()
    bar.begin()
    bar.update(update("task_queue", label="queued"))
    queued = bar.progress.value
    bar.update(update("task_output", 25, 50, "generating 25/50"))
    assert "generating 25/50" in bar.stage.value
    assert 0.4 < bar.progress.value < 0.6
    assert queued < bar.progress.value
    assert bar.task.value == "task 77"
    assert bar.elapsed.value == "1.5 s"
    bar.update(update("task_start", label="starting"))  # a late poll: no step back
    assert 0.4 < bar.progress.value < 0.6
    bar.note("cancelling…")
    bar.update(update("task_output", 30, 50, "generating 30/50"))
    assert "cancelling" in bar.stage.value
    bar.finish("cancelled", "cancelled")
    assert bar.stage._dom_classes.count("wiro-status-cancelled") == 1
    assert "wiro-status-running" not in bar.stage._dom_classes
    bar.update(update("task_output", 40, 50))  # after the end nothing changes
    assert "cancelled" in bar.stage.value
    bar.error("<script>alert(1)</script>", "hint & more")
    assert "<script>" not in bar.alert.value
    assert "&lt;script&gt;" in bar.alert.value
    assert "hint &amp; more" in bar.alert.value


def test_errors_in_plain_words_with_a_fix() -> None:
    assert explain(ConfigError("no key"))[1].startswith("Set WIRO_API_KEY")
    assert "refused the credentials" in explain(AuthError("bad", code=99))[0]
    assert "moderation" in explain(Moderated("Request Moderated: x"))[0]
    assert "still running" in explain(TaskTimeout("slow", detached=True, token="t"))[1]
    assert explain(ValidationError("steps", 80, "must be from 1 to 50"))[0] == \
        "Not sent: steps=80: must be from 1 to 50"
    assert "Unexpected error (KeyError)" in explain(KeyError("x"))[0]


def test_code_for_urls_and_tricky_prompts() -> None:
    ref = Reference(name="a.png", sha256="ab" * 32, size=1234, content_type="image/png",
                    data=b"x")
    request = GenerationRequest("black-forest-labs/flux-2-flex",
                                {"prompt": 'say "hi"\n\tthen \\ leave', "seed": 3,
                                 "guidance": 4.499999999},
                                (ref, Reference.from_url("https://example.com/b.jpg")))
    code = request_code(request)
    assert '"a.png",  # image 1, sha256 abababababab, 1,234 bytes' in code
    assert '"https://example.com/b.jpg",  # image 2' in code
    assert "guidance=4.5," in code
    body = code[code.index("client.run("):]
    call = compile(body.replace("result.images[0]", ""), "<code>", "exec")
    seen: dict[str, object] = {}

    class Recorder:
        def run(self, model: str, **params: object) -> None:
            seen.update(params, model=model)

    exec(call, {"client": Recorder()})
    assert seen["prompt"] == 'say "hi"\n\tthen \\ leave'
    assert seen["input_images"] == ["a.png", "https://example.com/b.jpg"]
    assert seen["seed"] == 3


def test_moderation_is_said_once() -> None:
    for text in ("Request Moderated: the prompt was flagged",
                 "refused by moderation: Request Moderated: the prompt was flagged"):
        message, _hint = explain(Moderated(text))
        assert message == "Refused by moderation: the prompt was flagged"


def test_unknown_outcomes_offer_check_again_never_generate_again() -> None:
    from wiro_widgets.errors import NetworkError, RunOutcomeUnknown

    for err in (RunOutcomeUnknown("the Run's answer was lost"),
                NetworkError("reset", task_id="42"), NetworkError("reset", task_may_exist=True),
                TaskTimeout("gone", detached=True, token="t")):
        message, hint = explain(err)
        assert "Check again" in hint, err
        assert "Generate again" not in message + hint
        assert "press Generate" not in (message + hint).replace("pressing Generate", "")


def test_eta_from_the_steps_done_per_second() -> None:
    from wiro_widgets.panel.status import Eta

    eta = Eta()
    assert eta.remaining(now=0.0) is None
    eta.observe(0, update("task_output", 10, 50), now=10.0)
    assert eta.remaining(now=10.0) is None  # one point is no rate
    eta.observe(0, update("task_output", 20, 50), now=12.0)  # 5 steps/s, 30 to go
    assert eta.remaining(now=12.0) == 6.0
    assert eta.remaining(now=14.0) == 4.0
    eta.observe(1, update("task_output", 2, 50), now=11.0)
    eta.observe(1, update("task_output", 12, 50), now=12.0)  # 10 steps/s, 38 to go
    assert eta.remaining(now=12.0) == 6.0  # the slower task sets it
    eta.forget(0)
    assert eta.remaining(now=12.0) == pytest.approx(3.8)
    bar = StatusBar()
    bar.begin()
    now = time.monotonic()
    bar.eta.observe(0, update("task_output", 10, 50), now=now - 2.0)
    bar.eta.observe(0, update("task_output", 20, 50), now=now)
    bar.tick(12.0)
    assert bar.elapsed.value in ("12.0 s · ~6 s left", "12.0 s · ~5 s left")
    bar.finish("done", "done")
    bar.tick(13.0)
    assert bar.elapsed.value == "13.0 s"  # no ETA once it is over


def test_shim_script_is_one_escaped_attribute() -> None:
    from wiro_widgets.panel.shim import script_html

    html = script_html(max_bytes=123)
    assert html.startswith('<img class="wiro-shim"')
    assert html.count('"') == 10  # every quote inside the script is escaped
    assert "var MAX = 123;" in html
    assert "wiro-generate" in html
    assert "requestFullscreen" in html


def test_code_box_stamps_each_show_and_says_where_the_code_went() -> None:
    from wiro_widgets.panel.codebox import CodeBox

    box = CodeBox()
    assert not box.shown
    box.set("result = client.run(...)")
    box.show()
    first = box.note.value
    assert 'data-stamp="1"' in first
    box.show()  # the browser copies once the stamp changed: the code is current then
    assert 'data-stamp="2"' in box.note.value
    box.copied(True)
    assert "Copied" in box.note.value
    assert 'data-stamp="2"' in box.note.value
    box.copied(False)
    assert "copy it (Ctrl+C)" in box.note.value
    box.text.value = "edited in the browser"
    assert box.text.value == "result = client.run(...)"
    box.close.click()
    assert not box.shown
