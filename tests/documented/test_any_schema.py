"""Any model, from its live schema, against a server of the tests' own (not the sandbox): a
Tool/Detail record holding every input type, in both key spellings, builds the spec; bad
values are refused before anything is sent; each file input type travels the way Wiro's docs
say; an unknown model is NotFound with the closest names from Tool/List."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from requests_toolbelt.multipart.decoder import MultipartDecoder

from wiro_widgets import ModelNotFound, ValidationError, WiroClient

from .server import DocumentedServer, Step

ClientFactory = Callable[..., WiroClient]
SLUG = "acme/every-type"
RUN = f"/Run/{SLUG}"
A, B = "https://example.com/a.png", "https://example.com/b.png"

ITEMS: list[dict[str, Any]] = [
    {"id": "prompt", "type": "textarea", "label": "Prompt", "required": True},
    {"id": "caption", "type": "text", "label": "Caption"},
    {"id": "style", "type": "select", "label": "Style", "default": "warm",
     "options": [{"value": "warm", "label": "Warm"}, {"value": "cool", "label": "Cool"}]},
    {"id": "effect", "type": "selectwithcover", "label": "Effect", "default": "fx1",
     "options": [{"value": "fx1", "label": "One", "cover": "fx1.mp4"}]},
    {"id": "strength", "type": "range", "label": "Strength", "default": 0.5, "min": 0,
     "max": 1, "step": 0.1},
    {"id": "steps", "type": "number", "label": "Steps", "default": 20, "min": 1, "max": 50},
    {"id": "scale", "type": "float", "label": "Scale", "default": "3.5", "min": "1",
     "max": "10"},
    {"id": "count", "type": "integer", "label": "Count", "default": 1, "min": 1, "max": 4},
    {"id": "ratio", "type": "numeric", "label": "Ratio", "default": 1, "min": 0.5, "max": 2},
    {"id": "hd", "type": "checkbox", "label": "HD", "default": False},
    {"id": "inputImage", "type": "fileinput", "label": "Image"},
    {"id": "inputDocs", "type": "multifileinput", "label": "Docs", "maxinputlenght": 3},
    {"id": "inputRefs", "type": "combinefileinput", "label": "Refs", "maxinputlenght": 4},
    {"id": "tags", "type": "multiselect", "label": "Tags"},
]


def _docs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    renamed = {"default": "defaultvalue", "min": "minvalue", "max": "maxvalue",
               "step": "incrementby"}
    out = []
    for item in copy.deepcopy(items):
        out.append({renamed.get(k, k): v for k, v in item.items()})
        for option in out[-1].get("options", []):
            option["text"] = option.pop("label")
    return out


def _tool_detail(spelling: str) -> bytes:
    items = ITEMS if spelling == "sdk" else _docs(ITEMS)
    tool = {"cleanslugowner": "acme", "cleanslugproject": "every-type", "title": "Every type",
            "dynamicprice": '[{"inputs":{},"price":0.05,"priceMethod":"cpr"}]',
            "parameters": [{"title": "Inputs", "items": items}]}
    return json.dumps({"result": True, "errors": [], "tool": [tool]}).encode()


@pytest.fixture(params=["sdk", "docs"])
def every_type(request: pytest.FixtureRequest, documented: DocumentedServer,
               make_client: ClientFactory) -> WiroClient:
    documented.script("/Tool/Detail", Step(body=_tool_detail(request.param)))
    documented.script(RUN, "run.json")
    return make_client()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_spec_is_built_from_either_spelling(every_type: WiroClient) -> None:
    spec = every_type.spec(SLUG)
    assert spec is not None
    assert [p.wire_type for p in spec.params] == [i["type"] for i in ITEMS]
    assert spec.param("scale").default == 3.5
    assert spec.param("strength").step == 0.1
    assert [p.file_limit for p in spec.file_params] == [1, 3, 4]
    assert spec.all_notes() == ["tags: type 'multiselect' is not a documented input type; "
                                "shown as text and sent as given"]
    assert every_type.estimate_cost(SLUG, prompt="x") == 0.05


@pytest.mark.parametrize(("name", "value", "rule"), [
    ("steps", 0, "must be an integer from 1 to 50"),
    ("scale", 11, "must be a number from 1 to 10"),
    ("count", 1.5, "must be an integer from 1 to 4"),
    ("ratio", 2.5, "from 0.5 to 2"),
    ("strength", -0.1, "from 0 to 1"),
    ("style", "hot", "must be one of 'warm', 'cool'"),
    ("effect", "fx2", "must be one of 'fx1'"),
    ("hd", 3, "must be True or False"),
    ("input_image", [A, B], "takes at most 1 image"),
    ("input_docs", [A, B, A, B], "takes at most 3 images"),
    ("input_refs", [A] * 5, "takes at most 4 images"),
])
def test_bad_values_are_refused_before_anything_is_sent(
        every_type: WiroClient, documented: DocumentedServer, name: str, value: Any,
        rule: str) -> None:
    with pytest.raises(ValidationError) as info:
        every_type.submit(SLUG, prompt="x", **{name: value})
    assert info.value.field == name
    assert rule in info.value.rule
    assert name in str(info.value)
    assert documented.requests_to(RUN) == []


def test_urls_travel_as_json_the_way_each_type_wants(every_type: WiroClient,
                                                     documented: DocumentedServer) -> None:
    every_type.submit(SLUG, prompt="x", input_image=[A], input_docs=[A, B],
                      input_refs=[A, B], hd=True, tags="a,b")
    (request,) = documented.requests_to(RUN)
    assert request.headers["content-type"] == "application/json"
    body = request.json
    assert body["inputImageUrl"] == A  # fileinput: the {id}Url companion
    assert body["inputDocsUrl"] == f"{A},{B}"  # multifileinput: comma-separated in {id}Url
    assert body["inputRefs"] == [A, B]  # combinefileinput: the SDKs' array under the id
    assert "inputImage" not in body
    assert "inputDocs" not in body
    assert body["hd"] == "true"
    assert body["tags"] == "a,b"  # an unknown type is sent as given
    assert (body["style"], body["effect"], body["steps"], body["scale"]) == (
        "warm", "fx1", 20, 3.5)


def test_bytes_travel_as_multipart_the_way_each_type_wants(
        every_type: WiroClient, documented: DocumentedServer) -> None:
    png = _png()
    every_type.submit(SLUG, prompt="x", input_image=[png], input_docs=[png, A],
                      input_refs=[png, B])
    (request,) = documented.requests_to(RUN)
    decoder = MultipartDecoder(request.body, request.headers["content-type"])
    parts = []
    for part in decoder.parts:
        disposition = part.headers[b"Content-Disposition"].decode()
        name = disposition.split('name="', 1)[1].split('"', 1)[0]
        parts.append((name, "filename=" in disposition, part.content))
    named = {name: [(is_file, data) for n, is_file, data in parts if n == name]
             for name, _, _ in parts}
    # fileinput: the file under {id}, and an empty {id}Url.
    assert named["inputImage"] == [(True, png)]
    assert named["inputImageUrl"] == [(False, b"")]
    # multifileinput: files repeated under {id}, URLs comma-separated in {id}Url.
    assert named["inputDocs"] == [(True, png)]
    assert named["inputDocsUrl"] == [(False, A.encode())]
    # combinefileinput: one part per entry under {id}, a file or a URL, in order.
    assert named["inputRefs"] == [(True, png), (False, B.encode())]
    assert named["prompt"] == [(False, b"x")]
    assert named["hd"] == [(False, b"false")]


def test_a_fileinput_url_beside_bytes_goes_in_its_url_field(
        every_type: WiroClient, documented: DocumentedServer) -> None:
    every_type.submit(SLUG, prompt="x", input_image=[A], input_refs=[_png()])
    (request,) = documented.requests_to(RUN)
    decoder = MultipartDecoder(request.body, request.headers["content-type"])
    fields = {}
    for part in decoder.parts:
        disposition = part.headers[b"Content-Disposition"].decode()
        fields[disposition.split('name="', 1)[1].split('"', 1)[0]] = part.content
    assert fields["inputImage"] == b""
    assert fields["inputImageUrl"] == A.encode()


def test_an_unknown_model_is_not_found_with_the_closest_names(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    documented.script("/Tool/Detail", Step(body=json.dumps({
        "result": False, "errors": [{"code": 1, "message": "slug-owner-project-not-exist"}]
    }).encode()))
    documented.script("/Tool/List", "tool-list.json")
    with pytest.raises(ModelNotFound) as info:
        make_client().spec("wiro/virtual-tryon")
    assert info.value.closest == ("wiro/virtual-try-on",)
    assert "closest: wiro/virtual-try-on" in str(info.value)
    (listing,) = documented.requests_to("/Tool/List")[:1]
    assert listing.json["search"] == "virtual-tryon"
    assert documented.requests_to("/Run/wiro/virtual-tryon") == []


def test_a_record_without_parameters_leaves_the_model_unchecked(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    documented.script("/Tool/Detail", "tool-detail.json")  # the docs' example: parameters null
    documented.script("/Run/wiro/virtual-try-on", "run.json")
    client = make_client()
    assert client.spec("wiro/virtual-try-on") is None
    client.submit("wiro/virtual-try-on", anything=1, flag=True)
    (request,) = documented.requests_to("/Run/wiro/virtual-try-on")
    assert request.json == {"anything": 1, "flag": "true"}
