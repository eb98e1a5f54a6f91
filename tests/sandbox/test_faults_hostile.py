"""Fault mode: hostile outputs (issue 12), which a client must refuse clearly: a NUL in the
name, an SVG, a truncated PNG, a pixel bomb, a declared 2 GB. Raw HTTP only."""

from __future__ import annotations

import io
from typing import Any

import pytest
import requests
from PIL import Image

from wiro_widgets.sandbox import HOSTILE_OUTPUTS

from .wire import Api


def _output(sb: Any, **params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a small task to its end; its record and its first output item."""
    api = Api(sb)
    answer = api.run_ok(prompt="hostile", steps=1, width=64, height=64, **params)
    record = api.wait(answer["socketaccesstoken"])
    assert (record["status"], record["pexit"]) == ("task_postprocess_end", "0")
    return record, record["outputs"][0]


def test_output_name_with_a_nul_byte(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"hostile_output": "nul_in_name"})
    _, item = _output(sb)
    assert "\x00" in item["name"]
    assert item["name"] == "0\x00.png"
    got = requests.get(item["url"], timeout=10)
    assert got.status_code == 200
    assert got.content.startswith(b"\x89PNG")


def test_an_svg_output(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"hostile_output": "svg"})
    _, item = _output(sb)
    assert (item["name"], item["contenttype"]) == ("0.svg", "image/svg+xml")
    got = requests.get(item["url"], timeout=10)
    assert got.content.startswith(b"<svg")
    assert int(item["size"]) == len(got.content)
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(io.BytesIO(got.content))


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_a_truncated_png_output(make_sandbox: Any, fmt: str) -> None:
    sb = make_sandbox(faults={"hostile_output": "truncated_png"})
    _, item = _output(sb, outputFormat=fmt)
    assert (item["name"], item["contenttype"]) == ("0.png", "image/png")
    data = requests.get(item["url"], timeout=10).content
    assert data.startswith(b"\x89PNG")
    assert int(item["size"]) == len(data)
    with pytest.raises(OSError), Image.open(io.BytesIO(data)) as image:
        image.load()


def test_a_pixel_bomb_output(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"hostile_output": "pixel_bomb"})
    _, item = _output(sb)
    data = requests.get(item["url"], timeout=10).content
    assert int(item["size"]) == len(data) < 20_000
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (8192, 8192)   # 67 MP: under Pillow's own guard of ~89 MP
        assert image.width * image.height > 64_000_000


def test_an_output_that_declares_2_gb_and_streams_it(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"hostile_output": "huge_size"})
    record, item = _output(sb)
    assert item["size"] == str(2 << 30)
    assert record["size"] == str(2 << 30)
    with requests.get(item["url"], stream=True, timeout=10) as got:
        assert int(got.headers["Content-Length"]) == 2 << 30
        chunks = got.iter_content(1 << 20)
        first = next(chunks)
        assert first.startswith(b"\x89PNG")
        read = len(first) + sum(len(next(chunks)) for _ in range(8))
        assert read > 8 << 20
    # Hanging up mid-stream costs the sandbox nothing.
    assert Api(sb).post("/Task/Detail", json={}).status_code == 200


def test_failed_tasks_have_no_hostile_outputs(make_sandbox: Any) -> None:
    sb = make_sandbox(faults={"hostile_output": "svg"})
    api = Api(sb)
    record = api.wait(api.run_ok(prompt="fail-me", steps=2)["socketaccesstoken"])
    assert record["outputs"] == []


def test_every_hostile_kind_is_known() -> None:
    from wiro_widgets.sandbox import Faults

    assert set(HOSTILE_OUTPUTS) == {"nul_in_name", "svg", "truncated_png", "pixel_bomb",
                                    "huge_size"}
    with pytest.raises(ValueError, match="hostile_output"):
        Faults(hostile_output="virus")
