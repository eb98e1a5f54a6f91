"""Reference images: picks accumulate to 10, thumbnails with remove buttons, URLs, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wiro_widgets.panel.references import ReferenceList, format_bytes
from wiro_widgets.panel.request import GenerationRequest
from wiro_widgets.panel.uploads import UploadStore
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


def test_reorder_moves_the_numbers(make_image: Callable[..., bytes], entry: Entry) -> None:
    refs = ReferenceList()
    pick(refs, *(entry(f"{n}.png", make_image(20 + n, 20)) for n in range(3)))
    first, second, third = refs.strip.children
    assert tile_button(first, "wiro-ref-left").disabled  # nothing left of image 1
    assert tile_button(third, "wiro-ref-right").disabled
    tile_button(third, "wiro-ref-left").click()
    assert [r.name for r in refs.items] == ["0.png", "2.png", "1.png"]
    assert "image 2" in labels(refs)[1]
    assert "2.png" in labels(refs)[1]
    assert refs.strip.children == (first, third, second)  # the tiles move, not rebuilt
    tile_button(first, "wiro-ref-right").click()
    assert [r.name for r in refs.items] == ["2.png", "0.png", "1.png"]
    assert not tile_button(first, "wiro-ref-left").disabled
    assert tile_button(third, "wiro-ref-left").disabled


def test_ten_references_make_a_compact_strip(make_image: Callable[..., bytes],
                                             entry: Entry) -> None:
    refs = ReferenceList()
    pick(refs, *(entry(f"{n}.png", make_image()) for n in range(4)))
    assert "wiro-refs-compact" not in refs.strip._dom_classes
    pick(refs, *(entry(f"x{n}.png", make_image()) for n in range(6)))
    assert len(refs) == 10
    assert "wiro-refs-compact" in refs.strip._dom_classes
    for _ in range(6):
        refs.remove(0)
    assert "wiro-refs-compact" not in refs.strip._dom_classes


def test_url_references_get_a_thumbnail_the_browser_loads() -> None:
    refs = ReferenceList()
    refs.add_url("https://me:secret@example.com/pics/dog.jpg")
    picture = refs.strip.children[0].children[0]
    assert '<img src="https://example.com/pics/dog.jpg"' in picture.value
    assert "secret" not in picture.value  # never shown, and browsers refuse it anyway
    assert 'referrerpolicy="no-referrer"' in picture.value


def test_enter_in_the_url_box_adds_it() -> None:
    refs = ReferenceList()
    refs.url.value = "https://example.com/cat.png"
    # What the browser's text box sends when Enter is pressed in it.
    refs.url._handle_custom_msg({"event": "submit"}, [])
    assert [r.url for r in refs.items] == ["https://example.com/cat.png"]
    assert refs.url.value == ""
    refs.url._handle_custom_msg({"event": "submit"}, [])  # empty: says so, adds nothing
    assert len(refs) == 1
    assert "Type an http(s) URL first" in refs.message.value


def test_uploads_are_kept_as_files_once(make_image: Callable[..., bytes], entry: Entry,
                                        tmp_path: Path) -> None:
    store = UploadStore(tmp_path / "uploads")
    refs = ReferenceList(store=store)
    data = make_image(33, 22)
    pick(refs, entry("a cat!.png", data))
    pick(refs, entry("a cat!.png", data))
    first, again = refs.items
    assert first.path == again.path
    assert first.path is not None
    assert first.path.name == f"{first.sha256[:12]}-a_cat_.png"
    assert first.data is None  # the bytes live in the file, not in the kernel
    assert first.read_bytes() == data
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == [first.path.name]
    assert store.find(first.sha256) == first.path
    assert store.find("0" * 64) is None


def test_an_unwritable_upload_folder_keeps_the_bytes_in_memory(
        make_image: Callable[..., bytes], tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    refs = ReferenceList(store=UploadStore(blocker / "uploads"))
    ref = refs.add_image("a.png", make_image())
    assert ref.path is None
    assert ref.read_bytes() == make_image()


def test_files_refused_by_the_browser_are_said(make_image: Callable[..., bytes],
                                               entry: Entry) -> None:
    from wiro_widgets.panel import FluxPanel

    class Offline:
        is_sandbox = True

    panel = FluxPanel(Offline())
    # What the panel's script sends when a pick holds a file over the limit: the file was
    # taken out of the pick before it was read, and only its name and size come here.
    panel.channel.widget.value = json.dumps(
        {"event": "refused", "files": [{"name": "huge.png", "size": 108_000_000}], "n": 1})
    assert "huge.png is 103.0 MB; the limit is 100.0 MB per image." in \
        panel.references.message.value
    assert len(panel.references) == 0
    # The rest of that pick arrives a moment later: the refusal stays beside its messages.
    panel.references.uploader.set_state({"value": [entry("a.png", make_image())]})
    assert len(panel.references) == 1
    assert "huge.png is 103.0 MB" in panel.references.message.value
    panel.references.uploader.set_state({"value": [entry("b.png", make_image())]})
    assert panel.references.message.value == ""  # a later pick: the old refusal is gone
