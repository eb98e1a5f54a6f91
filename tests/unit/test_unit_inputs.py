"""Reference images: every accepted kind, every local refusal, and the body shapes."""

from __future__ import annotations

import hashlib
import io
import json
import pathlib
import random
import struct
import tracemalloc
import zlib
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image
from requests_toolbelt.multipart.decoder import MultipartDecoder

from wiro_widgets.client._body import build_body
from wiro_widgets.errors import ValidationError
from wiro_widgets.protocol import MAX_UPLOAD_BYTES
from wiro_widgets.references import (
    Reference,
    is_reference_like,
    normalize_reference,
    normalize_references,
)

FIELD = "input_images"


def encoded(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 90)).save(buffer, format=fmt)
    return buffer.getvalue()


PNG = encoded("PNG", (32, 24))
JPEG = encoded("JPEG")


# -- accepted kinds -------------------------------------------------------------------------------

def test_path_as_str_and_pathlib(png_file: pathlib.Path) -> None:
    for value in (str(png_file), png_file):
        ref = normalize_reference(value, 0, FIELD)
        assert ref.source == "file"
        assert ref.name == "reference.png"
        assert ref.content_type == "image/png"
        assert ref.size == png_file.stat().st_size
        assert ref.sha256 == hashlib.sha256(png_file.read_bytes()).hexdigest()
        assert ref.data is None  # nothing preloaded
        with ref.open() as handle:
            assert handle.read() == png_file.read_bytes()


def test_jpeg_path(jpeg_file: pathlib.Path) -> None:
    assert normalize_reference(jpeg_file, 3, FIELD).content_type == "image/jpeg"


@pytest.mark.parametrize(("fmt", "content_type"), [
    ("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif"),
])
def test_bytes_of_each_format(fmt: str, content_type: str) -> None:
    data = encoded(fmt)
    ref = normalize_reference(data, 1, FIELD)
    assert ref.source == "bytes"
    assert ref.content_type == content_type
    assert ref.size == len(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.name.startswith("image-2.")
    assert normalize_reference(bytearray(data), 0, FIELD).sha256 == ref.sha256
    assert normalize_reference(memoryview(data), 0, FIELD).sha256 == ref.sha256


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "CMYK", "I;16", "F", "1"])
def test_pil_images_of_every_mode_encode_once_as_png(mode: str) -> None:
    image = Image.new(mode, (20, 10))
    ref = normalize_reference(image, 0, FIELD)
    assert ref.source == "pil"
    assert ref.content_type == "image/png"
    assert ref.data is not None
    assert Image.open(io.BytesIO(ref.data)).size == (20, 10)


def test_http_and_https_urls_are_not_fetched() -> None:
    for url in ("https://cdn.example.com/refs/a.jpg", "http://example.com/b.png?x=1"):
        ref = normalize_reference(url, 0, FIELD)
        assert ref.source == "url"
        assert ref.url == url
        assert ref.content_type is None
        assert ref.size is None
        assert ref.sha256 is None
    assert normalize_reference("https://example.com/a.jpg", 0, FIELD).name == "a.jpg"


def test_file_upload_entries_as_dict_and_attributes() -> None:
    entry = {"name": "cat.png", "type": "image/png", "size": len(PNG),
             "content": memoryview(PNG), "last_modified": None}
    ref = normalize_reference(entry, 0, FIELD)
    assert ref.source == "upload"
    assert ref.name == "cat.png"
    assert ref.content_type == "image/png"
    bunch = SimpleNamespace(name="dog.jpg", type="image/jpeg", size=len(JPEG),
                            content=memoryview(JPEG))
    ref2 = normalize_reference(bunch, 1, FIELD)
    assert ref2.name == "dog.jpg"
    assert ref2.content_type == "image/jpeg"
    assert is_reference_like(entry)
    assert is_reference_like(bunch)


def test_the_sniffed_type_wins_over_the_declared_one() -> None:
    entry = {"name": "photo.png", "type": "image/png", "content": memoryview(JPEG)}
    assert normalize_reference(entry, 0, FIELD).content_type == "image/jpeg"


def test_binary_file_objects() -> None:
    ref = normalize_reference(io.BytesIO(PNG), 0, FIELD)
    assert ref.source == "bytes"
    assert ref.content_type == "image/png"


