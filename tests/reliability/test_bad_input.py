"""A table of bad inputs through the client and through the panel's widgets.

Each is either refused before any request, with an error naming the field, or, where the API
allows it, sent and verified on the sandbox side exactly as given. Decisions:

- A well-formed http(s) URL of an unreachable host is *sent*: the server fetches reference
  URLs, not the client (the sandbox records a placeholder for it). ``file://``, ``ftp://``
  and other schemes are refused locally.
- A 100 000-character prompt is *sent*: the API documents no limit. It must arrive intact.
- Unicode, combining marks, emoji sequences and right-to-left text are sent byte for byte
  (no normalization); text that is not valid Unicode (an unpaired surrogate) is refused.
- ``output_format="JPG"`` is Wiro's ``jpeg`` under another spelling: sent as ``jpeg``.

The panel cannot hold most bad numbers at all (sliders clamp); what it can hold is set through
its widgets or ``FileUpload.set_state`` (what the browser sends), then Generate is clicked: it
never crashes, shows the problem next to the control or in its message line, sends nothing
bad and keeps every input the user gave.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import traitlets
from PIL import Image
from shared_helpers import encoded

from wiro_widgets.errors import ValidationError
from wiro_widgets.panel import FluxPanel
from wiro_widgets.sandbox import Sandbox

from . import tally
from .helpers import MODEL, SMALL, RequestCounter, upload_entry

BIG = 200 * 1024 * 1024
LONG_PROMPT = ("a lighthouse on a cliff, waves, dusk light; " * 2500)[:100_000]
UNICODE_PROMPT = ("ein Fuchs im Schnee — 雪の中の狐 🦊 · café (é) and cafe\u0301 (e + U+0301) · "
                  "👩\u200d💻 · Ελληνικά · «кириллица» · \t tabs and\nnew lines \"quoted\"")
RTL_PROMPT = ("\u05e9\u05d5\u05e2\u05dc \u05d1\u05e9\u05dc\u05d2 \u200f(RTL mark) "
              "\u062b\u0639\u0644\u0628 \u0641\u064a \u0627\u0644\u062b\u0644\u062c "
              "\u202eoverride\u202c image 1")


def _png_bomb(side: int) -> bytes:
    """A small PNG that decodes to ``side`` x ``side`` grey pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    packer = zlib.compressobj(9)
    rows = (b"\0" * (side + 1)) * 500
    body = [packer.compress(rows) for _ in range(side // 500)]
    body.append(packer.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(body))
            + chunk(b"IEND", b""))


@dataclass
class Files:
    """Bad (and one good) files on disk, made once per module."""

    root: Path
    good: Path = field(init=False)
    pdf_as_png: Path = field(init=False)
    truncated_png: Path = field(init=False)
    truncated_jpeg: Path = field(init=False)
    empty: Path = field(init=False)
    big: Path = field(init=False)
    text_as_jpg: Path = field(init=False)
    bomb_81mp: Path = field(init=False)
    bomb_196mp: Path = field(init=False)

    def __post_init__(self) -> None:
        self.good = self.root / "good.png"
        self.good.write_bytes(encoded())
        self.pdf_as_png = self.root / "report.png"
        self.pdf_as_png.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n"
                                    b"endobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
        png = encoded(size=(256, 256))
        self.truncated_png = self.root / "cut.png"
        self.truncated_png.write_bytes(png[: len(png) // 2])
        jpeg = encoded("JPEG", size=(256, 256))
        self.truncated_jpeg = self.root / "cut.jpg"
        self.truncated_jpeg.write_bytes(jpeg[: len(jpeg) // 2])
        self.empty = self.root / "empty.png"
        self.empty.write_bytes(b"")
        self.text_as_jpg = self.root / "notes.jpg"
        self.text_as_jpg.write_text("these are my notes, not a photo\n")
        # Over the 64 MP limit the client, the panel and the sandbox share; and over
        # Pillow's own refusal (about 179 MP).
        self.bomb_81mp = self.root / "bomb-81mp.png"
        self.bomb_81mp.write_bytes(_png_bomb(9000))
        self.bomb_196mp = self.root / "bomb-196mp.png"
        self.bomb_196mp.write_bytes(_png_bomb(14000))
        # 200 MB that costs no disk: a PNG signature, then a hole.
        self.big = self.root / "huge.png"
        with open(self.big, "wb") as handle:
            handle.write(encoded()[:64])
            handle.truncate(BIG)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("bad-files"))


@pytest.fixture(scope="module")
def counted() -> Iterator[tuple[Sandbox, RequestCounter]]:
    counter = RequestCounter()
    with Sandbox(speed=40.0, concurrency_limit=None, log=counter) as sb:
        yield sb, counter
        sb.wait_idle(30)


# -- the client's table -------------------------------------------------------------------------

Params = Callable[[Files], dict[str, Any]]
Verify = Callable[[Any, Files], None]


@dataclass(frozen=True)
class Case:
    """A bad input: refused naming ``field``, or (``field`` None) sent and then ``verify``-ed
    against the task the sandbox created."""

    params: Params
    field: str | None = None
    verify: Verify | None = None
    model: str = MODEL
    base: bool = True


def _prompt_is(expected: str) -> Verify:
    def verify(task: Any, _files: Files) -> None:
        assert task.params["prompt"] == expected
    return verify


def _url_sent(url: str) -> Verify:
    def verify(task: Any, _files: Files) -> None:
        assert [i["url"] for i in task.inputs if i["source"] == "url"] == [url]
    return verify


def _wire(name: str, expected: Any) -> Verify:
    def verify(task: Any, _files: Files) -> None:
        assert task.params[name] == expected, task.params
    return verify


CLIENT_CASES: dict[str, Case] = {
    # sizes
    "width not a multiple of 16": Case(lambda f: {"width": 1000}, "width"),
    "height not a multiple of 16": Case(lambda f: {"height": 100}, "height"),
    "width above 2048": Case(lambda f: {"width": 4096}, "width"),
    "height below 64": Case(lambda f: {"height": 32}, "height"),
    "negative width": Case(lambda f: {"width": -64}, "width"),
    "width 0 without references": Case(lambda f: {"width": 0}, "width"),
    "height 0 without references": Case(lambda f: {"height": 0}, "height"),
    "width as a string": Case(lambda f: {"width": "1024"}, "width"),
    # numbers of the wrong type or value
    "steps as a string": Case(lambda f: {"steps": "20"}, "steps"),
    "guidance as a string": Case(lambda f: {"guidance": "4.5"}, "guidance"),
    "guidance NaN": Case(lambda f: {"guidance": float("nan")}, "guidance"),
    "guidance inf": Case(lambda f: {"guidance": float("inf")}, "guidance"),
    "guidance -inf": Case(lambda f: {"guidance": float("-inf")}, "guidance"),
    "steps True (a bool)": Case(lambda f: {"steps": True}, "steps"),
    "seed False (a bool)": Case(lambda f: {"seed": False}, "seed"),
    "steps 20.5": Case(lambda f: {"steps": 20.5}, "steps"),
    "guidance below 1.5": Case(lambda f: {"guidance": 1.4}, "guidance"),
    "guidance above 10": Case(lambda f: {"guidance": 10.5}, "guidance"),
    "steps 0": Case(lambda f: {"steps": 0}, "steps"),
    "steps 51": Case(lambda f: {"steps": 51}, "steps"),
    "safety tolerance 7": Case(lambda f: {"safety_tolerance": 7}, "safety_tolerance"),
    "safety tolerance -1": Case(lambda f: {"safety_tolerance": -1}, "safety_tolerance"),
    "seed above 9999999": Case(lambda f: {"seed": 10_000_000}, "seed"),
    "negative seed": Case(lambda f: {"seed": -1}, "seed"),
    # choices and names
    "output format gif": Case(lambda f: {"output_format": "gif"}, "output_format"),
    "output format webp": Case(lambda f: {"output_format": "webp"}, "output_format"),
    "output format as a number": Case(lambda f: {"output_format": 1}, "output_format"),
    "unknown parameter": Case(lambda f: {"sampler": "euler"}, "sampler"),
    "misspelled parameter (API name)": Case(lambda f: {"safetyTolerence": 3}, "safetyTolerence"),
    "model without an owner": Case(lambda f: {}, "model", model="flux-2-flex"),
    "callback_url file://": Case(lambda f: {"callback_url": "file:///tmp/hook"}, "callback_url"),
    # prompts
    "empty prompt": Case(lambda f: {"prompt": ""}, "prompt"),
    "whitespace-only prompt": Case(lambda f: {"prompt": " \n\t\u3000 "}, "prompt"),
    "no prompt": Case(lambda f: {"width": 64}, "prompt", base=False),
    "prompt as a number": Case(lambda f: {"prompt": 42}, "prompt"),
    "prompt with a NUL": Case(lambda f: {"prompt": "a fox\x00"}, "prompt"),
    "prompt with an unpaired surrogate": Case(lambda f: {"prompt": "a fox \ud83e"}, "prompt"),
    # reference images
    "11 images": Case(lambda f: {"input_images": [f.good] * 11}, "input_images"),
    "a PDF renamed .png": Case(lambda f: {"input_images": [f.pdf_as_png]}, "input_images[0]"),
    "a text file renamed .jpg": Case(lambda f: {"input_images": [f.good, f.text_as_jpg]},
                                     "input_images[1]"),
    "a truncated PNG": Case(lambda f: {"input_images": [f.truncated_png]}, "input_images[0]"),
    "a truncated JPEG": Case(lambda f: {"input_images": [f.truncated_jpeg]}, "input_images[0]"),
    "a 0-byte file": Case(lambda f: {"input_images": [f.empty]}, "input_images[0]"),
    "a 200 MB file": Case(lambda f: {"input_images": [f.big]}, "input_images[0]"),
    "an 81 MP PNG in 80 KB (over the 64 MP limit)": Case(
        lambda f: {"input_images": [f.bomb_81mp]}, "input_images[0]"),
    "a 196 MP PNG bomb": Case(lambda f: {"input_images": [f.good, f.bomb_196mp]},
                              "input_images[1]"),
    "a 67 MP PIL image (over the 64 MP limit)": Case(
        lambda f: {"input_images": [Image.new("1", (8200, 8200))]}, "input_images[0]"),
    "a missing file": Case(lambda f: {"input_images": [f.root / "nope.png"]}, "input_images[0]"),
    "a folder": Case(lambda f: {"input_images": [f.root]}, "input_images[0]"),
    "0-byte bytes": Case(lambda f: {"input_images": [b""]}, "input_images[0]"),
    "a number as an image": Case(lambda f: {"input_images": [7]}, "input_images[0]"),
    "a file:// URL": Case(lambda f: {"input_images": ["file:///etc/passwd"]}, "input_images[0]"),
    "an ftp:// URL": Case(lambda f: {"input_images": ["ftp://example.com/a.png"]},
                          "input_images[0]"),
    "a javascript: URL": Case(lambda f: {"input_images": ["javascript:alert(1)"]},
                              "input_images[0]"),
    "an https URL without a host": Case(lambda f: {"input_images": ["https:///a.png"]},
                                        "input_images[0]"),
    "an https URL with spaces": Case(lambda f: {"input_images": ["https://exa mple.com/a.png"]},
                                     "input_images[0]"),
    # sent, and verified on the server side
    "an unreachable https URL (sent: the server fetches it)": Case(
        lambda f: {"input_images": ["https://unreachable.invalid/ref.png"]},
        verify=_url_sent("https://unreachable.invalid/ref.png")),
    "a URL to a closed local port (sent as given)": Case(
        lambda f: {"input_images": ["http://127.0.0.1:9/ref.png"]},
        verify=_url_sent("http://127.0.0.1:9/ref.png")),
    "a 100 000-character prompt (sent intact)": Case(
        lambda f: {"prompt": LONG_PROMPT}, verify=_prompt_is(LONG_PROMPT)),
    "a 100 000-character prompt with a file (multipart, intact)": Case(
        lambda f: {"prompt": LONG_PROMPT, "input_images": [f.good]},
        verify=_prompt_is(LONG_PROMPT)),
    "unicode prompt (sent byte for byte)": Case(
        lambda f: {"prompt": UNICODE_PROMPT}, verify=_prompt_is(UNICODE_PROMPT)),
    "RTL prompt with a file (multipart, intact)": Case(
        lambda f: {"prompt": RTL_PROMPT, "input_images": [f.good]},
        verify=_prompt_is(RTL_PROMPT)),
    "output format JPG (an alias, sent as jpeg)": Case(
        lambda f: {"output_format": " JPG "}, verify=_wire("outputFormat", "jpeg")),
    "steps 20.0 (a whole float, sent as 20)": Case(
        lambda f: {"steps": 20.0}, verify=_wire("steps", 20)),
    "width 0 with a reference (matches image 1)": Case(
        lambda f: {"width": 0, "height": 0, "input_images": [f.good]},
        verify=_wire("width", 0)),
}


def _bytes_read() -> int:
    """Bytes this process has read through read() calls so far (Linux)."""
    with open("/proc/self/io") as handle:
        for line in handle:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


@pytest.mark.parametrize("name", list(CLIENT_CASES))
def test_client_bad_input(name: str, counted: tuple[Sandbox, RequestCounter],
                          files: Files) -> None:
    case = CLIENT_CASES[name]
    sb, counter = counted
    client = sb.client()
    params = {"prompt": "a fox in the snow", **SMALL} if case.base else {}
    params.update(case.params(files))
    if "/" in case.model:
        client.spec(case.model)  # the model's schema is read once, before anything is checked
    before, records = counter.count, len(sb.requests)
    tally.add("inputs tried")
    tally.add("inputs tried (client)")
    if case.field is not None:
        measure = name == "a 200 MB file" and os.path.exists("/proc/self/io")
        read_before = _bytes_read() if measure else 0
        with pytest.raises(ValidationError) as info:
            client.submit(case.model, **params)
        assert info.value.field == case.field
        assert str(info.value).startswith(case.field)
        assert counter.count == before, "a request was sent"
        assert len(sb.requests) == records
        if measure:
            # Refused by its size alone: not read (a PNG check reads 64 bytes).
            assert _bytes_read() - read_before < 1024 * 1024
        tally.add("inputs refused")
        return
    task = client.submit(case.model, **params)
    assert counter.count > before
    (created,) = [t for t in sb.tasks if t.id == task.id]
    assert case.verify is not None
    case.verify(created, files)
    if name.startswith("a 100 000"):
        # And it comes back intact from the server too.
        assert client.detail(task)["parameters"]["prompt"] == LONG_PROMPT
    tally.add("inputs sent correctly")


# -- the panel's table --------------------------------------------------------------------------

Action = Callable[[FluxPanel, Files], None]


@dataclass(frozen=True)
class PanelCase:
    """``kind``: ``field`` (Generate refuses; message next to ``where``), ``upload`` (the
    uploader refuses the file; Generate sends only the good references), ``control`` (the
    widget itself cannot hold the value), ``sent`` (sent and verified)."""

    kind: str
    action: Action
    where: str = ""
    verify: Verify | None = None
    refs_sent: int = 1


def _set(name: str, value: Any) -> Action:
    def action(panel: FluxPanel, _files: Files) -> None:
        panel.form.controls[name].value = value
    return action


def _frontend(name: str, state: dict[str, Any]) -> Action:
    """A value as the browser would send it; a refusal is what the kernel would log."""
    def action(panel: FluxPanel, _files: Files) -> None:
        with contextlib.suppress(traitlets.TraitError):
            panel.form.controls[name].set_state(state)
    return action


def _upload(*entries: Callable[[Files], dict[str, Any]]) -> Action:
    def action(panel: FluxPanel, files: Files) -> None:
        panel.references.uploader.set_state({"value": [make(files) for make in entries]})
    return action


def _url(text: str) -> Action:
    def action(panel: FluxPanel, _files: Files) -> None:
        panel.references.url.value = text
        panel.references.add_url_button.click()
    return action


def _big_entry(files: Files) -> dict[str, Any]:
    import mmap

    with open(files.big, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    return upload_entry("huge.png", memoryview(mapped))


def _file_entry(attr: str) -> Callable[[Files], dict[str, Any]]:
    def make(files: Files) -> dict[str, Any]:
        path: Path = getattr(files, attr)
        return upload_entry(path.name, path.read_bytes())
    return make


def _match_without_refs(panel: FluxPanel, _files: Files) -> None:
    panel.references.clear()
    panel.form.match_reference.value = True


def _unknown_url_sent(panel: FluxPanel, _files: Files) -> None:
    panel.references.url.value = "https://unreachable.invalid/panel.png"
    panel.references.add_url_button.click()


PANEL_CASES: dict[str, PanelCase] = {
    "empty prompt": PanelCase("field", _set("prompt", ""), "prompt"),
    "whitespace-only prompt": PanelCase("field", _set("prompt", "  \n\t "), "prompt"),
    "prompt with a NUL": PanelCase("field", _set("prompt", "a fox\x00"), "prompt"),
    "prompt with an unpaired surrogate": PanelCase("field", _set("prompt", "a fox \udc80"),
                                                   "prompt"),
    "negative seed": PanelCase("field", _set("seed", -5), "seed"),
    "seed above 9999999": PanelCase("field", _set("seed", 12_345_678), "seed"),
    "guidance NaN from the browser": PanelCase("field", _frontend("guidance",
                                                                  {"value": float("nan")}),
                                               "guidance"),
    "match image 1 without references (width 0)": PanelCase("field", _match_without_refs,
                                                            "width"),
    "a PDF renamed .png": PanelCase("upload", _upload(_file_entry("pdf_as_png"))),
    "a truncated PNG": PanelCase("upload", _upload(_file_entry("truncated_png"))),
    "a text file renamed .jpg": PanelCase("upload", _upload(_file_entry("text_as_jpg"))),
    "a 0-byte file": PanelCase("upload", _upload(_file_entry("empty"))),
    "a 200 MB file": PanelCase("upload", _upload(_big_entry)),
    "an 81 MP PNG in 80 KB": PanelCase("upload", _upload(_file_entry("bomb_81mp"))),
    "11 images (one more than the model takes)": PanelCase(
        "upload", _upload(*[_file_entry("good")] * 10), refs_sent=10),
    "a file:// URL": PanelCase("upload", _url("file:///etc/passwd")),
    "an ftp:// URL": PanelCase("upload", _url("ftp://example.com/a.png")),
    "a javascript: URL": PanelCase("upload", _url("javascript:alert(1)")),
    "steps 0 from the browser": PanelCase("control", _frontend("steps", {"value": 0}),
                                          verify=_wire("steps", 1)),
    "output format out of range from the browser": PanelCase(
        "control", _frontend("output_format", {"index": 5}), verify=_wire("outputFormat", "png")),
    "seed as text from the browser": PanelCase("control", _frontend("seed", {"value": "abc"}),
                                               verify=_wire("seed", 123)),
    "a 100 000-character prompt": PanelCase("sent", _set("prompt", LONG_PROMPT),
                                            verify=_prompt_is(LONG_PROMPT)),
    "unicode prompt": PanelCase("sent", _set("prompt", UNICODE_PROMPT),
                                verify=_prompt_is(UNICODE_PROMPT)),
    "RTL prompt": PanelCase("sent", _set("prompt", RTL_PROMPT), verify=_prompt_is(RTL_PROMPT)),
    "an unreachable https URL": PanelCase("sent", _unknown_url_sent, refs_sent=2,
                                          verify=_url_sent(
                                              "https://unreachable.invalid/panel.png")),
}


def _inputs(panel: FluxPanel) -> tuple[dict[str, Any], list[str], bool]:
    """What the user gave: form values, references (by content or URL), the match box."""
    values = panel.form.values()
    refs = [r.sha256 or str(r.url) for r in panel.references.items]
    return values, refs, bool(panel.form.match_reference.value)


def _same(a: tuple[dict[str, Any], list[str], bool], b: tuple[dict[str, Any], list[str], bool]
          ) -> bool:
    # NaN is never equal to itself; compare it by name.
    def norm(values: dict[str, Any]) -> dict[str, Any]:
        return {k: ("nan" if isinstance(v, float) and v != v else v) for k, v in values.items()}
    return norm(a[0]) == norm(b[0]) and a[1:] == b[1:]


@pytest.fixture
def panel(counted: tuple[Sandbox, RequestCounter], files: Files) -> FluxPanel:
    sb, _counter = counted
    panel = FluxPanel(sb.client())
    panel.form.prompt.value = "a fox in the snow, like image 1"
    panel.form.set_size(64, 64)
    panel.form.controls["steps"].value = 2
    panel.references.uploader.set_state({"value": [upload_entry("good.png",
                                                                files.good.read_bytes())]})
    assert len(panel.references) == 1
    return panel


@pytest.mark.parametrize("name", list(PANEL_CASES))
def test_panel_bad_input(name: str, panel: FluxPanel, counted: tuple[Sandbox, RequestCounter],
                         files: Files) -> None:
    case = PANEL_CASES[name]
    sb, counter = counted
    tally.add("inputs tried")
    tally.add("inputs tried (panel)")
    before_action = _inputs(panel)
    start = counter.count
    case.action(panel, files)
    assert counter.count == start, "setting a value sent a request"
    held = _inputs(panel)

    if case.kind == "upload":
        message = panel.references.message
        assert message.layout.display != "none", name
        assert "wiro-error" in message.value, name
        if case.refs_sent == 1:
            assert held[1] == before_action[1], "the references changed"
        assert panel.references.uploader.value == ()  # no bytes left in widget state

    panel.generate_button.click()
    assert panel.wait(60)
    after = _inputs(panel)
    assert _same(held, after), "Generate changed the user's inputs"
    assert panel.form.prompt.value == held[0]["prompt"]

    if case.kind == "field":
        assert counter.count == start, "a bad value was sent"
        box = panel.form.messages[case.where]
        assert box.layout.display != "none", f"no message next to {case.where}"
        assert box.value
        assert "wiro-invalid" in panel.form.controls[case.where]._dom_classes
        assert "Not sent" in panel.status.alert.value
        assert panel.generate_button.disabled is False
        tally.add("inputs refused")
        return
    assert panel.status.state == "done", panel.status.alert.value
    task = sb.tasks[-1]
    assert len(task.inputs) == case.refs_sent
    if case.kind == "upload":
        # Only the user's good images travelled; the refused file never left.
        good = files.good.read_bytes()
        assert {i["sha256"] for i in task.inputs} == {hashlib.sha256(good).hexdigest()}
        tally.add("inputs refused")
        return
    assert case.verify is not None
    case.verify(task, files)
    tally.add("inputs refused" if case.kind == "control" else "inputs sent correctly")


def test_no_widget_holds_uploaded_bytes_after_bad_picks(panel: FluxPanel, files: Files) -> None:
    """Refused and accepted picks alike leave no file bytes in the uploader's state."""
    for make in (_file_entry("pdf_as_png"), _file_entry("good"), _big_entry):
        panel.references.uploader.set_state({"value": [make(files)]})
        assert panel.references.uploader.get_state()["value"] == []


def test_bytes_read_is_measurable() -> None:
    """The 200 MB check above relies on /proc/self/io counting reads."""
    if not os.path.exists("/proc/self/io"):
        pytest.skip("no /proc/self/io")
    start = _bytes_read()
    with open(__file__, "rb") as handle:
        handle.read()
    assert _bytes_read() - start >= os.path.getsize(__file__)
