"""The sandbox serves its catalogue: Tool/Detail in both spellings of the items, Tool/List with
its filters, Tool/Explore, and Run for every catalogue model with the spec the client builds."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import requests
from PIL import Image

from wiro_widgets.sandbox.catalogue import load_catalogue
from wiro_widgets.schema import spec_from_tool
from wiro_widgets.specs import FLUX_2_FLEX, differences

from .wire import Api, assert_envelope

TOOLS = load_catalogue()
SDK_KEYS = {"default", "min", "max", "step"}
DOCS_KEYS = {"defaultvalue", "minvalue", "maxvalue", "incrementby"}


def _detail(api: Api, slug: str) -> dict[str, Any]:
    owner, project = slug.split("/")
    body = api.post("/Tool/Detail", json={"slugowner": owner, "slugproject": project}).json()
    assert body["result"] is True, body
    (tool,) = body["tool"]
    return dict(tool)


def _items(tool: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for group in tool["parameters"] for item in group["items"]]


@pytest.mark.parametrize("slug", sorted(TOOLS))
def test_tool_detail_serves_the_catalogue_record_with_the_documented_fields(
        api: Api, slug: str) -> None:
    tool = _detail(api, slug)
    for key in ("title", "slugowner", "slugproject", "cleanslugowner", "cleanslugproject",
                "description"):
        assert tool[key] == TOOLS[slug][key], key
    for item in _items(tool):  # the help text is also served as the docs' "note"
        assert item.pop("note", item.get("help")) == item.get("help")
    assert tool["parameters"] == TOOLS[slug]["parameters"]
    assert not [key for key in tool if key.startswith("_")]
    if "dynamicprice" in TOOLS[slug]:
        assert isinstance(tool["dynamicprice"], str)  # the documented JSON-encoded string
        assert isinstance(json.loads(tool["dynamicprice"]), list)
    # The served record builds the spec the sandbox validates with.
    assert not differences(spec_from_tool(tool), spec_from_tool(TOOLS[slug]))


def test_the_sdk_spelling_is_the_default(api: Api) -> None:
    keys = {k for item in _items(_detail(api, "black-forest-labs/flux-2-flex")) for k in item}
    assert keys >= SDK_KEYS
    assert not DOCS_KEYS & keys
    assert "maxinputlenght" in keys
    options = next(i for i in _items(_detail(api, "black-forest-labs/flux-2-flex"))
                   if i["id"] == "outputFormat")["options"]
    assert options[0] == {"value": "jpeg", "label": "JPEG"}


def test_the_docs_spelling_on_request(make_sandbox: Any) -> None:
    sb = make_sandbox(schema_spelling="docs")
    tool = _detail(Api(sb), "black-forest-labs/flux-2-flex")
    keys = {k for item in _items(tool) for k in item}
    assert keys >= DOCS_KEYS
    assert not SDK_KEYS & keys
    steps = next(i for i in _items(tool) if i["id"] == "steps")
    assert (steps["defaultvalue"], steps["minvalue"], steps["maxvalue"]) == (50, 1, 50)
    options = next(i for i in _items(tool) if i["id"] == "outputFormat")["options"]
    assert options[0] == {"value": "jpeg", "text": "JPEG"}
    # Both spellings read into the same spec, which agrees with the built-in one.
    assert differences(FLUX_2_FLEX, spec_from_tool(tool)) == []


def test_a_bad_spelling_is_refused(make_sandbox: Any) -> None:
    with pytest.raises(ValueError, match="schema_spelling"):
        make_sandbox(schema_spelling="camel")


def test_tool_detail_accepts_raw_slugs_and_names_close_ones_for_unknown(api: Api) -> None:
    assert _detail(api, "Qwen/Qwen3.5-27B")["cleanslugproject"] == "qwen3-5-27b"
    error = assert_envelope(api.post("/Tool/Detail", json={
        "slugowner": "google", "slugproject": "nano-banan"}), 200, 1)
    assert "google/nano-banana" in error["message"]
    assert_envelope(api.post("/Tool/Detail", json={}), 200, 0, "[slugowner] required")


def test_tool_list_filters_and_pages(api: Api) -> None:
    body = api.post("/Tool/List", json={"start": "0", "limit": "50"}).json()
    assert body["result"] is True
    assert body["total"] == len(TOOLS)  # a number here, as models.md shows it
    assert {f"{t['cleanslugowner']}/{t['cleanslugproject']}" for t in body["tool"]} == set(TOOLS)
    assert all("parameters" not in t for t in body["tool"])
    banana = api.post("/Tool/List", json={"search": "banana"}).json()
    assert {t["cleanslugproject"] for t in banana["tool"]} == {
        "nano-banana", "nano-banana-pro", "nano-banana-2"}
    video = api.post("/Tool/List", json={"categories": ["text-to-video"]}).json()
    assert [t["cleanslugproject"] for t in video["tool"]] == ["3d-text-animations"]
    page = api.post("/Tool/List", json={"start": "2", "limit": "3"}).json()
    assert len(page["tool"]) == 3
    assert page["total"] == len(TOOLS)
    owner = api.post("/Tool/List", json={"slugowner": "black-forest-labs"}).json()
    assert owner["total"] == 3


def test_tool_explore_groups_the_catalogue(api: Api) -> None:
    body = api.post("/Tool/Explore", json={}).json()
    assert body["result"] is True
    groups = {g["title"]: g for g in body["explore"]}
    assert {"id", "title", "tools"} <= set(next(iter(groups.values())))
    every = [t for g in body["explore"] for t in g["tools"]]
    assert len(every) == len(TOOLS)
    text = next(g for g in body["explore"] if "Text" in g["title"])
    assert [t["cleanslugproject"] for t in text["tools"]] == ["qwen3-5-27b"]
    for tool in every:
        assert {"cleanslugowner", "cleanslugproject", "title"} <= set(tool)


def test_run_answers_unknown_models_with_code_1(api: Api) -> None:
    assert_envelope(api.run("someone/nothing", json={"prompt": "x"}), 200, 1,
                    "slug-owner-project-not-exist")


@pytest.mark.parametrize(("slug", "name", "value", "message"), [
    ("google/nano-banana-pro", "resolution", "8K", "must be one of 1K, 2K, 4K"),
    ("klingai/kling-v3", "duration", "20", "must be between 3 and 15"),
    ("qwen/qwen3-5-27b", "top_k", "101", "must be between 0 and 100"),
    ("qwen/qwen3-5-27b", "do_sample", "maybe", "must be true or false"),
    ("wiro/filters", "filter", "Neon", "must be one of Vivid"),
])
def test_run_validates_each_model_with_its_own_spec(api: Api, slug: str, name: str,
                                                     value: str, message: str) -> None:
    answer = api.run(slug, json={"prompt": "x", name: value})
    error = assert_envelope(answer, 200, 0)
    assert f"Request parameter [{name}] {message}" in error["message"]


def _finished(sandbox: Any, api: Api, slug: str, body: dict[str, Any]) -> dict[str, Any]:
    assert sandbox.wait_idle(20)
    answer = api.run(slug, json=body).json()
    assert answer["result"] is True, answer
    record = api.wait(answer["socketaccesstoken"])
    assert record["pexit"] == "0", record
    return record


def test_a_video_model_answers_a_short_mp4(sandbox: Any, api: Api) -> None:
    record = _finished(sandbox, api, "klingai/kling-v3", {"prompt": "a kayak", "steps": 2})
    (output,) = record["outputs"]
    assert output["contenttype"] == "video/mp4"
    assert output["name"].endswith(".mp4")
    data = requests.get(output["url"], timeout=10).content
    assert data[4:8] == b"ftyp"
    assert int(output["size"]) == len(data)


def test_an_llm_answers_raw_text_and_debugoutput(sandbox: Any, api: Api) -> None:
    record = _finished(sandbox, api, "qwen/qwen3-5-27b", {"prompt": "why is the sky blue?",
                                                           "steps": 2})
    (output,) = record["outputs"]
    assert output["contenttype"] == "raw"
    assert "url" not in output
    content = output["content"]
    assert content["prompt"] == "why is the sky blue?"
    assert content["answer"] == [content["raw"]]
    assert content["raw"].startswith("[SANDBOX]")
    assert "why is the sky blue?" in content["raw"]
    assert record["debugoutput"] == content["raw"]


def test_image_models_make_as_many_images_as_asked(sandbox: Any, api: Api) -> None:
    record = _finished(sandbox, api, "stabilityai/sdxl-turbo",
                       {"prompt": "koala", "samples": 3, "steps": 1})
    assert [o["name"] for o in record["outputs"]] == ["0.png", "1.png", "2.png"]
    sizes = {Image.open(io.BytesIO(requests.get(o["url"], timeout=10).content)).size
             for o in record["outputs"]}
    assert sizes == {(512, 512)}  # the model's default width and height


def test_an_aspect_ratio_choice_sets_the_picture_size(sandbox: Any, api: Api) -> None:
    record = _finished(sandbox, api, "google/nano-banana-pro",
                       {"prompt": "koala", "aspectRatio": "16:9", "steps": 1})
    (output,) = record["outputs"]
    image = Image.open(io.BytesIO(requests.get(output["url"], timeout=10).content))
    assert image.size == (1024, 576)
    assert json.loads(record["categories"])[0] == "tool"
