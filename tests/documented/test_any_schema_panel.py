"""ModelPanel from a schema holding every input type, in both key spellings, served by the
tests' own server: the right control and class per input, each file input with its own
limit, odd inputs shown as text with a note, and bad values refused before anything is
sent, with the field and the rule named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest

from wiro_widgets import ModelPanel, WiroClient

from .server import DocumentedServer, Step
from .test_any_schema import ITEMS, RUN, SLUG, _docs

ClientFactory = Callable[..., WiroClient]

ODD: list[dict[str, Any]] = [
    {"id": "odd", "type": "number", "label": "Odd", "min": 10, "max": 1, "default": 5},
    {"id": "nolabel", "type": "float"},
    {"id": "notype", "label": "No type"},
    {"id": "empty", "type": "select", "label": "Empty select", "options": []},
    {"type": "text", "label": "no id at all"},
    {"id": "seed", "type": "text", "label": "Seed", "min": 0, "max": 100},
]

#: The control each input type gets.
CONTROLS = {
    "prompt": w.Textarea, "caption": w.Text, "style": w.ToggleButtons,
    "effect": w.Dropdown, "strength": w.FloatSlider, "steps": w.IntSlider,
    "scale": w.FloatSlider, "count": w.IntSlider, "ratio": w.FloatSlider,
    "hd": w.Checkbox, "tags": w.Text, "odd": w.Text, "nolabel": w.Text, "notype": w.Text,
    "empty": w.Text, "seed": w.Text,
}


def _detail(spelling: str) -> bytes:
    items = [*ITEMS, *ODD]
    items = items if spelling == "sdk" else _docs(items)
    tool = {"cleanslugowner": "acme", "cleanslugproject": "every-type", "title": "Every type",
            "parameters": [{"title": "Inputs", "items": items[:6]},
                           {"title": "More", "items": items[6:]}]}
    return json.dumps({"result": True, "errors": [], "tool": [tool]}).encode()


@pytest.fixture(params=["sdk", "docs"])
def panel(request: pytest.FixtureRequest, documented: DocumentedServer,
          make_client: ClientFactory, tmp_path: Path) -> ModelPanel:
    documented.script("/Tool/Detail", Step(body=_detail(request.param)))
    return ModelPanel(SLUG, make_client(), history=0, uploads_dir=tmp_path / "uploads")


def _by_class(panel: ModelPanel, name: str) -> list[w.Widget]:
    found: list[w.Widget] = []
    seen: set[str] = set()
    stack: list[w.Widget] = [panel]
    while stack:
        widget = stack.pop()
        if widget.model_id in seen:
            continue
        seen.add(widget.model_id)
        if name in getattr(widget, "_dom_classes", ()):
            found.append(widget)
        stack.extend(getattr(widget, "children", ()))
    return found


def test_every_input_type_gets_its_control_and_class(panel: ModelPanel) -> None:
    assert panel.opened
    for ident, kind in CONTROLS.items():
        (control,) = _by_class(panel, f"wiro-param-{ident}")
        assert isinstance(control, kind), ident
        assert control is panel.form.controls[panel.spec.param(ident).py_name]
    assert panel.form.controls["steps"].max == 50
    assert panel.form.controls["scale"].value == 3.5  # a string default, read as a number
    assert [label for label, _ in panel.form.controls["style"].options] == ["Warm", "Cool"]
    # Grouping: the schema's titled groups are the form's sections.
    sections = [c.value for c in _by_class(panel, "wiro-section")]
    assert "Inputs" in sections
    assert "More" in sections


def test_each_file_input_has_its_own_uploader_and_limit(panel: ModelPanel) -> None:
    limits = {"inputImage": 1, "inputDocs": 3, "inputRefs": 4}
    for ident, limit in limits.items():
        (box,) = _by_class(panel, f"wiro-param-{ident}")
        lists = [panel.references, *panel.inputs.values()]
        (refs,) = [r for r in lists if r.widget is box]
        assert refs.limit == limit
        assert _by_class(box, "wiro-upload")  # upload
        assert _by_class(box, "wiro-ref-url-input")  # and URL
    panel.references.add_url("https://example.com/a.png")
    with pytest.raises(ValueError, match="at most 1"):
        panel.references.add_url("https://example.com/b.png")


def test_odd_inputs_are_text_with_a_note_and_never_break_the_form(panel: ModelPanel) -> None:
    notes = " ".join(n.value for n in _by_class(panel, "wiro-note"))
    assert "multiselect" in notes  # an unknown type
    assert "contradict" in notes  # min 10 > max 1
    assert "no type given" in notes
    assert "without options" in notes
    assert "no label" in notes
    assert panel.form.controls["nolabel"].description == "nolabel"  # the id as its label
    assert any("no id" in note for note in panel.spec.notes)
    assert "no id" in panel.status.alert.value  # the schema's own notes, said once
    assert panel.form.controls["odd"].value == "5"


@pytest.mark.parametrize(("ident", "typed", "rule"), [
    ("seed", "500", "must be a string or a number from 0 to 100"),
    ("nolabel", "lots", "must be a number"),
])
def test_bad_values_are_refused_locally_naming_the_field_and_the_rule(
        panel: ModelPanel, documented: DocumentedServer, ident: str, typed: str,
        rule: str) -> None:
    panel.form.controls["prompt"].value = "a lighthouse"
    name = panel.spec.param(ident).py_name
    panel.form.controls[name].value = typed
    assert not panel.generate()
    message = panel.form.messages[name].value
    assert rule in message
    assert panel.spec.param(ident).label in message
    assert "Not sent" in panel.status.alert.value
    assert "wiro-invalid" in panel.form.controls[name]._dom_classes
    assert documented.requests_to(RUN) == []


def test_an_empty_required_prompt_is_refused_before_sending(
        panel: ModelPanel, documented: DocumentedServer) -> None:
    assert not panel.generate()
    assert "Prompt" in panel.form.messages["prompt"].value
    assert "must not be empty" in panel.form.messages["prompt"].value
    assert documented.requests_to(RUN) == []


def test_what_the_form_holds_passes_the_clients_own_checks(panel: ModelPanel) -> None:
    panel.form.controls["prompt"].value = "a lighthouse"
    panel.form.controls["hd"].value = True
    panel.inputs["input_refs"].add_url("https://example.com/r.png")
    params = panel.snapshot().client_params()
    assert params["hd"] is True
    assert [r.url for r in params["input_refs"]] == ["https://example.com/r.png"]
    assert panel.client is not None
    checked = panel.client.validate(SLUG, **params)
    assert checked["steps"] == 20
    assert checked["style"] == "warm"
