"""Outputs that are not images, in the panel's gallery: audio with ipywidgets.Audio, a video
too large to embed named by path, other files as download links (no userinfo in any
address), text as text; image actions off for such runs."""

from __future__ import annotations

import json
from pathlib import Path

import ipywidgets as w
import pytest

from wiro_widgets.panel.gallery import Gallery
from wiro_widgets.panel.media import MEDIA_LIMIT, media_of, media_widget
from wiro_widgets.results import Output, Result, Task


def result_of(tmp_path: Path, *files: tuple[str, str, bytes, str]) -> Result:
    outputs = []
    for name, content_type, data, url in files:
        path = tmp_path / name
        path.write_bytes(data)
        outputs.append(Output(name, content_type, len(data), url, path=str(path)))
    task = Task("7", "tok", "acme/any", {"prompt": "hello"})
    return Result(task, tuple(outputs), {"prompt": "hello"}, None)


def test_audio_plays_and_files_are_links_without_userinfo(tmp_path: Path) -> None:
    result = result_of(
        tmp_path,
        ("song.mp3", "audio/mpeg", b"ID3" + b"\0" * 64, "https://cdn.example.com/song.mp3"),
        ("model.glb", "model/gltf-binary", b"glTF" + b"\0" * 16,
         "https://me:hunter2@cdn.example.com/model.glb"),
        ("notes.txt", "text/plain", b"a <b>bold</b> answer", ""),
    )
    media = media_of(result)
    assert [m.kind for m in media] == ["audio", "file", "text"]
    audio = media_widget(media[0])
    assert isinstance(audio, w.Audio)
    assert audio.value == (tmp_path / "song.mp3").read_bytes()
    assert audio.format == "mpeg"
    link = media_widget(media[1])
    assert 'href="https://cdn.example.com/model.glb"' in link.value
    assert "hunter2" not in link.value
    assert "download=" in link.value
    text = media_widget(media[2])
    assert "&lt;b&gt;bold&lt;/b&gt;" in text.value  # escaped, never markup
    assert "wiro-output-text" in text._dom_classes


def test_a_video_over_the_limit_plays_from_its_address_or_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("wiro_widgets.panel.media.MEDIA_LIMIT", 100)
    assert MEDIA_LIMIT > 100
    served = result_of(tmp_path, ("clip.mp4", "video/mp4", b"\0" * 500,
                                  "https://u:pw@cdn.example.com/clip.mp4"))
    (media,) = media_of(served)
    assert media.data == b""  # no megabytes in the widget state
    player = media_widget(media)
    assert isinstance(player, w.Video)
    assert player.format == "url"
    assert player.value == b"https://cdn.example.com/clip.mp4"
    local = result_of(tmp_path, ("clip2.mp4", "video/mp4", b"\0" * 500, ""))
    shown = media_widget(media_of(local)[0])
    assert not isinstance(shown, w.Video)
    assert str(tmp_path / "clip2.mp4") in shown.value


def test_an_llm_answer_from_raw_content_shows_as_text(tmp_path: Path) -> None:
    raw = json.dumps({"raw": "The sky scatters blue light.", "answer": []}).encode()
    result = result_of(tmp_path, ("answer.json", "raw", raw, ""))
    (media,) = media_of(result)
    assert media.kind == "text"
    assert media.text == "The sky scatters blue light."


def test_the_gallery_shows_media_and_keeps_image_actions_off(tmp_path: Path) -> None:
    result = result_of(tmp_path, ("clip.mp4", "video/mp4", b"\0" * 64, ""))
    gallery = Gallery()
    entry = gallery.add(result)
    (player,) = gallery.viewer.children
    assert isinstance(player, w.Video)
    assert entry.thumb[:3] == b"\xff\xd8\xff"  # a placeholder tile for the history strip
    assert not gallery.reuse.disabled
    assert gallery.save.disabled
    assert gallery.download.disabled
    assert gallery.use_reference.disabled
    other = gallery.add(result_of(tmp_path, ("b.txt", "text/plain", b"two", "")))
    assert player.comm is None  # the first run's player was closed: its bytes left
    assert "two" in gallery.viewer.children[0].value
    assert gallery.selected is other.result
