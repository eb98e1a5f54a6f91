"""Output images: deterministic, seed-sensitive, sized as asked, real PNG/JPEG, references
composed in, a SANDBOX mark; output URLs that expire; no path tricks."""

from __future__ import annotations

import http.client
import io
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image, ImageChops, ImageStat

from wiro_widgets.sandbox.render import RenderSpec, output_size, render, snap_size

from .wire import Api, assert_envelope, png_bytes


def _output(api: Api, *, files: list[Any] | None = None, **params: Any) -> tuple[dict[str, Any],
                                                                                  bytes]:
    if files is None:
        answer = api.run_ok(**params)
    else:
        answer = api.run(files=files).json()
        assert answer["result"] is True, answer
    record = api.wait(answer["socketaccesstoken"])
    assert record["pexit"] == "0", record["debugerror"]
    (item,) = record["outputs"]
    response = requests.get(item["url"], timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == item["contenttype"]
    return item, response.content


def _mean_difference(a: bytes, b: bytes) -> float:
    first, second = Image.open(io.BytesIO(a)).convert("RGB"), Image.open(io.BytesIO(b)).convert(
        "RGB")
    return sum(ImageStat.Stat(ImageChops.difference(first, second)).mean) / 3


def test_same_parameters_same_bytes_other_seed_visibly_different(api: Api) -> None:
    params = {"prompt": "a quiet harbour", "width": 256, "height": 256, "steps": 2}
    _, first = _output(api, seed=7, **params)
    _, again = _output(api, seed=7, **params)
    _, other = _output(api, seed=8, **params)
    assert first == again
    assert _mean_difference(first, other) > 20


def test_size_and_format_are_honoured(api: Api) -> None:
    item, data = _output(api, width=320, height=128, steps=1)
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == ("PNG", (320, 128))
    assert item["name"] == "0.png"
    item, data = _output(api, width=128, height=192, steps=1, outputFormat="jpeg")
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == ("JPEG", (128, 192))
    assert item["name"] == "0.jpg"
    assert item["contenttype"] == "image/jpeg"


def test_zero_size_matches_the_first_reference(api: Api) -> None:
    files = [("inputImage", ("first.png", png_bytes(200, 120), "image/png")),
             ("inputImage", ("second.png", png_bytes(64, 64), "image/png")),
             ("prompt", (None, "match")), ("steps", (None, "1")),
             ("width", (None, "0")), ("height", (None, "0"))]
    _, data = _output(api, files=files)
    assert Image.open(io.BytesIO(data)).size == (208, 128)


def test_reference_images_are_visibly_composed_in(api: Api) -> None:
    def with_reference(color: tuple[int, int, int]) -> bytes:
        files = [("inputImage", ("ref.png", png_bytes(96, 96, color), "image/png")),
                 ("prompt", (None, "compose")), ("steps", (None, "1")), ("seed", (None, "5")),
                 ("width", (None, "256")), ("height", (None, "256"))]
        return _output(api, files=files)[1]

    red = Image.open(io.BytesIO(with_reference((255, 0, 0)))).convert("RGB")
    blue = Image.open(io.BytesIO(with_reference((0, 0, 255)))).convert("RGB")
    red_mean, blue_mean = ImageStat.Stat(red).mean, ImageStat.Stat(blue).mean
    assert red_mean[0] - red_mean[2] > 30
    assert blue_mean[2] - blue_mean[0] > 30
    # The inset shows the reference's exact colour.
    assert red.getcolors(1 << 16) is not None
    assert any(c == (255, 0, 0) and n > 100 for n, c in red.getcolors(1 << 16))


def test_render_shows_references_labels_and_the_sandbox_badge() -> None:
    green = Image.new("RGB", (120, 80), (0, 255, 0))
    spec = RenderSpec(prompt="x", seed=3, width=512, height=512, references=(green, green),
                      reference_ids=("a", "b"))
    image = Image.open(io.BytesIO(render(spec))).convert("RGB")
    bottom = image.crop((0, 512 - 120, 512, 512))
    assert sum(n for n, c in bottom.getcolors(1 << 18) if c == (0, 255, 0)) > 2 * 2000
    badge = image.crop((512 - 200, 0, 512, 60))
    assert sum(n for n, c in badge.getcolors(1 << 18) if c == (200, 16, 40)) > 1000
    plain = Image.open(io.BytesIO(render(RenderSpec(prompt="x", seed=3, width=512,
                                                    height=512)))).convert("RGB")
    assert ImageChops.difference(image, plain).getbbox() is not None


@pytest.mark.parametrize(("width", "height"), [(64, 64), (2048, 64), (64, 2048)])
def test_render_extreme_sizes(width: int, height: int) -> None:
    refs = tuple(Image.new("RGB", (300, 200), (9 * i, 0, 0)) for i in range(10))
    spec = RenderSpec(prompt="p" * 500, seed=1, width=width, height=height, references=refs,
                      reference_ids=tuple(str(i) for i in range(10)), output_format="jpeg")
    assert Image.open(io.BytesIO(render(spec))).size == (width, height)


def test_size_snapping() -> None:
    assert [snap_size(s) for s in (1, 100, 200, 1000, 5000)] == [64, 96, 208, 1008, 2048]
    assert output_size(0, 512, (801, 600)) == (800, 512)
    assert output_size(320, 0, (801, 600)) == (320, 608)


def test_outputs_expire(make_sandbox: Any) -> None:
    sb = make_sandbox(output_ttl=1.0)
    api = Api(sb)
    item, _ = _output(api, steps=1, width=64, height=64)
    files_before = list((sb.data_dir / "cdn").rglob("*.png"))
    assert files_before
    time.sleep(1.1)
    assert_envelope(requests.get(item["url"], timeout=10), 404, 0, "expired")
    assert not any(p.exists() for p in files_before)


TRICKS = [
    "/cdn/../../secret.txt",
    "/cdn/%2e%2e/%2e%2e/secret.txt",
    "/cdn/%2E%2E%2F%2E%2E%2Fsecret.txt/0.png",
    "/v1/File/..%2f..%2f..%2fsecret.txt",
    "/v1/File/x/..\\..\\secret.txt",
    "/cdn//etc/passwd",
    "//etc/passwd",
    "/cdn/./x/0.png",
    "/v1/File/%00/secret.txt",
    "/../secret.txt",
    "/cdn/x/y/z/../../../../secret.txt",
]


def test_path_tricks_answer_404_and_never_leave_the_data_dir(make_sandbox: Any,
                                                             tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("TOP-SECRET")
    sb = make_sandbox(data_dir=tmp_path / "data")
    item, _ = _output(Api(sb), steps=1, width=64, height=64)
    valid = item["url"].split("://", 1)[1].split("/", 1)[1]
    host, port = sb.base_url.split("://", 1)[1].split("/", 1)[0].split(":")
    tricks = [*TRICKS, "/" + valid.replace("/0.png", "/../0.png"),
              "/" + valid.replace("cdn/", "cdn/%2e/"), "/" + valid + "/..",
              "/" + valid.replace("/", "\\")]
    for path in tricks:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status == 404, (path, response.status)
        assert b"TOP-SECRET" not in body
        assert b"root:" not in body
        assert response.getheader("x-wiro-sandbox") == "1"
    assert requests.get(item["url"], timeout=10).status_code == 200
