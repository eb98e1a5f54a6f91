"""Hostile outputs and a cache that cannot be written (issue 12, "Hangs and hostile answers"
and "Data"): a billed task whose outputs are odd is never lost. Each hostile output ends in a
clear `OutputError` naming the task, the task stays pending in the ledger, and once the server
behaves, ``wait(token)`` and ``resume()`` collect it. A cache that cannot be written keeps the
images in memory, in the `Result`, with a warning."""

from __future__ import annotations

import hashlib
import json
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wiro_widgets import OutputError, WiroClient
from wiro_widgets.backoff import RetryPolicy
from wiro_widgets.ledger import Detached, Ledger

from .examples import padded_png, render
from .helpers import MODEL, RUN, TOKEN, finish_within
from .server import DocumentedServer, Step

ClientFactory = Callable[..., WiroClient]
#: Quick to give up on a damaged download (the default read policy retries for 30 s).
QUICK = RetryPolicy(budget=1.0, base=0.1, cap=0.2)


def serve_task(server: DocumentedServer, *outputs: dict[str, Any]) -> None:
    """Script a Run and a finished Task/Detail record (the documented one) whose outputs are
    ``outputs`` (each a documented output item with some fields changed)."""
    envelope = json.loads(render("task-detail-succeeded.json", server.origin))
    documented_item = envelope["tasklist"][0]["outputs"][0]
    envelope["tasklist"][0]["outputs"] = [{**documented_item, **o} for o in outputs]
    server.script(RUN, "run.json")
    server.script("/Task/Detail", Step(body=json.dumps(envelope).encode(),
                                       headers={"Content-Type": "application/json"}))


