"""The sandbox catalogue: real Wiro tool records, loadable, consistent and traceable to sources."""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

import pytest

from wiro_widgets.sandbox import catalogue
from wiro_widgets.sandbox.catalogue import load_catalogue, model_outputs, slugs, sources
from wiro_widgets.schema import Kind
from wiro_widgets.specs.flux_2_flex import FLUX_2_FLEX

# Input types Wiro documents: model-parameters.md (text, textarea, select, range, fileinput,
# multifileinput, combinefileinput), model pages (number, float, selectwithcover, multiselect),
# the SDKs' parsers (numeric, integer) and the Go CLI (checkbox).
DOCUMENTED_TYPES = {
    "text", "textarea", "select", "selectwithcover", "multiselect", "range", "number", "float",
    "numeric", "integer", "checkbox", "fileinput", "multifileinput", "combinefileinput",
}
# The types issue 15 asks the catalogue to cover, and those no model in the sources uses.
WANTED_TYPES = {
    "text", "textarea", "select", "selectwithcover", "range", "number", "float", "checkbox",
    "fileinput", "multifileinput", "combinefileinput",
}
UNUSED_BY_DOCUMENTED_MODELS = {"range", "fileinput", "multifileinput"}
# Wiro-MCP src/utils/format.ts and the pricing docs.
PRICE_METHODS = {
    "cpr", "cps", "cpo", "cpt", "cp-pixel", "cp-audiosecondslength", "cp-promptlength",
    "cp-outputVideoLength", "cp-realtimeturn", "cp-readoutput",
}
OUTPUT_KINDS = {"image/png", "image/jpeg", "video/mp4", "raw"}
NUMERIC_TYPES = {"number", "float", "range", "numeric", "integer"}
SELECT_TYPES = {"select", "selectwithcover"}

TOOLS = load_catalogue()


def items(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for group in record["parameters"] for item in group["items"]]


def all_items() -> list[tuple[str, dict[str, Any]]]:
    return [(slug, item) for slug, record in TOOLS.items() for item in items(record)]


