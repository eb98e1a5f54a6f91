"""Reference images: picks accumulate to 10, thumbnails with remove buttons, URLs, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from wiro_widgets.panel.references import ReferenceList, format_bytes
from wiro_widgets.panel.request import GenerationRequest
from wiro_widgets.protocol import MAX_UPLOAD_BYTES
from wiro_widgets.references import Reference

Entry = Callable[..., dict[str, Any]]


def pick(refs: ReferenceList, *entries: dict[str, Any]) -> None:
    """What the browser does when the user picks files: one value with every file."""
    refs.uploader.set_state({"value": list(entries)})


def labels(refs: ReferenceList) -> list[str]:
    return [tile.children[1].value for tile in refs.strip.children]


def tile_button(tile: Any, hook: str) -> Any:
    """The tile's button with CSS class ``hook`` (wiro-ref-left, -remove, -right)."""
    (found,) = [b for b in tile.children[2].children if hook in b._dom_classes]
    return found


def test_picks_accumulate_and_are_numbered(make_image: Callable[..., bytes],
                                           entry: Entry) -> None:
    refs = ReferenceList()
    pick(refs, entry("a.png", make_image()), entry("b.jpg", make_image(fmt="JPEG"), "image/jpeg"))
    pick(refs, entry("c.png", make_image(30, 30)))
    assert [r.name for r in refs.items] == ["a.png", "b.jpg", "c.png"]
    assert [r.content_type for r in refs.items] == ["image/png", "image/jpeg", "image/png"]
    assert "image 1" in labels(refs)[0]
    assert "a.png" in labels(refs)[0]
    assert "image 3" in labels(refs)[2]
    assert refs.count.value == "3 / 10"
    # The uploader is emptied after each pick, so no file bytes stay in widget state.
    assert refs.uploader.value == ()
    assert refs.uploader.get_state()["value"] == []
    # Thumbnails are small JPEGs, not the uploaded files.
    for tile in refs.strip.children:
        picture = tile.children[0]
        assert bytes(picture.value[:3]) == b"\xff\xd8\xff"
    assert "wiro-references" in refs.strip._dom_classes


def test_remove_renumbers(make_image: Callable[..., bytes], entry: Entry) -> None:
    refs = ReferenceList()
    pick(refs, *(entry(f"{n}.png", make_image(20 + n, 20)) for n in range(3)))
    first_tile = refs.strip.children[0]
    remove_second = tile_button(refs.strip.children[1], "wiro-ref-remove")
    remove_second.click()
    assert [r.name for r in refs.items] == ["0.png", "2.png"]
    assert "image 2" in labels(refs)[1]
    assert "2.png" in labels(refs)[1]
    assert refs.strip.children[0] is first_tile  # kept tiles are not rebuilt


def test_limit_of_ten_across_picks(make_image: Callable[..., bytes], entry: Entry) -> None:
    refs = ReferenceList()
    pick(refs, *(entry(f"{n}.png", make_image()) for n in range(8)))
    pick(refs, *(entry(f"x{n}.png", make_image()) for n in range(4)))
    assert len(refs) == 10
    assert [r.name for r in refs.items][-2:] == ["x0.png", "x1.png"]
    text = refs.message.value
    assert "x2.png was not added" in text
    assert "x3.png was not added" in text
    assert "at most 10" in text
    assert refs.uploader.disabled
    assert refs.add_url_button.disabled
    refs.remove(0)
    assert not refs.uploader.disabled


def test_non_images_and_corrupt_files_are_refused_with_a_message(
        make_image: Callable[..., bytes], entry: Entry) -> None:
    refs = ReferenceList()
    good = make_image()
    pick(refs, entry("notes.txt", b"hello, not an image", "text/plain"),
         entry("broken.png", good[: len(good) // 2]), entry("ok.png", good))
    assert [r.name for r in refs.items] == ["ok.png"]
    assert "notes.txt is not an image" in refs.message.value
    assert "broken.png could not be read" in refs.message.value
    assert refs.message.layout.display == ""


def test_files_over_the_limit_are_refused(entry: Entry) -> None:
    refs = ReferenceList()
    big = b"\x89PNG\r\n\x1a\n" + bytes(MAX_UPLOAD_BYTES)
    pick(refs, entry("huge.png", big))
    assert len(refs) == 0
    assert f"huge.png is {format_bytes(len(big))}" in refs.message.value
    assert "100.0 MB per image" in refs.message.value


def test_urls(make_image: Callable[..., bytes]) -> None:
    refs = ReferenceList()
    refs.url.value = "ftp://example.com/a.png"
    refs.add_url_button.click()
    assert len(refs) == 0
    assert "is not an http(s) URL" in refs.message.value
    refs.url.value = "https://example.com/pics/dog.jpg"
    refs.add_url_button.click()
    assert refs.items[0] == Reference(name="dog.jpg", url="https://example.com/pics/dog.jpg")
    assert refs.url.value == ""
    assert refs.message.value == ""
    assert "image 1" in labels(refs)[0]
    assert "dog.jpg" in labels(refs)[0]
    refs.add_image("cat.png", make_image())
    assert [r.is_url for r in refs.items] == [True, False]
    # What the panel hands the client: the URL as a URL, the upload as its named bytes.
    request = GenerationRequest("black-forest-labs/flux-2-flex", {}, refs.items)
    url, upload = request.client_params()["input_images"]
    assert url.is_url
    assert url.url == "https://example.com/pics/dog.jpg"
    assert upload.name == "cat.png"
    assert upload.read_bytes() == make_image()
    refs.clear_button.click()
    assert len(refs) == 0
    assert refs.strip.children == ()


def test_state_stays_small(make_image: Callable[..., bytes], entry: Entry) -> None:
    refs = ReferenceList()
    big = make_image(2000, 1500)
    pick(refs, entry("big.png", big))
    tile = refs.strip.children[0]
    thumb = tile.children[0].get_state()["value"]
    assert len(thumb) < 10_000 < len(big)
    with pytest.raises(ValueError, match="not an image"):
        refs.add_image("x.bin", b"1234567890")
    json.dumps(refs.message.get_state())