def png_bomb(side: int) -> bytes:
    """A small PNG whose header declares ``side`` x ``side`` grey pixels."""
    row = b"\x00" + b"\x00" * side
    data = zlib.compress(row * side, 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48"><rect/></svg>'
BOMB = png_bomb(8192)


def pending_note(home: Path) -> Detached:
    """The task's ledger entry: still pending, with the note of what went wrong."""
    entry = Ledger(home).tasks()[TOKEN]
    assert not entry.is_finished  # resumable: resume() will collect it
    notes = [n for n in entry.notes if isinstance(n, Detached)]
    assert notes
    assert notes[-1].reason == "outputs"
    return notes[-1]


@pytest.mark.parametrize(("item", "body", "words"), [
    ({"name": "0.svg", "contenttype": "image/svg+xml", "size": str(len(SVG))}, SVG,
     "does not decode"),
    ({"name": "0.png", "size": str(len(BOMB))}, BOMB, "67 MP"),
    ({"name": "0.png", "size": "100000"}, padded_png()[:100000], "damaged image/png"),
    ({"name": "0.png", "size": str(len(SVG))}, SVG, "not a image/png file"),
], ids=["svg", "pixel-bomb", "truncated-png", "svg-called-png"])
def test_a_hostile_output_is_a_clear_error_and_the_task_stays_resumable(
        documented: DocumentedServer, make_client: ClientFactory, wiro_home: Path,
        item: dict[str, Any], body: bytes, words: str) -> None:
    serve_task(documented, {**item, "url": documented.origin + "/out/" + item["name"]})
    documented.script("/out/" + item["name"], Step(body=body))
    client = make_client(use_socket=False, retry=QUICK)
    with pytest.raises(OutputError, match=words) as caught:
        finish_within(20, client.run, MODEL, prompt="Hello, world!", timeout=15)
    assert caught.value.task_id == "2221"
    assert caught.value.token == TOKEN
    assert caught.value.task_may_exist
    assert f"client.wait({TOKEN!r})" in str(caught.value)
    assert words in pending_note(wiro_home).message
    # The server behaves again: the same billed task is collected, not run again.
    documented.script("/out/" + item["name"], Step(body=padded_png(),
                                                   headers={"Content-Type": "image/png"}))
    serve_task(documented, {"name": "0.png",
                            "url": documented.origin + "/out/" + item["name"]})
    (result,) = finish_within(20, client.resume, timeout=15)
    assert result.image.size == (64, 48)
    assert Ledger(wiro_home).tasks()[TOKEN].outcome == "succeeded"
    assert len(documented.requests_to(RUN)) == 1


def test_a_refused_image_is_refused_at_once(documented: DocumentedServer,
                                           make_client: ClientFactory) -> None:
    serve_task(documented, {"url": documented.origin + "/out/0.png", "size": str(len(BOMB))})
    documented.script("/out/0.png", Step(body=BOMB))
    started = time.monotonic()
    with pytest.raises(OutputError, match="an output was refused"):
        finish_within(20, make_client(use_socket=False).run, MODEL, prompt="x")
    assert time.monotonic() - started < 5  # not retried: it would come back the same
    assert len(documented.requests_to("/out/0.png")) == 1


def test_an_output_name_with_a_nul_byte_is_kept_under_a_safe_name(
        documented: DocumentedServer, make_client: ClientFactory, wiro_home: Path,
        tmp_path: Path) -> None:
    serve_task(documented, {"name": "../0\x00.png", "url": documented.origin + "/out/0.png"})
    documented.script("/out/0.png", Step(body=padded_png()))
    result = finish_within(20, make_client(use_socket=False).run, MODEL, prompt="x")
    (output,) = result.outputs
    assert "\x00" not in output.name
    assert "/" not in output.name
    assert output.path.endswith(".png")
    assert result.image.size == (64, 48)
    assert result.save(tmp_path / "saved")
    assert Ledger(wiro_home).tasks()[TOKEN].outcome == "succeeded"


@pytest.mark.parametrize("declared", ["record", "content-length"])
def test_an_output_declaring_2_gb_is_refused_before_it_is_read(
        documented: DocumentedServer, make_client: ClientFactory, declared: str) -> None:
    two_gb = 2 * 1024 ** 3
    size = str(two_gb) if declared == "record" else ""
    serve_task(documented, {"url": documented.origin + "/out/0.png", "size": size})
    documented.script("/out/0.png", Step(body=padded_png(), length=two_gb, trickle=0.01))
    started = time.monotonic()
    with pytest.raises(OutputError, match=str(two_gb)):
        finish_within(20, make_client(use_socket=False).run, MODEL, prompt="x")
    assert time.monotonic() - started < 5  # a trickled body would take half an hour to read
    gets = documented.requests_to("/out/0.png")
    assert len(gets) == (0 if declared == "record" else 1)


def _cache_blocked(home: Path, how: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    if how == "cache-folder":
        (home / "cache").write_text("a file where the cache folder should be")
    else:  # the cache exists, but the folder for this very file cannot be made
        digest = hashlib.sha256(padded_png()).hexdigest()
        (home / "cache").mkdir()
        (home / "cache" / digest[:2]).write_text("in the way")


@pytest.mark.parametrize("how", ["cache-folder", "file-folder"])
def test_a_cache_that_cannot_be_written_keeps_the_images_in_the_result(
        documented: DocumentedServer, make_client: ClientFactory, wiro_home: Path,
        tmp_path: Path, how: str) -> None:
    _cache_blocked(wiro_home, how)
    serve_task(documented, {"url": documented.origin + "/out/0.png"})
    documented.script("/out/0.png", Step(body=padded_png()))
    client = make_client(use_socket=False)
    result = finish_within(20, client.run, MODEL, prompt="x")
    assert result.image.size == (64, 48)  # in memory
    (warning,) = result.warnings
    assert "could not be written to the local cache" in warning
    assert "result.save(" in warning
    (output,) = result.outputs
    assert output.path == ""
    assert output.sha256 == hashlib.sha256(padded_png()).hexdigest()
    saved = result.save(tmp_path / "saved")
    assert saved[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    entry = Ledger(wiro_home).tasks()[TOKEN]
    assert entry.outcome == "succeeded"  # billed and done: never offered to run again
    assert entry.finished is not None
    assert "could not be written" in entry.finished.message
    assert client.resume() == []  # nothing pending, nothing crashes
