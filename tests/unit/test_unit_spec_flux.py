"""Every flux-2-flex rule, at its valid and invalid edges, on the Python and wire sides."""

from __future__ import annotations

import math
from typing import Any

import pytest

from wiro_widgets.errors import ValidationError
from wiro_widgets.schema import WireValidationError
from wiro_widgets.specs import FLUX_2_FLEX, get_spec

SPEC = FLUX_2_FLEX
BASE: dict[str, Any] = {"prompt": "a red fox"}


def validate(**params: Any) -> dict[str, Any]:
    return SPEC.validate({**BASE, **params})


def test_spec_is_found_by_slug() -> None:
    assert get_spec("black-forest-labs/flux-2-flex") is SPEC
    assert get_spec("/black-forest-labs/flux-2-flex/") is SPEC
    assert get_spec("someone/unknown-model") is None


def test_defaults_are_filled_with_python_names() -> None:
    params = validate()
    assert params == {"prompt": "a red fox", "input_images": [], "width": 1024, "height": 1024,
                      "safety_tolerance": 2, "seed": 123, "guidance": 4.5, "steps": 50,
                      "output_format": "png"}
    wire = SPEC.to_wire({k: v for k, v in params.items() if k != "input_images"})
    assert set(wire) == {"prompt", "width", "height", "safetyTolerance", "seed", "guidance",
                         "steps", "outputFormat"}


VALID = [
    ("width", 64), ("width", 2048), ("width", 1024.0), ("height", 64), ("height", 2048),
    ("safety_tolerance", 0), ("safety_tolerance", 6), ("seed", 0), ("seed", 9_999_999),
    ("guidance", 1.5), ("guidance", 10), ("guidance", 10.0), ("steps", 1), ("steps", 50),
    ("output_format", "jpeg"), ("output_format", "png"), ("output_format", "JPG"),
    ("output_format", " PNG "),
]


@pytest.mark.parametrize(("name", "value"), VALID)
def test_valid_edges_pass(name: str, value: Any) -> None:
    params = validate(**{name: value})
    assert name in params


@pytest.mark.parametrize(("name", "value", "rule"), [
    ("width", 48, "from 64 to 2048"), ("width", 2064, "from 64 to 2048"),
    ("width", 1000, "multiple of 16"), ("width", 1024.5, "integer"),
    ("width", "1024", "got str"), ("width", True, "got bool"), ("width", -16, "from 64"),
    ("height", 63, "from 64"), ("height", 2049, "to 2048"), ("height", 1030, "multiple of 16"),
    ("safety_tolerance", -1, "from 0 to 6"), ("safety_tolerance", 7, "from 0 to 6"),
    ("safety_tolerance", 2.5, "integer"),
    ("seed", -1, "from 0 to 9999999"), ("seed", 10_000_000, "from 0 to 9999999"),
    ("guidance", 1.49, "from 1.5 to 10"), ("guidance", 10.01, "from 1.5 to 10"),
    ("guidance", math.nan, "number"), ("guidance", math.inf, "number"),
    ("steps", 0, "from 1 to 50"), ("steps", 51, "from 1 to 50"),
    ("output_format", "gif", "one of 'jpeg', 'png'"), ("output_format", 1, "one of"),
    ("prompt", "", "must not be empty"), ("prompt", "   ", "must not be empty"),
    ("prompt", "a\x00b", "NUL"), ("prompt", 42, "must be a string"),
])
def test_invalid_edges_name_field_value_and_rule(name: str, value: Any, rule: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate(**{name: value})
    err = info.value
    assert err.field == name
    assert rule in err.rule
    assert name in str(err)
    if not (isinstance(value, float) and math.isnan(value)):
        assert err.value == value


def test_prompt_is_required() -> None:
    with pytest.raises(ValidationError, match="prompt") as info:
        SPEC.validate({"steps": 20})
    assert info.value.rule == "is required"


@pytest.mark.parametrize("name", ["width", "height"])
def test_zero_size_means_match_the_reference_and_needs_one(name: str) -> None:
    with pytest.raises(ValidationError, match="reference image") as info:
        validate(**{name: 0})
    assert info.value.field == name
    assert validate(**{name: 0, "input_images": ["https://example.com/a.png"]})[name] == 0


def test_up_to_ten_reference_images() -> None:
    urls = [f"https://example.com/{i}.png" for i in range(10)]
    assert len(validate(input_images=urls)["input_images"]) == 10
    with pytest.raises(ValidationError, match="at most 10 images") as info:
        validate(input_images=[*urls, "https://example.com/x.png"])
    assert info.value.field == "input_images"


def test_unknown_parameter_is_refused_with_the_list_of_known_ones() -> None:
    with pytest.raises(ValidationError, match="is not a parameter") as info:
        validate(guidance_scale=3.0)
    assert info.value.field == "guidance_scale"
    assert "guidance" in info.value.rule


def test_api_ids_are_accepted_beside_python_names_but_not_both() -> None:
    assert validate(safetyTolerance=3) == validate(safety_tolerance=3)
    assert validate(inputImage=["https://example.com/a.png"])["input_images"] == [
        "https://example.com/a.png"]
    with pytest.raises(ValidationError, match="given twice") as info:
        validate(safetyTolerance=3, safety_tolerance=4)
    assert info.value.field in ("safetyTolerance", "safety_tolerance")


@pytest.mark.parametrize(("wire", "message"), [
    ({"prompt": "x", "steps": "51"}, "Request parameter [steps] must be between 1 and 50"),
    ({"prompt": "x", "steps": "abc"}, "Request parameter [steps] must be integer or float"),
    ({"prompt": "x", "width": "1000"}, "Request parameter [width] must be multiple of 16"),
    ({"prompt": "x", "guidance": "0.5"}, "Request parameter [guidance] must be between 1.5"),
    ({"prompt": "x", "outputFormat": "bmp"}, "Request parameter [outputFormat] must be one of"),
    ({}, "Request parameter [prompt] required"),
])
def test_wire_validation_uses_wiro_wording(wire: dict[str, Any], message: str) -> None:
    with pytest.raises(WireValidationError) as info:
        SPEC.validate_wire(wire, file_count=0)
    assert str(info.value).startswith(message)


def test_wire_validation_parses_strings_and_counts_files() -> None:
    out = SPEC.validate_wire({"prompt": "x", "steps": "20", "guidance": "3.5"}, file_count=2)
    assert out["steps"] == 20
    assert out["guidance"] == 3.5
    with pytest.raises(WireValidationError, match="at most 10"):
        SPEC.validate_wire({"prompt": "x"}, file_count=11)


def test_cost_estimate_scales_with_megapixels() -> None:
    small = SPEC.estimate_cost(validate(width=512, height=512))
    large = SPEC.estimate_cost(validate(width=1024, height=1024))
    assert 0 < small < large
    assert math.isclose(large, 4 * small, rel_tol=1e-3)
