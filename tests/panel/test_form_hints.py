"""The panel takes its layout from the spec's form hints and names no model's parameter."""

from __future__ import annotations

import ast
from pathlib import Path

import ipywidgets as w

import wiro_widgets.panel
from wiro_widgets.panel.codegen import request_code
from wiro_widgets.panel.form import Form
from wiro_widgets.panel.request import GenerationRequest
from wiro_widgets.schema import FormHints, FormSection, Kind, ModelSpec, Option, ParamSpec
from wiro_widgets.specs import FLUX_2_FLEX, SPECS

PANEL = Path(wiro_widgets.panel.__file__).parent


def _code_strings(path: Path) -> set[str]:
    """String constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings}


def test_panel_code_names_no_parameter() -> None:
    names = {n for p in FLUX_2_FLEX.params for n in (p.name, p.py_name)}
    for path in sorted(PANEL.glob("*.py")):
        assert not names & _code_strings(path), path.name


SPEC = ModelSpec(
    slug="someone/other-model",
    title="Other model",
    description="A model whose inputs have other names.",
    params=(
        ParamSpec("refs", Kind.COMBINEFILEINPUT, "Pictures", max_files=3),
        ParamSpec("noiseSeed", Kind.NUMBER, "Noise seed", default=7, minimum=0, maximum=99),
        ParamSpec("text", Kind.TEXTAREA, "Text", required=True),
        ParamSpec("w", Kind.NUMBER, "W", default=512, minimum=32, maximum=1024,
                  multiple_of=32, zero_means="keep", zero_label="kept"),
        ParamSpec("h", Kind.NUMBER, "H", default=512, minimum=32, maximum=1024,
                  multiple_of=32, zero_means="keep", zero_label="kept"),
        ParamSpec("style", Kind.SELECT, "Style", default="a",
                  options=(Option("a", "A"), Option("b", "B")), css_class="my-style"),
    ),
    form=FormHints(
        sections=(FormSection("Words", ("text",)), FormSection("Shape", ("w", "h")),
                  FormSection("Chance", ("noise_seed",))),
        prompt="text", seed="noise_seed", size=("w", "h"), caption=("style", "w"),
    ),
)


def _titles(box: w.Box) -> list[str]:
    return [c.value for c in box.children
            if isinstance(c, w.HTML) and "wiro-section" in c._dom_classes]


def test_a_form_from_other_hints() -> None:
    form = Form(SPEC)
    assert form.prompt is form.controls["text"]
    assert form.width is form.controls["w"]
    assert form.seed is form.controls["noise_seed"]
    assert _titles(form.prompt_box) == ["Words"]
    assert _titles(form.settings_box) == ["Shape", "Chance"]
    assert form.settings_box.children[-2] is form.controls["style"]  # in no section: last
    assert "my-style" in form.controls["style"]._dom_classes
    form.width.value = 500
    assert form.width.value == 512  # snapped to the spec's multiple of 32
    form.match_reference.value = True
    assert form.values()["w"] == 0
    assert form.values()["h"] == 0


def test_code_follows_the_hints_order() -> None:
    request = GenerationRequest("someone/other-model", {"style": "b", "noise_seed": 3, "w": 64,
                                                        "text": "hi", "h": 64})
    SPECS[SPEC.slug] = SPEC
    try:
        code = request_code(request)
    finally:
        del SPECS[SPEC.slug]
    order = [line.split("=")[0].strip() for line in code.splitlines()
             if line.startswith("    ") and "=" in line]
    assert order == ["text", "w", "h", "noise_seed", "style"]
