"""The model page's own Run sample runs (issue 13 item 11): Wiro's sample file names resolve to
the sandbox's own labelled sample pictures."""

from __future__ import annotations

import io
from typing import Any

import requests
from PIL import Image

from wiro_widgets.sandbox.samples import SAMPLE_ROOT, sample_name, sample_picture

from .wire import Api, assert_envelope

#: The flux-2-flex model page's "Run Command" body, byte for byte (flux-2-flex-seed.md): JSON
#: sent with a multipart Content-Type, inputs named by sample file name, guidance a string,
#: and a callbackUrl that is prose.
MODEL_PAGE_RUN = (
    '{ "inputImage": [ "bfl-flux-2-flex-input-4-1.jpg", "bfl-flux-2-flex-input-4-2.jpg", '
    '"bfl-flux-2-flex-input-4-3.jpg" ], "prompt": "Add woman in the image 2 and dog in the '
    'image 3 under the umbrella in the image 1 facing to the sea.", "width": 1024, "height": '
    '1024, "safetyTolerance": 2, "seed": 123, "guidance": "4.5", "steps": 50, "outputFormat": '
    '"png", "callbackUrl": "You can provide a callback URL; Wiro will send a POST request to it '
    'when the task is completed." }'
)
SAMPLES = ["bfl-flux-2-flex-input-4-1.jpg", "bfl-flux-2-flex-input-4-2.jpg",
           "bfl-flux-2-flex-input-4-3.jpg"]


def test_the_model_page_run_sample_runs(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=200.0)
    api = Api(sb)
    response = api.run(data=MODEL_PAGE_RUN.encode(),
                       headers={"Content-Type": "multipart/form-data"})
    answer = response.json()
    assert answer["result"] is True, answer
    record = api.wait(answer["socketaccesstoken"], timeout=30)
    assert (record["status"], record["pexit"]) == ("task_postprocess_end", "0")
    task = sb.tasks[-1]
    assert [i["filename"] for i in task.inputs] == SAMPLES
    assert [i["url"] for i in task.inputs] == [SAMPLE_ROOT + name for name in SAMPLES]
    assert all(i["placeholder"] and i["content_type"] == "image/jpeg" for i in task.inputs)
    assert record["parameters"]["inputImage"] == ",".join(SAMPLE_ROOT + n for n in SAMPLES)
    assert task.params["guidance"] == 4.5
    output = requests.get(record["outputs"][0]["url"], timeout=10).content
    with Image.open(io.BytesIO(output)) as image:
        assert image.size == (1024, 1024)


def test_sample_names_and_their_cdn_urls_give_the_same_picture(sandbox: Any,
                                                               api: Api) -> None:
    name = "bfl-flux-2-flex-input-5.jpg"
    bare = api.run_ok(prompt="bare", steps=1, width=64, height=64, inputImage=[name])
    url = api.run_ok(prompt="url", steps=1, width=64, height=64, inputImage=SAMPLE_ROOT + name)
    by_id = {t.id: t for t in sandbox.tasks}
    first, second = by_id[bare["taskid"]].inputs[0], by_id[url["taskid"]].inputs[0]
    assert first["sha256"] == second["sha256"]
    assert first["url"] == second["url"] == SAMPLE_ROOT + name
    other = api.run_ok(prompt="other", steps=1, width=64, height=64,
                       inputImage=["bfl-flux-2-flex-input-4-1.jpg"])
    assert sandbox.tasks[-1].id == other["taskid"]
    assert sandbox.tasks[-1].inputs[0]["sha256"] != first["sha256"]


def test_width_0_matches_the_first_sample(sandbox: Any, api: Api) -> None:
    name = "bfl-flux-2-flex-input-4-2.jpg"
    with Image.open(io.BytesIO(sample_picture(name)[0])) as picture:
        expected = picture.size
    answer = api.run_ok(prompt="match", steps=1, width=0, height=0, inputImage=[name])
    record = api.wait(answer["socketaccesstoken"])
    output = requests.get(record["outputs"][0]["url"], timeout=10).content
    with Image.open(io.BytesIO(output)) as image:
        assert image.size == expected


def test_sample_pictures_are_labelled_real_images() -> None:
    for name, kind, fmt in (("a-1.jpg", "image/jpeg", "JPEG"), ("b.png", "image/png", "PNG"),
                            ("c.webp", "image/webp", "WEBP")):
        data, content_type = sample_picture(name)
        assert content_type == kind
        assert sample_picture(name)[0] == data          # deterministic
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == fmt
            image.load()


def test_what_is_not_a_sample_name() -> None:
    assert sample_name("bfl-flux-2-flex-input-4-1.jpg") == "bfl-flux-2-flex-input-4-1.jpg"
    for entry in ("photos/cat.jpg", "cat", "../x.jpg", "x.exe", "https://example.com/a.jpg",
                  f"{SAMPLE_ROOT}sub/a.jpg", ".jpg"):
        assert sample_name(entry) is None, entry


def test_a_bare_path_that_is_no_sample_name_is_still_refused(api: Api) -> None:
    response = api.run(json={"prompt": "x", "inputImage": ["photos/cat.jpg"]})
    assert_envelope(response, 200, 0, "not a bare path")