def test_a_single_value_and_mixed_lists(png_file: pathlib.Path) -> None:
    assert len(normalize_references(png_file, FIELD)) == 1
    refs = normalize_references([png_file, PNG, Image.new("RGB", (4, 4)),
                                 "https://example.com/x.png",
                                 {"name": "u.jpg", "content": memoryview(JPEG)}], FIELD)
    assert [r.source for r in refs] == ["file", "bytes", "pil", "url", "upload"]
    assert [r.index for r in refs] == [0, 1, 2, 3, 4]
    assert normalize_references(None, FIELD) == []


# -- refusals -------------------------------------------------------------------------------------

def refused(value: Any, index: int = 2) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        normalize_reference(value, index, FIELD)
    assert info.value.field == f"input_images[{index}]"
    assert f"input_images[{index}]" in str(info.value)
    return info.value


def test_not_an_image(tmp_path: pathlib.Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not an image at all")
    assert "is not an image" in refused(text).rule
    assert "is not an image" in refused(b"%PDF-1.7 not an image").rule
    assert "is not an image" in refused({"name": "x.png", "content": memoryview(b"GIF8")}).rule


def test_empty_file_and_bytes(tmp_path: pathlib.Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert "0 bytes" in refused(empty).rule
    assert "0 bytes" in refused(b"").rule


def test_over_the_limit_is_refused_before_reading(tmp_path: pathlib.Path) -> None:
    big = tmp_path / "huge.png"
    with open(big, "wb") as handle:  # sparse: costs no disk
        handle.truncate(MAX_UPLOAD_BYTES + 1)
    err = refused(big)
    assert "at most 100 MB" in err.rule


def test_missing_path_and_directory(tmp_path: pathlib.Path) -> None:
    assert "no such file" in refused(tmp_path / "nope.png").rule
    assert "no such file" in refused(str(tmp_path / "nope.png")).rule
    assert "not a file" in refused(tmp_path).rule


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png",
                                 "data:image/png;base64,AAAA", "s3://bucket/a.png"])
def test_non_http_urls_are_refused(url: str) -> None:
    assert "URLs are not accepted" in refused(url).rule


@pytest.mark.parametrize("value", ["https://", "https:///path.png", "https://exa mple.com/a"])
def test_malformed_urls(value: str) -> None:
    assert "not a valid URL" in refused(value).rule


@pytest.mark.parametrize("value", [42, 3.5, None, object(), ["nested"]])
def test_wrong_types(value: Any) -> None:
    assert "must be a path, bytes, a PIL image" in refused(value).rule


