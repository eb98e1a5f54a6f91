"""Saved images carry their parameters: PNG text chunks, JPEG comments and EXIF, sidecars."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

import wiro_widgets
from wiro_widgets.auth import Credentials
from wiro_widgets.metadata import KEY, NoParamsFound, read_params, save_result
from wiro_widgets.results import Result

from .conftest import encode, noisy_image

NAME = re.compile(r"^\d{8}-\d{6}_flux-2-flex_seed123_0\.(png|jpg)$")
REFS = [{"name": "cat.png", "sha256": "ab" * 32, "size": 1234, "source": "file",
         "url": "http://127.0.0.1:1/uploads/cat.png"}]


def _png_chunk_types(data: bytes) -> list[bytes]:
    pos, types = 8, []
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        types.append(data[pos + 4:pos + 8])
        pos += 12 + length
    return types


def _png_idat(data: bytes) -> bytes:
    pos, out = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"IDAT":
            out += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return out


def test_png_round_trip_keeps_the_original_pixels(make_result: Callable[..., Result],
                                                   tmp_path: Path) -> None:
    original = encode(noisy_image(), "PNG")
    result = make_result(original, prompt="a fox in «snow» ✓", input_images=REFS)
    [path] = result.save(tmp_path / "out")
    assert NAME.match(path.name), path.name
    meta = read_params(path)
    assert meta["model"] == "black-forest-labs/flux-2-flex"
    assert meta["seed"] == 123
    assert meta["params"]["prompt"] == "a fox in «snow» ✓"
    assert meta["params"]["input_images"] == REFS
    assert meta["task_id"] == result.task_id
    assert meta["cost"] == pytest.approx(0.0629)
    assert meta["created"].startswith("2025-11-25")
    assert meta["generator"] == f"wiro_widgets {wiro_widgets.__version__}"
    saved = path.read_bytes()
    # Spliced, not re-encoded: the compressed image data is byte for byte the original.
    assert _png_idat(saved) == _png_idat(original)
    types = _png_chunk_types(saved)
    assert types.index(b"iTXt") < types.index(b"IDAT")
    with Image.open(path) as image:
        assert KEY in image.text  # type: ignore[attr-defined]
        assert image.tobytes() == noisy_image().tobytes()
    # The sidecar holds the same record.
    assert json.loads(path.with_suffix(".json").read_text()) == meta


def test_jpeg_round_trip_via_comment_and_exif(make_result: Callable[..., Result],
                                              tmp_path: Path) -> None:
    original = encode(noisy_image(), "JPEG", quality=90)
    result = make_result(original, prompt="café at night")
    [path] = save_result(result, tmp_path, sidecar=False)
    assert path.suffix == ".jpg"
    assert not path.with_suffix(".json").exists()
    saved = path.read_bytes()
    scan = original.index(b"\xff\xda")
    assert saved.endswith(original[scan:])  # entropy-coded data untouched
    meta = read_params(path)
    assert meta["params"]["prompt"] == "café at night"
    with Image.open(path) as image:
        exif = image.getexif()
        description = json.loads(exif[0x010E])
        user_comment = exif.get_ifd(0x8769)[0x9286]
        assert description["params"]["prompt"] == "café at night"
        assert user_comment.startswith(b"ASCII\x00\x00\x00")
        assert json.loads(user_comment[8:])["seed"] == 123
        assert image.info["comment"].startswith(KEY.encode())


def test_jpeg_exif_alone_is_enough_and_existing_exif_is_kept(
        make_result: Callable[..., Result], tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    original = encode(noisy_image(), "JPEG", exif=exif.tobytes())
    [path] = make_result(original).save(tmp_path, sidecar=False)
    data = path.read_bytes()
    # Drop our COM segments: the EXIF copy must still answer.
    stripped = data.replace(b"\xff\xfe", b"\xff\xe9")  # COM -> an unknown APP9 segment
    bare = tmp_path / "stripped.jpg"
    bare.write_bytes(stripped)
    assert read_params(bare)["seed"] == 123
    with Image.open(path) as image:
        assert image.getexif()[0x010F] == "Camera Maker"


def test_long_prompt_spans_several_jpeg_comments(make_result: Callable[..., Result],
                                                 tmp_path: Path) -> None:
    prompt = "ünïcode " * 12_000  # ~100 KB of UTF-8, more than one segment holds
    [path] = make_result(encode(noisy_image(), "JPEG"), prompt=prompt).save(
        tmp_path, sidecar=False)
    with Image.open(path) as image:
        image.load()
        comments = [p for name, p in image.applist if name == "COM"]  # type: ignore[attr-defined]
    assert len(comments) >= 2
    assert read_params(path)["params"]["prompt"] == prompt


def test_sidecar_is_read_when_the_file_has_nothing(make_result: Callable[..., Result],
                                                   tmp_path: Path) -> None:
    [path] = make_result(encode(noisy_image(), "PNG")).save(tmp_path)
    plain = tmp_path / "plain.png"
    plain.write_bytes(encode(noisy_image(), "PNG"))
    with pytest.raises(NoParamsFound, match=r"plain\.png carries no wiro_widgets parameters"):
        read_params(plain)
    plain.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    assert read_params(plain)["seed"] == 123
    assert read_params(path.with_suffix(".json"))["task_id"]
    other = tmp_path / "other.json"
    other.write_text('{"seed": 1}')
    with pytest.raises(NoParamsFound):
        read_params(other)


def test_saving_twice_never_overwrites(make_result: Callable[..., Result],
                                       tmp_path: Path) -> None:
    result = make_result(encode(noisy_image(seed=1), "PNG"), encode(noisy_image(seed=2), "PNG"))
    first = result.save(tmp_path)
    second = result.save(tmp_path)
    assert [p.name[-6:] for p in first] == ["_0.png", "_1.png"]
    assert [p.name[-8:] for p in second] == ["_0-1.png", "_1-1.png"]
    assert len({*first, *second}) == 4
    assert all(p.with_suffix(".json").is_file() for p in (*first, *second))
    assert read_params(second[1])["output_index"] == 1


def test_no_secret_reaches_a_saved_file(make_result: Callable[..., Result],
                                        tmp_path: Path) -> None:
    creds = Credentials("key-1234567890abcdef", "secret-0987654321fedcba")
    [path] = make_result(encode(noisy_image(), "PNG"),
                         prompt="oops secret-0987654321fedcba pasted").save(tmp_path)
    for file in (path, path.with_suffix(".json")):
        assert b"secret-0987654321fedcba" not in file.read_bytes()
    assert "***" in read_params(path)["params"]["prompt"]
    del creds


def test_decoded_image_is_saved_when_the_cache_copy_is_gone(
        make_result: Callable[..., Result], tmp_path: Path) -> None:
    result = make_result(encode(noisy_image(), "PNG"))
    assert result.image.size == (64, 48)  # loaded once, kept in memory
    Path(result.outputs[0].path).unlink()
    [path] = result.save(tmp_path)
    assert read_params(path)["seed"] == 123
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        assert image.tobytes() == noisy_image().tobytes()
