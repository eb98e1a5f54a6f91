"""Reference images end to end: every kind of input, the body on the wire as the sandbox saw
it, JSON when only URLs travel, and local refusals that send nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from client_helpers import MODEL, SMALL, run_requests
from PIL import Image
from shared_helpers import encoded

from wiro_widgets.errors import ValidationError


def submit_refs(sb: Any, refs: list[Any], **extra: Any) -> tuple[Any, Any, Any]:
    client = sb.client()
    task = client.submit(MODEL, prompt="refs", input_images=refs, **{**SMALL, **extra})
    request = run_requests(sb)[-1]
    server_task = next(t for t in sb.tasks if t.id == task.id)
    return task, request, server_task


def test_each_kind_of_input_arrives_as_a_file_part(sandbox: Any, tmp_path: Path) -> None:
    path = tmp_path / "on-disk.png"
    path.write_bytes(encoded("PNG", color=(1, 2, 3)))
    jpeg = encoded("JPEG", color=(9, 9, 200))
    pil = Image.new("RGB", (30, 20), (0, 255, 0))
    upload = {"name": "from-browser.webp", "type": "image/webp", "size": 0,
              "content": memoryview(encoded("WEBP", color=(5, 5, 5)))}
    bunch = SimpleNamespace(name="bunch.gif", type="image/gif",
                            content=memoryview(encoded("GIF", color=(7, 7, 7))))
    refs = [str(path), path, jpeg, pil, upload, bunch]
    task, request, server_task = submit_refs(sandbox, refs)

    assert request.content_type.startswith("multipart/form-data")
    files = [(n, f, c) for n, f, c, _ in request.parts if f is not None]
    assert files == [
        ("inputImage", "on-disk.png", "image/png"), ("inputImage", "on-disk.png", "image/png"),
        ("inputImage", "image-3.jpg", "image/jpeg"), ("inputImage", "image-4.png", "image/png"),
        ("inputImage", "from-browser.webp", "image/webp"),
        ("inputImage", "bunch.gif", "image/gif"),
    ]
    # Other parameters travel as text fields of the same body.
    texts = {n for n, f, _, _ in request.parts if f is None}
    assert {"prompt", "width", "height", "steps", "seed", "guidance"} <= texts
    # The bytes arrived intact and in order.
    local = [d["sha256"] for d in task.params["input_images"]]
    assert [i["sha256"] for i in server_task.inputs] == local
    assert local[0] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert local[2] == hashlib.sha256(jpeg).hexdigest()
    assert [d["source"] for d in task.params["input_images"]] == [
        "file", "file", "bytes", "pil", "upload", "upload"]


def test_urls_alone_go_as_a_json_array(sandbox: Any) -> None:
    urls = ["https://example.com/one.png", "https://example.com/two.jpg"]
    task, request, server_task = submit_refs(sandbox, urls)
    assert request.content_type == "application/json"
    assert request.json["inputImage"] == urls
    assert [i["source"] for i in server_task.inputs] == ["url", "url"]
    assert [d["url"] for d in task.params["input_images"]] == urls


def test_mixed_files_and_urls_keep_their_order(sandbox: Any, png_file: Path) -> None:
    refs = ["https://example.com/first.png", png_file, "https://example.com/third.png",
            encoded("JPEG")]
    _, request, server_task = submit_refs(sandbox, refs)
    image_parts = [(f, c) for n, f, c, _ in request.parts if n == "inputImage"]
    assert [f is not None for f, _ in image_parts] == [False, True, False, True]
    assert [i["source"] for i in server_task.inputs] == ["url", "file", "url", "file"]


def test_ten_references_in_one_field(sandbox: Any) -> None:
    refs = [encoded("PNG", color=(i * 20, 0, 0)) for i in range(10)]
    _, request, server_task = submit_refs(sandbox, refs)
    assert sum(1 for n, f, _, _ in request.parts if n == "inputImage" and f) == 10
    assert len(server_task.inputs) == 10


def test_zero_size_follows_the_first_reference(sandbox: Any) -> None:
    client = sandbox.client()
    result = client.run(MODEL, prompt="match", input_images=[encoded("PNG", (96, 80))],
                        width=0, height=0, steps=2)
    assert result.images[0].size == (96, 80)
    assert result.params["width"] == 0


@pytest.mark.parametrize(("make", "rule"), [
    (lambda tmp: tmp / "missing.png", "no such file"),
    (lambda tmp: b"definitely not an image", "is not an image"),
    (lambda tmp: encoded("PNG")[:60], "corrupt or truncated"),
    (lambda tmp: b"", "0 bytes"),
    (lambda tmp: "file:///etc/hosts", "URLs are not accepted"),
    (lambda tmp: 12345, "must be a path"),
])
def test_local_refusals_send_nothing(sandbox: Any, tmp_path: Path, make: Any,
                                     rule: str) -> None:
    client = sandbox.client()
    client.spec(MODEL)  # the model's schema is read once, before anything is checked
    before = len(sandbox.requests)
    with pytest.raises(ValidationError) as info:
        client.submit(MODEL, prompt="bad ref", input_images=[encoded(), make(tmp_path)],
                      **SMALL)
    assert info.value.field == "input_images[1]"
    assert rule in info.value.rule
    assert len(sandbox.requests) == before


def test_oversized_reference_is_refused_locally(sandbox: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import wiro_widgets.references as references

    monkeypatch.setattr(references, "MAX_UPLOAD_BYTES", 1000)
    big = tmp_path / "big.png"
    Image.effect_noise((64, 64), 50).save(big)
    assert big.stat().st_size > 1000
    client = sandbox.client()
    client.spec(MODEL)  # the model's schema is read once, before anything is checked
    before = len(sandbox.requests)
    with pytest.raises(ValidationError, match="may be at most"):
        client.submit(MODEL, prompt="big", input_images=[big], **SMALL)
    assert len(sandbox.requests) == before


def test_result_params_hold_descriptors_not_bytes(sandbox: Any) -> None:
    result = sandbox.client().run(MODEL, prompt="descr", input_images=[encoded()], **SMALL)
    (descriptor,) = result.params["input_images"]
    assert set(descriptor) >= {"name", "sha256", "size", "source", "url"}
    assert not any(isinstance(v, bytes) for v in descriptor.values())
