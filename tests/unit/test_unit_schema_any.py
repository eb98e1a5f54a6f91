"""Reading any model's spec from a Tool/Detail record: both key spellings, every input type,
odd data kept usable with a note, checks on both sides of the wire, and the price rules."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pytest

from wiro_widgets.errors import ValidationError
from wiro_widgets.sandbox.catalogue import load_catalogue
from wiro_widgets.schema import Kind, WireValidationError, parse_dynamicprice, spec_from_tool
from wiro_widgets.specs import FLUX_2_FLEX, differences, prefer_builtin

SDK_ITEMS: list[dict[str, Any]] = [
    {"id": "prompt", "type": "textarea", "label": "Prompt", "required": True},
    {"id": "caption", "type": "text", "label": "Caption", "default": "hi"},
    {"id": "style", "type": "select", "label": "Style", "default": "warm",
     "options": [{"value": "warm", "label": "Warm"}, {"value": "COOL", "label": "Cool"}]},
    {"id": "effect", "type": "selectwithcover", "label": "Effect",
     "options": [{"value": "fx1", "label": "One", "cover": "a.mp4"}]},
    {"id": "strength", "type": "range", "label": "Strength", "default": "0.5", "min": "0",
     "max": "1", "step": "0.05"},
    {"id": "steps", "type": "number", "label": "Steps", "default": "20", "min": "1",
     "max": "50", "step": "1"},
    {"id": "scale", "type": "float", "label": "Scale", "default": 3.5, "min": 1, "max": 10},
    {"id": "count", "type": "integer", "label": "Count", "default": 1, "min": 1, "max": 4},
    {"id": "ratio", "type": "numeric", "label": "Ratio", "min": "0.5", "max": "2"},
    {"id": "hd", "type": "checkbox", "label": "HD", "default": "false"},
    {"id": "inputImage", "type": "fileinput", "label": "Image"},
    {"id": "inputDocs", "type": "multifileinput", "label": "Docs", "maxinputlenght": "3"},
    {"id": "inputRefs", "type": "combinefileinput", "label": "Refs", "maxinputlenght": 4},
]
_DOCS = {"default": "defaultvalue", "min": "minvalue", "max": "maxvalue", "step": "incrementby"}


def docs_spelling(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in copy.deepcopy(items):
        for sdk, docs in _DOCS.items():
            if sdk in item:
                item[docs] = item.pop(sdk)
        for option in item.get("options", []):
            option["text"] = option.pop("label")
        out.append(item)
    return out


def record(items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"cleanslugowner": "acme", "cleanslugproject": "every-type", "title": "Every type",
            "parameters": [{"title": "", "items": items}], **extra}


@pytest.fixture(params=["sdk", "docs"])
def spec(request: pytest.FixtureRequest) -> Any:
    items = SDK_ITEMS if request.param == "sdk" else docs_spelling(SDK_ITEMS)
    return spec_from_tool(record(items))


def test_both_spellings_build_the_same_spec() -> None:
    sdk, docs = spec_from_tool(record(SDK_ITEMS)), spec_from_tool(record(docs_spelling(SDK_ITEMS)))
    assert sdk == docs
    assert not sdk.all_notes()


def test_every_type_is_read(spec: Any) -> None:
    kinds = {p.name: p.kind for p in spec.params}
    assert kinds == {
        "prompt": Kind.TEXTAREA, "caption": Kind.TEXT, "style": Kind.SELECT,
        "effect": Kind.SELECTWITHCOVER, "strength": Kind.RANGE, "steps": Kind.NUMBER,
        "scale": Kind.FLOAT, "count": Kind.INTEGER, "ratio": Kind.NUMERIC, "hd": Kind.CHECKBOX,
        "inputImage": Kind.FILEINPUT, "inputDocs": Kind.MULTIFILEINPUT,
        "inputRefs": Kind.COMBINEFILEINPUT}
    # Numbers and numeric strings alike.
    assert spec.param("steps").default == 20
    assert spec.param("steps").maximum == 50
    assert spec.param("strength").default == 0.5
    assert spec.param("strength").step == 0.05
    assert not spec.param("strength").is_integer
    assert spec.param("hd").default is False
    assert spec.param("effect").options[0].cover == "a.mp4"
    assert [p.file_limit for p in spec.file_params] == [1, 3, 4]
    assert spec.form.prompt == "prompt"
    assert spec.validate({"prompt": "x"}) == {
        "prompt": "x", "caption": "hi", "style": "warm", "strength": 0.5, "steps": 20,
        "scale": 3.5, "count": 1, "hd": False, "input_image": [], "input_docs": [],
        "input_refs": []}


@pytest.mark.parametrize(("name", "value", "rule"), [
    ("steps", 51, "must be an integer from 1 to 50"),
    ("steps", 2.5, "must be an integer"),
    ("count", 0, "from 1 to 4"),
    ("scale", 10.5, "must be a number from 1 to 10"),
    ("ratio", 3, "from 0.5 to 2"),
    ("strength", 1.5, "from 0 to 1"),
    ("style", "hot", "must be one of 'warm', 'COOL'"),
    ("effect", "fx9", "must be one of 'fx1'"),
    ("hd", "yes please", "must be True or False"),
    ("prompt", "", "must not be empty"),
    ("input_image", ["https://a/1.png", "https://a/2.png"], "takes at most 1 image"),
    ("input_docs", ["https://a/1.pdf"] * 4, "takes at most 3 images"),
    ("inputRefs", ["https://a/1.png"] * 5, "takes at most 4 images"),
])
def test_bad_values_are_refused_naming_field_value_and_rule(spec: Any, name: str, value: Any,
                                                             rule: str) -> None:
    with pytest.raises(ValidationError) as info:
        spec.validate({"prompt": "x", name: value})
    assert info.value.field == name
    assert rule in info.value.rule
    assert str(info.value).startswith(f"{name}=")


def test_values_are_normalized(spec: Any) -> None:
    out = spec.validate({"prompt": "x", "style": "cool", "hd": "TRUE", "caption": 42,
                         "steps": np.int64(7), "scale": np.float32(2.5), "count": 2.0})
    assert out["style"] == "COOL"  # the option's own spelling
    assert out["hd"] is True
    assert out["caption"] == "42"
    assert (out["steps"], type(out["steps"])) == (7, int)
    assert (out["scale"], type(out["scale"])) == (2.5, float)
    assert out["count"] == 2
    assert spec.to_wire(out)["hd"] == "true"


@pytest.mark.parametrize(("wire", "message"), [
    ({"prompt": "x", "steps": "51"}, "Request parameter [steps] must be between 1 and 50"),
    ({"prompt": "x", "scale": "abc"}, "Request parameter [scale] must be integer or float"),
    ({"prompt": "x", "hd": "maybe"}, "Request parameter [hd] must be true or false"),
    ({"prompt": "x", "style": "hot"}, "Request parameter [style] must be one of warm, COOL"),
    ({}, "Request parameter [prompt] required"),
])
def test_wire_checks_use_wiro_wording(spec: Any, wire: dict[str, Any], message: str) -> None:
    with pytest.raises(WireValidationError) as info:
        spec.validate_wire(wire)
    assert str(info.value).startswith(message)


def test_wire_checks_parse_strings_and_count_files_per_input(spec: Any) -> None:
    out = spec.validate_wire({"prompt": "x", "steps": "9", "hd": "true", "strength": "0.25"},
                             file_counts={"inputDocs": 3})
    assert (out["steps"], out["hd"], out["strength"]) == (9, True, 0.25)
    with pytest.raises(WireValidationError, match=r"\[inputImage\] must be at most 1"):
        spec.validate_wire({"prompt": "x"}, file_counts={"inputImage": 2})


ODD_ITEMS: list[dict[str, Any]] = [
    {"id": "tags", "type": "multiselect", "label": "Tags"},
    {"id": "mystery", "label": "Mystery"},
    {"id": "size", "type": "number", "label": "Size", "min": 100, "max": 10, "default": 50},
    {"id": "mode", "type": "select", "label": "Mode", "options": []},
    {"id": "level", "type": "select", "label": "Level", "default": "max",
     "options": [{"value": "low", "label": "Low"}, {"value": "low", "label": "Low again"}]},
    {"id": "temp", "type": "number", "label": "Temp", "min": 0, "max": 1, "default": 0.7},
    {"id": "far", "type": "number", "label": "Far", "min": 0, "max": 10, "default": 99},
    {"type": "text", "label": "No id"},
    {"id": "bare"},
    "not an item",
]


def test_odd_schemas_build_a_usable_spec_with_notes() -> None:
    spec = spec_from_tool(record(ODD_ITEMS, dynamicprice="{broken"))
    notes = spec.all_notes()
    tags = spec.param("tags")
    assert tags.kind is Kind.TEXT
    assert tags.wire_type == "multiselect"
    assert not tags.is_known_type
    assert spec.validate({"tags": "a,b"})["tags"] == "a,b"  # sent as given
    assert spec.param("mystery").kind is Kind.TEXT
    assert spec.param("size").kind is Kind.TEXT  # contradictory bounds: kept as text
    assert spec.param("mode").kind is Kind.TEXT  # a select without options
    assert spec.param("level").option_values == ("low",)
    assert spec.param("level").default is None
    assert spec.param("temp").kind is Kind.FLOAT  # a "number" with a decimal default
    assert spec.param("far").default is None
    assert spec.param("bare").label == "bare"
    for words in ("multiselect", "no type given", "contradict", "without options",
                  "listed more than once", "not among the options", "decimal",
                  "outside its bounds", "no id", "not an object", "dynamicprice"):
        assert any(words in note for note in notes), words
    assert spec.prices == ()


def test_a_record_without_parameters_or_fields_never_raises() -> None:
    for odd in ({}, {"parameters": None}, {"parameters": "x"}, {"parameters": [None, {}]}):
        spec = spec_from_tool(odd)
        assert spec.params == ()


def test_help_text_rules_and_item_5() -> None:
    spec = spec_from_tool(load_catalogue()["black-forest-labs/flux-2-pro"])
    width = spec.param("width")
    assert width.multiple_of == 16
    assert width.zero_means == "match the input image"
    refs = ["https://example.com/a.png"]
    # Left out when references are given and the caller did not set it (issue 13, item 5).
    assert "width" not in spec.validate({"prompt": "x", "input_image": refs})
    assert spec.validate({"prompt": "x", "input_image": refs, "width": 512})["width"] == 512
    assert spec.validate({"prompt": "x"})["width"] == 1024
    with pytest.raises(ValidationError, match="needs at least one reference image"):
        spec.validate({"prompt": "x", "width": 0})


def test_the_built_in_spec_agrees_with_the_catalogue_record() -> None:
    live = spec_from_tool(load_catalogue()["black-forest-labs/flux-2-flex"])
    assert differences(FLUX_2_FLEX, live) == []
    chosen = prefer_builtin(live)
    assert chosen.form == FLUX_2_FLEX.form  # the hand-written form hints are kept
    changed = copy.deepcopy(load_catalogue()["black-forest-labs/flux-2-flex"])
    changed["parameters"][0]["items"][7]["max"] = 60  # steps
    assert "steps: max 50 here, 60.0 in the schema" in differences(
        FLUX_2_FLEX, spec_from_tool(changed))[0]
    assert prefer_builtin(spec_from_tool(changed)).param("steps").maximum == 60
    assert "differs from the live schema" in prefer_builtin(spec_from_tool(changed)).notes[-1]


def test_every_catalogue_record_builds_a_spec() -> None:
    for slug, tool in load_catalogue().items():
        spec = prefer_builtin(spec_from_tool(tool))
        assert spec.slug == slug
        assert spec.params
        spec.validate({spec.form.prompt: "x"} if spec.form.prompt else {})


@pytest.mark.parametrize(("rules", "params", "expected"), [
    ('[{"inputs":{},"price":0.039,"priceMethod":"cpo"}]', {"n": 3}, 0.117),
    ('[{"inputs":{},"price":0.03,"priceMethod":"cpr"}]', {}, 0.03),
    ('[{"inputs":{"resolution":"720p","duration":"5"},"price":0.13,"priceMethod":"cpr"},'
     '{"inputs":{"resolution":"1080p","duration":"5"},"price":0.29,"priceMethod":"cpr"}]',
     {"resolution": "1080p", "duration": 5}, 0.29),
    ('[{"inputs":{"resolution":"720p"},"price":0.13,"priceMethod":"cpr"}]',
     {"resolution": "4k"}, None),
    ('[{"inputs":{},"price":0.02,"priceMethod":"cp-pixel","priceExtra":0.01}]',
     {"width": 2048, "height": 1024}, 0.03),
    ('[{"inputs":{},"price":0.001,"priceMethod":"cp-promptlength"}]', {"prompt": "abcd"},
     0.004),
    ('[{"inputs":{},"price":0.0005,"priceMethod":"cps"}]', {}, None),
    ('[{"inputs":{},"price":0.01,"priceMethod":"cpt"}]', {}, None),
])
def test_price_methods(rules: str, params: dict[str, Any], expected: float | None) -> None:
    items = [{"id": "prompt", "type": "textarea"}, {"id": "n", "type": "number", "default": 1},
             {"id": "resolution", "type": "text"}, {"id": "duration", "type": "number"},
             {"id": "width", "type": "number"}, {"id": "height", "type": "number"}]
    spec = spec_from_tool(record(items, dynamicprice=rules))
    spec = dataclasses.replace(spec, output_count="n")
    estimate = spec.estimate_cost(spec.validate({"prompt": "abcd", **params}))
    assert estimate == (pytest.approx(expected) if expected is not None else None)


def test_dynamicprice_as_a_string_or_an_array() -> None:
    text = '[{"inputs":{},"price":0.039,"priceMethod":"cpo"}]'
    assert parse_dynamicprice(text) == parse_dynamicprice(
        [{"inputs": {}, "price": 0.039, "priceMethod": "cpo"}])
    assert parse_dynamicprice(None) == ((), [])