def as_number(value: Any) -> float | None:
    """Numeric defaults; text inputs (seeds) hold their numbers as strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def test_every_json_file_loads_and_becomes_one_record() -> None:
    files = [e for e in resources.files(catalogue.__name__).iterdir() if e.name.endswith(".json")]
    assert len(files) >= 10
    for entry in files:
        record = json.loads(entry.read_text(encoding="utf-8"))
        slug = f"{record['cleanslugowner']}/{record['cleanslugproject']}"
        assert entry.name == slug.replace("/", "__") + ".json"
    assert len(TOOLS) == len(files) == len(slugs())


def test_served_records_hold_no_private_keys_but_the_catalogue_keeps_them() -> None:
    for slug, record in TOOLS.items():
        assert not [key for key in record if key.startswith("_")], slug
        assert model_outputs(slug)
        assert sources(slug)["documents"]


def test_records_carry_the_tool_fields() -> None:
    for slug, record in TOOLS.items():
        for key in ("title", "slugowner", "slugproject", "cleanslugowner", "cleanslugproject",
                    "description", "parameters"):
            assert isinstance(record[key], (str, list)), (slug, key)
            assert record[key], (slug, key)
        assert f"{record['cleanslugowner']}/{record['cleanslugproject']}" == slug
        for group in record["parameters"]:
            assert set(group) == {"title", "items"}, slug
        assert all(isinstance(c, str) for c in record.get("categories", [])), slug


def test_every_item_has_an_id_and_a_documented_type() -> None:
    for slug, record in TOOLS.items():
        ids = [item["id"] for item in items(record)]
        assert len(ids) == len(set(ids)), f"{slug}: repeated ids"
        for item in items(record):
            assert isinstance(item["id"], str), slug
            assert item["id"], slug
            assert item["type"] in DOCUMENTED_TYPES, (slug, item["id"], item["type"])


def test_items_use_one_spelling_of_the_keys() -> None:
    other_spelling = {"defaultvalue", "minvalue", "maxvalue", "incrementby"}
    for slug, item in all_items():
        assert not other_spelling & set(item), (slug, item["id"])
        for option in item.get("options", []):
            assert set(option) <= {"value", "label", "cover"}, (slug, item["id"], option)
            assert isinstance(option["value"], str)
            assert isinstance(option["label"], str)


def test_ranges_hold_their_defaults() -> None:
    for slug, item in all_items():
        low, high = as_number(item.get("min")), as_number(item.get("max"))
        default = as_number(item.get("default"))
        where = (slug, item["id"])
        if low is not None and high is not None:
            assert low <= high, where
        if default is not None and item["type"] in NUMERIC_TYPES | {"text"}:
            assert low is None or low <= default, where
            assert high is None or default <= high, where
        if item["type"] in NUMERIC_TYPES and "default" in item:
            assert isinstance(item["default"], (int, float)), where
            assert math.isfinite(item["default"]), where
        if "step" in item:
            assert item["step"] > 0, where


def test_select_defaults_are_among_the_options() -> None:
    for slug, item in all_items():
        if item["type"] in SELECT_TYPES:
            values = [option["value"] for option in item["options"]]
            assert values, (slug, item["id"])
            if "default" in item:
                assert item["default"] in values, (slug, item["id"], item["default"])
        else:
            assert "options" not in item, (slug, item["id"])


def test_file_limits_are_positive_counts_on_file_inputs() -> None:
    for slug, item in all_items():
        if "maxinputlenght" in item:
            assert item["type"] in {"fileinput", "multifileinput", "combinefileinput"}
            assert isinstance(item["maxinputlenght"], int), slug
            assert item["maxinputlenght"] > 0, slug


def test_every_dynamicprice_is_a_json_string_of_the_documented_shape() -> None:
    priced = {slug: record["dynamicprice"] for slug, record in TOOLS.items()
              if "dynamicprice" in record}
    assert priced, "at least one documented price"
    for slug, text in priced.items():
        assert isinstance(text, str), slug
        rules = json.loads(text)
        assert isinstance(rules, list), slug
        assert rules, slug
        for rule in rules:
            assert isinstance(rule["inputs"], dict), slug
            assert isinstance(rule["price"], (int, float)), slug
            assert rule["price"] >= 0, slug
            assert rule["priceMethod"] in PRICE_METHODS, slug
    for slug in TOOLS.keys() - priced.keys():
        assert "not documented" in sources(slug)["price"], slug


def test_flux_2_flex_agrees_with_the_built_in_spec() -> None:
    flex = items(TOOLS["black-forest-labs/flux-2-flex"])
    assert [item["id"] for item in flex] == [p.name for p in FLUX_2_FLEX.params]
    for item, param in zip(flex, FLUX_2_FLEX.params, strict=True):
        where = param.name
        assert Kind(item["type"]) is param.kind, where
        assert item.get("required", False) is param.required, where
        assert item.get("default") == (None if param.is_files else param.default), where
        assert item.get("min") == param.minimum, where
        assert item.get("max") == param.maximum, where
        if "step" in item:
            assert item["step"] == param.step, where
        assert [(o["value"], o["label"]) for o in item.get("options", [])] == [
            (o.value, o.label) for o in param.options
        ], where
        assert item.get("maxinputlenght") == param.max_files, where


def test_the_catalogue_spans_image_video_and_text_models() -> None:
    kinds = [model_outputs(slug)["contenttype"] for slug in TOOLS]
    assert all(kind in OUTPUT_KINDS for kind in kinds)
    assert sum(kind.startswith("image/") for kind in kinds) >= 8
    assert kinds.count("video/mp4") >= 1
    assert kinds.count("raw") >= 1
    assert "black-forest-labs/flux-2-flex" in TOOLS


def test_output_descriptions_point_at_real_inputs() -> None:
    for slug, record in TOOLS.items():
        out = model_outputs(slug)
        by_id = {item["id"]: item for item in items(record)}
        assert isinstance(out["count"], int), slug
        assert out["count"] >= 1, slug
        assert isinstance(out["documented"], bool), slug
        if "count_param" in out:
            assert by_id[out["count_param"]]["type"] in NUMERIC_TYPES, slug
        if "format_param" in out:
            values = {o["value"] for o in by_id[out["format_param"]]["options"]}
            assert values == set(out["formats"]), slug
            assert out["contenttype"] == out["formats"][by_id[out["format_param"]]["default"]]


def test_input_types_cover_what_documented_models_use() -> None:
    used = {item["type"] for _, item in all_items()}
    assert WANTED_TYPES - used == UNUSED_BY_DOCUMENTED_MODELS


def test_every_item_and_fact_is_traced_to_a_source() -> None:
    for slug, record in TOOLS.items():
        src = sources(slug)
        assert src["documents"], slug
        assert all(isinstance(v, str) for v in src["documents"].values()), slug
        for key in ("record", "price", "outputs"):
            assert isinstance(src[key], str), (slug, key)
            assert src[key], (slug, key)
        noted = set(src["items"])
        for item in items(record):
            assert item["id"] in noted or "all" in noted, (slug, item["id"])
        assert isinstance(src["inferred"], list), slug


def test_lookups_accept_wiro_raw_slugs_and_name_close_matches() -> None:
    assert model_outputs("Qwen/Qwen3.5-27B") == model_outputs("qwen/qwen3-5-27b")
    assert sources("wiro/3D Text Animations") == sources("wiro/3d-text-animations")
    with pytest.raises(KeyError, match="google/nano-banana"):
        model_outputs("google/nano-banan")


def test_callers_get_copies() -> None:
    first = load_catalogue()
    first["google/nano-banana"]["parameters"].clear()
    model_outputs("google/nano-banana")["count"] = 99
    assert load_catalogue()["google/nano-banana"]["parameters"]
    assert model_outputs("google/nano-banana")["count"] == 1
