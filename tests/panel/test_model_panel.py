"""ModelPanel against a real sandbox: every catalogue model through the panel (its form from
the live schema, Generate, an output of the right kind shown), file inputs with their own
limits, the picker, an unknown model, no client, log lines, result warnings and a refused
Cancel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest
from shared_helpers import wait_for, widgets_of

from wiro_widgets import FluxPanel, ModelPanel
from wiro_widgets.sandbox.catalogue import load_catalogue
from wiro_widgets.schema import spec_from_tool

CATALOGUE = load_catalogue()
VIDEO_MODELS = {"klingai/kling-v3", "wiro/3d-text-animations"}
LLM_MODELS = {"qwen/qwen3-5-27b"}



def with_class(root: w.Widget, name: str) -> list[w.Widget]:
    return [x for x in widgets_of(root) if name in getattr(x, "_dom_classes", ())]



@pytest.fixture
def open_panel(client: Any, tmp_path: Path) -> Callable[..., ModelPanel]:
    def factory(model: str | None = None, panel_client: Any = client, **kwargs: Any
                ) -> ModelPanel:
        kwargs.setdefault("history", 0)
        return ModelPanel(model, panel_client, save_dir=tmp_path / "saved",
                          uploads_dir=tmp_path / "uploads", **kwargs)
    return factory


def expected_kind(slug: str) -> str:
    return "video" if slug in VIDEO_MODELS else "text" if slug in LLM_MODELS else "image"


@pytest.mark.parametrize("slug", sorted(CATALOGUE))
def test_every_catalogue_model_runs_through_the_panel(
        slug: str, open_panel: Callable[..., ModelPanel]) -> None:
    panel = open_panel(slug)
    spec = spec_from_tool(CATALOGUE[slug])
    assert panel.opened
    assert panel.spec.slug == slug
    # Each input's value widget carries wiro-param-<API id>; file inputs their uploader box.
    for param in spec.params:
        found = with_class(panel, f"wiro-param-{param.name}")
        assert len(found) == 1, param.name
        if param.is_files:
            lists = [panel.references, *panel.inputs.values()]
            (refs,) = [r for r in lists if r.widget is found[0]]
            assert refs.limit == (param.file_limit or 10)
        else:
            assert found[0] is panel.form.controls[param.py_name]
    if panel.form.prompt is not None:
        panel.form.prompt.value = "a lighthouse at dusk"
    for param in spec.params:  # required inputs without a default get a value
        if param.required and param.default is None and not param.is_files \
                and param.py_name != panel.form.hints.prompt:
            panel.form.controls[param.py_name].value = "https://example.com/in.png"
    assert panel.generate(), panel.status.alert.value
    assert panel.wait(60)
    assert panel.status.state == "done", panel.status.alert.value
    result = panel.result
    assert result is not None
    assert result.model == slug
    kind = expected_kind(slug)
    assert [o.kind for o in result.outputs][:1] == [kind]
    shown = panel.gallery.viewer.children
    if kind == "image":
        assert isinstance(shown[0], w.Image)
        assert shown[0].value[:3] == b"\xff\xd8\xff"
        assert not panel.gallery.save.disabled
    elif kind == "video":
        (video,) = [c for c in shown if isinstance(c, w.Video)]
        assert video.value == result.videos[0].read_bytes()
        assert "wiro-output-video" in video._dom_classes
        assert panel.gallery.save.disabled  # image actions are for images
    else:
        (text,) = [c for c in shown if "wiro-output-text" in c._dom_classes]
        assert result.text
        assert result.text[:40] in text.value.replace("&#x27;", "'")


def test_an_editing_model_sends_its_reference_image(
        open_panel: Callable[..., ModelPanel], sandbox: Any, make_image: Callable[..., bytes]
) -> None:
    panel = open_panel("google/nano-banana-pro")
    assert panel.references.limit == spec_from_tool(
        CATALOGUE["google/nano-banana-pro"]).param("inputImage").file_limit
    panel.references.add_image("cat.png", make_image(40, 30))
    panel.form.prompt.value = "image 1 as a watercolour"
    assert panel.generate(), panel.status.alert.value
    assert panel.wait(60)
    assert panel.status.state == "done", panel.status.alert.value
    result = panel.result
    assert result is not None
    (sent,) = result.params["input_image"]
    assert sent["name"] == "cat.png"
    assert "input_image=[" in panel.code.value
    assert sandbox.tasks[-1].params["prompt"] == "image 1 as a watercolour"


def test_a_second_file_input_has_its_own_list_and_travels(
        open_panel: Callable[..., ModelPanel], make_image: Callable[..., bytes]) -> None:
    panel = open_panel("klingai/kling-v3")
    assert set(panel.inputs) == {"input_image2"}
    second = panel.inputs["input_image2"]
    assert "wiro-param-inputImage2" in second.widget._dom_classes
    second.add_image("end.png", make_image(32, 32))
    request = panel.snapshot()
    assert [r.name for r in request.client_params()["input_image2"]] == ["end.png"]
    assert "input_image2=[" in panel.show_code()


def test_each_input_type_gets_its_control(open_panel: Callable[..., ModelPanel]) -> None:
    llm = open_panel("qwen/qwen3-5-27b")
    controls = llm.form.controls
    assert isinstance(controls["do_sample"], w.Checkbox)  # checkbox
    assert isinstance(controls["top_k"], w.IntSlider)  # a number with a range
    assert (controls["top_k"].min, controls["top_k"].max) == (0, 100)
    assert isinstance(controls["max_tokens"], w.IntText)  # a range too wide to slide
    assert isinstance(controls["user_id"], w.Text)  # text
    assert isinstance(controls["prompt"], w.Textarea)  # textarea
    assert controls["top_k"].tooltip  # the help text
    # A number without a default is an empty box: nothing is sent until a value is typed.
    temperature = controls["temperature"]
    assert isinstance(temperature, w.Text)
    assert temperature.value == ""
    values = llm.form.values()
    assert "temperature" not in values
    assert isinstance(values["do_sample"], bool)
    temperature.value = "0.5"
    assert llm.form.values()["temperature"] == 0.5
    temperature.value = "warm"
    problems = llm.form.check()
    assert problems["temperature"][1] == "error"
    assert "Temperature must be a number" in problems["temperature"][0]
    assert not llm.generate()
    assert "Not sent" in llm.status.alert.value
    video = open_panel("wiro/3d-text-animations")
    effect = video.form.controls["effect_type"]  # selectwithcover: a dropdown of its options
    assert isinstance(effect, w.Dropdown)
    assert [v for _label, v in effect.options] == list(
        video.spec.param("effect_type").option_values)
    assert video.count.options[1][0] == "2 videos"  # text-to-video
    kling = open_panel("klingai/kling-v3")
    assert kling.count.options[0][0] == "1 run"  # no category says what it makes
    shot = kling.form.controls["shot_type"]  # a select without a default sends nothing
    assert shot.value == ""
    assert "shot_type" not in kling.form.values()


def test_flux_panel_is_the_preset_of_model_panel(client: Any, tmp_path: Path) -> None:
    panel = FluxPanel(client, history=0, uploads_dir=tmp_path / "u")
    assert isinstance(panel, ModelPanel)
    assert panel.spec.form.sections  # the built-in spec, with its hand-made form
    assert "wiro-param-inputImage" in panel.references.widget._dom_classes
    assert "wiro-prompt" in panel.form.prompt._dom_classes
    assert "wiro-param-prompt" in panel.form.prompt._dom_classes
    assert repr(panel).startswith("FluxPanel(")


def test_the_picker_searches_filters_and_opens_in_place(
        open_panel: Callable[..., ModelPanel]) -> None:
    panel = open_panel()
    picker = panel.picker
    assert picker is not None
    assert not panel.opened
    assert panel.children == (picker.widget,)
    assert set(picker.found) == set(CATALOGUE)
    assert not panel.generate()  # nothing to generate before a model is open
    picker.search.value = "banana"  # Enter in the box searches
    assert set(picker.found) == {s for s in CATALOGUE if "banana" in s}
    picker.search.value = ""
    assert "text-to-video" in picker.category.options
    picker.category.value = "text-to-video"
    assert set(picker.found)
    assert set(picker.found) <= VIDEO_MODELS
    picker.list.value = chosen = picker.found[-1]
    assert picker.open_selected()
    assert panel.opened
    assert panel.model_slug == chosen
    shown = list(widgets_of(panel))
    assert panel.generate_button in shown
    assert panel.form.settings_box in shown
    assert picker.widget not in panel.children


def test_change_model_goes_back_to_the_picker(open_panel: Callable[..., ModelPanel]) -> None:
    direct = open_panel("google/nano-banana")
    (change,) = with_class(direct, "wiro-change-model")
    assert change.layout.display == "none"  # opened by name: no picker to go back to
    assert not direct.change_model()
    panel = open_panel()
    assert panel.picker is not None
    assert panel.open_model("google/nano-banana")
    (change,) = with_class(panel, "wiro-change-model")
    assert change.layout.display == ""
    change.click()
    assert not panel.opened
    assert panel.children == (panel.picker.widget,)
    assert panel.open_model("wiro/filters")
    assert panel.spec.slug == "wiro/filters"
    assert "wiro-param-filter" in panel.form.controls["filter"]._dom_classes


def test_an_unknown_model_is_said_in_the_panel_with_the_closest_names(
        open_panel: Callable[..., ModelPanel]) -> None:
    panel = open_panel("google/nano-bananna-pro")
    assert not panel.opened
    picker = panel.picker
    assert picker is not None
    assert type(panel.problem).__name__ == "ModelNotFound"
    assert "No model &#x27;google/nano-bananna-pro&#x27; on Wiro" in picker.message.value
    assert "google/nano-banana-pro" in picker.message.value
    assert "google/nano-banana-pro" in picker.found  # offered to open at once
    picker.list.value = "google/nano-banana-pro"
    assert picker.open_selected()
    assert panel.model_slug == "google/nano-banana-pro"


def test_without_a_client_the_reason_is_shown(tmp_path: Path) -> None:
    panel = ModelPanel(uploads_dir=tmp_path / "u", history=0)  # no key in the test env
    assert panel.client is None
    assert panel.picker is not None
    assert "No Wiro client" in panel.picker.message.value
    assert panel.picker.list.disabled
    known = ModelPanel("black-forest-labs/flux-2-flex", uploads_dir=tmp_path / "u", history=0)
    assert known.opened
    assert known.generate_button.disabled
    assert "No Wiro client" in known.status.alert.value
    other = ModelPanel("google/nano-banana-pro", uploads_dir=tmp_path / "u", history=0)
    assert not other.opened
    assert other.picker is not None
    assert "No Wiro client" in other.picker.message.value


def test_model_log_lines_show_under_the_status_and_are_not_failures(
        make_sandbox: Callable[..., Any], tmp_path: Path) -> None:
    sb = make_sandbox(faults={"interim_error_rate": 1.0})
    panel = ModelPanel("black-forest-labs/flux-2-pro", sb.client(), history=0,
                       uploads_dir=tmp_path / "u")
    panel.form.prompt.value = "a harbour"
    assert panel.generate()
    assert panel.wait(60)
    assert panel.status.state == "done", panel.status.alert.value
    assert panel.status.log.layout.display == ""
    assert "wiro-log-line" in panel.status.log.value
    assert f"task {panel.result.task_id}" in panel.status.log.value


def test_a_result_warning_is_shown(open_panel: Callable[..., ModelPanel],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from wiro_widgets.panel import runs

    panel = open_panel("google/nano-banana")
    original = runs.Runs.on_result

    def warned(self: Any, slot: Any, result: Any) -> None:
        original(self, slot, replace(result, warnings=("outputs kept in memory: disk full",)))

    monkeypatch.setattr(runs.Runs, "on_result", warned)
    panel.form.prompt.value = "a kite"
    assert panel.generate()
    assert panel.wait(60)
    assert panel.status.state == "done"
    assert "outputs kept in memory: disk full" in panel.status.log.value
    assert "wiro-warn" in panel.status.log.value


def test_a_refused_cancel_is_never_shown_as_cancelled(
        make_sandbox: Callable[..., Any], tmp_path: Path) -> None:
    sb = make_sandbox(speed=1.0, faults={"cancel": "refuse", "kill": "refuse"})
    panel = ModelPanel("black-forest-labs/flux-2-pro", sb.client(), history=0,
                       uploads_dir=tmp_path / "u")
    panel.form.prompt.value = "a slow one"
    assert panel.generate()
    wait_for(lambda: panel.runs.batch is not None and panel.runs.batch.running)
    assert panel.cancel()
    assert panel.wait(60)
    alert = panel.status.alert.value
    assert panel.status.state == "unknown"
    assert "refused to stop the task; it may still be running" in alert
    assert "Cancelled" not in alert
    assert "cancelled" not in panel.status.stage.value
    assert panel.status.check_again.layout.display == ""  # kept, to be followed
    assert panel.runs.lost  # Check again follows it: nothing new is sent


def test_urls_in_parameters_lose_their_userinfo_wherever_the_panel_shows_them(
        open_panel: Callable[..., ModelPanel], sandbox: Any) -> None:
    panel = open_panel("wiro/filters")
    typed = "https://me:hunter2@example.com/in.png"
    panel.form.controls["input_image_url"].value = typed
    assert panel.generate(), panel.status.alert.value
    assert panel.wait(60)
    assert panel.status.state == "done", panel.status.alert.value
    assert sandbox.tasks[-1].params["inputImageUrl"] == typed  # sent as given
    shown = [panel.code.value, panel.gallery.caption.value, panel.status.alert.value,
             panel.status.log.value]
    assert "https://example.com/in.png" in panel.code.value
    assert not [text for text in shown if "hunter2" in text]