def test_truncated_png() -> None:
    assert "corrupt or truncated" in refused(PNG[: len(PNG) // 2]).rule


def test_png_with_a_bad_crc() -> None:
    broken = bytearray(PNG)
    idat = broken.index(b"IDAT")
    broken[idat + 6] ^= 0xFF  # flip a byte inside the compressed data: the CRC no longer fits
    assert "corrupt or truncated" in refused(bytes(broken)).rule


def test_truncated_jpeg() -> None:
    jpeg = encoded("JPEG", (256, 256))
    assert "corrupt or truncated" in refused(jpeg[: len(jpeg) - 300]).rule


def test_truncated_webp_and_gif() -> None:
    webp = encoded("WEBP", (64, 64))
    assert "corrupt or truncated" in refused(webp[:-20]).rule
    gif = encoded("GIF", (64, 64))
    assert "corrupt or truncated" in refused(gif[: len(gif) // 2]).rule


def test_header_only_png_is_refused() -> None:
    header = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", 10, 10, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(
        ">I", zlib.crc32(b"IHDR" + ihdr))
    assert "corrupt or truncated" in refused(header + chunk).rule


def test_the_list_reports_the_index_of_the_bad_entry(png_file: pathlib.Path) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_references([png_file, png_file, b"nope"], FIELD)
    assert info.value.field == "input_images[2]"


# -- bodies ---------------------------------------------------------------------------------------

def read_body(body: Any) -> tuple[dict[str, str], bytes]:
    with body.open() as (data, headers):
        raw = data if isinstance(data, bytes) else data.to_string()
    return headers, raw


def parts_of(body: Any) -> list[tuple[str, str | None, str | None, bytes]]:
    headers, raw = read_body(body)
    decoder = MultipartDecoder(raw, headers["Content-Type"])
    out = []
    for part in decoder.parts:
        disposition = part.headers[b"Content-Disposition"].decode()
        name = disposition.split('name="', 1)[1].split('"', 1)[0]
        filename = (disposition.split('filename="', 1)[1].split('"', 1)[0]
                    if "filename=" in disposition else None)
        ctype = part.headers.get(b"Content-Type")
        out.append((name, filename, ctype.decode() if ctype else None, part.content))
    return out


def test_json_body_when_only_urls() -> None:
    refs = normalize_references(["https://a.example/1.png", "https://a.example/2.png"], FIELD)
    body = build_body({"prompt": "fox", "steps": 20, "seed": None}, {"inputImage": refs})
    assert not body.multipart
    headers, raw = read_body(body)
    assert headers["Content-Type"] == "application/json"
    assert json.loads(raw) == {"prompt": "fox", "steps": 20,
                               "inputImage": ["https://a.example/1.png",
                                              "https://a.example/2.png"]}


def test_json_body_without_references() -> None:
    _headers, raw = read_body(build_body({"prompt": "fox"}, {"inputImage": []}))
    assert json.loads(raw) == {"prompt": "fox"}


def test_multipart_repeats_one_field_in_the_callers_order(png_file: pathlib.Path) -> None:
    refs = normalize_references([png_file, "https://a.example/u.png", JPEG,
                                 Image.new("RGB", (8, 8))], FIELD)
    body = build_body({"prompt": "fox", "guidance": 4.5, "steps": 20}, {"inputImage": refs})
    assert body.multipart
    parts = parts_of(body)
    assert [(n, f, c) for n, f, c, _ in parts] == [
        ("prompt", None, None), ("guidance", None, None), ("steps", None, None),
        ("inputImage", "reference.png", "image/png"),
        ("inputImage", None, None),
        ("inputImage", "image-3.jpg", "image/jpeg"),
        ("inputImage", "image-4.png", "image/png"),
    ]
    assert parts[1][3] == b"4.5"
    assert parts[2][3] == b"20"
    assert parts[3][3] == png_file.read_bytes()
    assert parts[4][3] == b"https://a.example/u.png"
    assert parts[5][3] == JPEG


def test_multipart_body_can_be_opened_again_and_closes_files(png_file: pathlib.Path) -> None:
    refs = normalize_references([png_file], FIELD)
    body = build_body({"prompt": "fox"}, {"inputImage": refs})
    assert parts_of(body) == parts_of(body)  # a re-send builds the same body afresh
    with body.open() as (encoder, _):
        streams = [p.body.fd for p in encoder.parts if hasattr(p.body, "fd")]
    assert streams
    assert all(s.closed for s in streams)


def test_multipart_streams_files_in_small_reads(tmp_path: pathlib.Path) -> None:
    # An 8 MB reference sent in the 8 KB reads an HTTP connection makes: tracemalloc would
    # see any copy of the file (a preloaded stream, bytes handed to the encoder).
    side = 1640
    path = tmp_path / "big.png"
    Image.frombytes("RGB", (side, side), random.Random(0).randbytes(side * side * 3)).save(
        path, compress_level=0)
    size = path.stat().st_size
    assert size > 8_000_000
    refs = normalize_references([path], FIELD)

    def send(body: Any) -> tuple[int, int]:
        with body.open() as (encoder, _):
            expected, total = encoder.len, 0
            while chunk := encoder.read(8192):
                total += len(chunk)
        return expected, total

    send(build_body({"prompt": "x"}, {"inputImage": normalize_references([PNG], FIELD)}))  # warm up
    tracemalloc.start()
    try:
        expected, total = send(build_body({"prompt": "x"}, {"inputImage": refs}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == expected > size
    assert peak < 1_000_000, f"{peak:,} bytes held while sending a {size:,}-byte file"


def test_descriptor_never_holds_bytes() -> None:
    ref = normalize_reference(PNG, 0, FIELD)
    descriptor = ref.descriptor()
    assert set(descriptor) == {"name", "sha256", "size", "source", "url", "content_type"}
    assert not any(isinstance(v, bytes) for v in descriptor.values())
    assert "data" not in repr(ref)


def test_references_pass_through_unchanged() -> None:
    ref = normalize_reference(PNG, 0, FIELD)
    assert normalize_reference(ref, 0, FIELD) is ref
    moved = normalize_reference(ref, 4, FIELD)
    assert isinstance(moved, Reference)
    assert moved.index == 4
    assert moved.sha256 == ref.sha256
