"""Every catalogue model through the client against the sandbox: the spec read from Tool/Detail,
parameters checked locally, the wire encoding, outputs of the right kind; the spec cache;
sweeps across models; the model list."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from client_helpers import MODEL, run_requests
from shared_helpers import encoded

from wiro_widgets import ModelNotFound, ValidationError
from wiro_widgets.sandbox.catalogue import load_catalogue, model_outputs
from wiro_widgets.specs import FLUX_2_FLEX

TOOLS = load_catalogue()
REF = "https://example.com/ref.png"


@pytest.fixture(scope="module")
def fast() -> Any:
    from wiro_widgets.sandbox import Sandbox

    with Sandbox(speed=100.0, concurrency_limit=None) as sb:
        yield sb


def _minimal(spec: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"steps": 2} if _has(spec, "steps") else {}
    if spec.form.prompt:
        params[spec.form.prompt] = "a koala in a shirt"
    if spec.file_param is not None:
        params[spec.file_param.py_name] = [REF]
    if _has(spec, "input_image_url"):  # wiro/filters takes its picture as a URL text input
        params["input_image_url"] = REF
    return params


def _has(spec: Any, name: str) -> bool:
    try:
        spec.param(name)
    except KeyError:
        return False
    return True


@pytest.mark.parametrize("slug", sorted(TOOLS))
def test_every_catalogue_model_runs_through_the_client(fast: Any, slug: str) -> None:
    client = fast.client()
    spec = client.spec(slug)
    assert spec is not None
    assert spec.slug == slug
    assert [p.name for p in spec.params] == [
        i["id"] for g in TOOLS[slug]["parameters"] for i in g["items"]]
    result = client.run(slug, timeout=60, **_minimal(spec))
    kind = model_outputs(slug)["contenttype"]
    if kind == "raw":
        assert result.text.startswith("[SANDBOX]")
        assert [o.kind for o in result.outputs] == ["text"]
        assert "<pre" in result._repr_html_()
    elif kind.startswith("video/"):
        (video,) = result.videos
        assert video.read_bytes()[4:8] == b"ftyp"
        assert "<video" in result._repr_html_()
        assert result.images == []
    else:
        assert result.images
        assert all(o.kind == "image" for o in result.outputs)
        assert "<img" in result._repr_html_()
    assert all(path.is_file() for path in result.files)
    # The ledger has the task and its outputs.
    entry = client.ledger.tasks()[result.token]
    assert entry.outcome == "succeeded"


@pytest.mark.parametrize(("slug", "name", "value", "rule"), [
    ("google/nano-banana-pro", "resolution", "8K", "must be one of '1K', '2K', '4K'"),
    ("klingai/kling-v3", "duration", 20, "must be an integer from 3 to 15"),
    ("klingai/kling-v3", "scale", 1.5, "must be a number from 0 to 1"),
    ("qwen/qwen3-5-27b", "top_k", 101, "must be an integer from 0 to 100"),
    ("qwen/qwen3-5-27b", "do_sample", "maybe", "must be True or False"),
    ("stabilityai/sdxl-turbo", "scheduler", "Nope", "must be one of"),
    ("bytedance/seedream-v4-5", "max_images", 16, "from 1 to 15"),
    ("google/nano-banana-pro", "input_image", [REF] * 15, "takes at most 14 images"),
])
def test_bad_values_are_refused_locally(fast: Any, slug: str, name: str, value: Any,
                                        rule: str) -> None:
    client = fast.client()
    client.spec(slug)
    before = len(fast.requests)
    with pytest.raises(ValidationError) as info:
        client.submit(slug, prompt="x", **{name: value})
    assert info.value.field == name
    assert info.value.value == value or name == "input_image"
    assert rule in info.value.rule
    assert len(fast.requests) == before  # nothing was sent


def test_api_ids_and_numpy_numbers_are_accepted(fast: Any) -> None:
    np = pytest.importorskip("numpy")
    client = fast.client()
    task = client.submit("qwen/qwen3-5-27b", prompt="hi", top_k=np.int64(5),
                         temperature=np.float32(0.5), do_sample=True)
    sent = run_requests(fast)[-1].json
    assert sent["top_k"] == 5
    assert sent["temperature"] == 0.5
    assert sent["do_sample"] == "true"  # a checkbox travels as the SDKs' string
    assert task.params["do_sample"] is True
    task = client.submit("klingai/kling-v3", prompt="x", negativePrompt="blur", multiShot=True)
    sent = run_requests(fast)[-1].json
    assert (sent["negativePrompt"], sent["multiShot"]) == ("blur", "true")
    assert task.params["negative_prompt"] == "blur"


def test_width_and_height_are_left_out_with_references_unless_set(fast: Any) -> None:
    client = fast.client()
    client.submit(MODEL, prompt="as image 1", input_images=[REF], steps=2)
    sent = run_requests(fast)[-1].json
    assert "width" not in sent
    assert "height" not in sent
    client.submit(MODEL, prompt="as set", input_images=[REF], steps=2, width=512)
    sent = run_requests(fast)[-1].json
    assert sent["width"] == 512
    assert "height" not in sent
    client.submit(MODEL, prompt="no refs", steps=2)
    sent = run_requests(fast)[-1].json
    assert (sent["width"], sent["height"]) == (1024, 1024)  # the model's own default


def test_file_inputs_are_encoded_as_their_type_requires(fast: Any) -> None:
    client = fast.client()
    # combinefileinput, URLs only: a JSON array under the id (the SDKs' encoding).
    client.submit("klingai/kling-v3", prompt="x", input_image=[REF],
                  input_image2=["https://example.com/last.png"])
    request = run_requests(fast)[-1]
    assert request.json["inputImage"] == [REF]
    assert request.json["inputImage2"] == ["https://example.com/last.png"]
    # Bytes: multipart, one part per entry under the id.
    client.submit("google/nano-banana", prompt="x", input_image=[encoded(), REF])
    request = run_requests(fast)[-1]
    assert request.json is None
    image_parts = [p for p in request.parts if p[0] == "inputImage"]
    assert [p[1] is not None for p in image_parts] == [True, False]


def test_the_spec_is_cached_on_disk_and_used_offline(fast: Any, make_sandbox: Any,
                                                     wiro_home: Any) -> None:
    client = fast.client()
    fetched = client.spec("google/nano-banana-pro")
    cached = wiro_home / "specs" / "google__nano-banana-pro.json"
    stored = json.loads(cached.read_text())
    assert stored["tool"]["cleanslugproject"] == "nano-banana-pro"
    assert stored["fetched_at"] <= time.time()
    # A second client within the time-to-live reads the file, not the API.
    before = [r for r in fast.requests if r.path == "/v1/Tool/Detail"]
    again = fast.client().spec("google/nano-banana-pro")
    assert again == fetched
    assert [r for r in fast.requests if r.path == "/v1/Tool/Detail"] == before
    # Expired, with the API unreachable: the cached schema, with a warning.
    stored["fetched_at"] -= 2 * 86_400
    cached.write_text(json.dumps(stored))
    gone = make_sandbox()
    offline = gone.client()
    gone.stop()
    with pytest.warns(UserWarning, match="cached .* hours ago"):
        assert offline.spec("google/nano-banana-pro") == fetched
    # Nothing cached: the built-in spec for flux-2-flex, with a warning ...
    with pytest.warns(UserWarning, match="built-in spec"):
        assert offline.spec(MODEL) is FLUX_2_FLEX
    # ... and no spec at all for a model nothing describes.
    with pytest.warns(UserWarning, match="sent unchecked"):
        assert offline.spec("someone/new-model") is None


def test_an_expired_spec_is_fetched_again(fast: Any) -> None:
    client = fast.client(spec_ttl=0.0)
    client.spec("google/nano-banana")
    client.spec("google/nano-banana")
    assert len([r for r in fast.requests[-4:] if r.path == "/v1/Tool/Detail"]) >= 2


def test_unknown_models_are_not_found_with_the_closest_names(fast: Any) -> None:
    with pytest.raises(ModelNotFound) as info:
        fast.client().spec("klingai/kling-v2")
    assert "klingai/kling-v3" in info.value.closest
    assert info.value.code == 1


def test_models_lists_tool_list(fast: Any) -> None:
    from wiro_widgets import models

    found = models(search="banana", client=fast.client())
    assert found.slugs == ["google/nano-banana", "google/nano-banana-2",
                           "google/nano-banana-pro"]
    assert found.total == 3
    priced = next(m for m in found if m.slug == "google/nano-banana")
    assert priced.price_text == "$0.039 per output"
    assert "google/nano-banana" in found._repr_html_()
    video = fast.client().models(category="text-to-video")
    assert video.slugs == ["wiro/3d-text-animations"]


def test_a_sweep_across_models(fast: Any) -> None:
    client = fast.client()
    sweep = client.sweep(model=[MODEL, "google/nano-banana-pro"], prompt="a lighthouse",
                         steps=2, seed=[1, 2], on_progress=lambda p: None)
    assert list(sweep.axes) == ["model", "seed"]
    assert len(sweep.results) == 4
    assert {r.model for r in sweep.results} == {MODEL, "google/nano-banana-pro"}
    # steps and seed belong to flux only: dropped for nano-banana-pro, with a note.
    assert sweep.dropped == {"google/nano-banana-pro": ("seed", "steps")}
    nano = [r for r in sweep.results if r.model == "google/nano-banana-pro"]
    assert all("steps" not in r.params for r in nano)
    assert "google/nano-banana-pro has no seed, steps" in sweep.notes[0]
    grid = sweep._repr_html_()
    assert "model=flux-2-flex" in grid
    assert "nano-banana-pro" in grid
    with pytest.raises(ValidationError, match="none of the models"):
        client.sweep(model=[MODEL, "google/nano-banana-pro"], prompt="x", sampler="euler")


def test_llm_text_and_a_video_survive_a_reload_from_the_ledger(fast: Any) -> None:
    client = fast.client()
    text = client.run("qwen/qwen3-5-27b", prompt="hello there", timeout=60)
    video = client.run("wiro/3d-text-animations", caption="SALE", timeout=60)
    reloaded = {r.token: r for r in fast.client().history()}
    assert reloaded[text.token].text == text.text
    assert "hello there" in reloaded[text.token].text
    assert reloaded[video.token].videos == video.videos
    assert [o.kind for o in reloaded[video.token].outputs] == ["video"]


def test_a_sweep_shows_text_and_video_results_in_its_grid(fast: Any) -> None:
    sweep = fast.client().sweep(model=["qwen/qwen3-5-27b", "wiro/3d-text-animations"],
                                prompt="SALE", on_progress=lambda p: None)
    assert sweep.dropped == {"wiro/3d-text-animations": ("prompt",)}
    grid = sweep._repr_html_()
    assert "[SANDBOX]" in grid  # the LLM's answer
    assert ">video<" in grid
