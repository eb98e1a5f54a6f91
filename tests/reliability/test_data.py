"""Data (issue 12): nothing is lost when the ledger's disk misbehaves, a billed task is never
dropped from resume(), a cache file is served only while it is what was saved, and a sweep
run again never bills its finished cells silently.

The torn ledger lines are real: a child process appends an event under ``RLIMIT_FSIZE``, so
the kernel cuts the write where the limit falls (inside a multi-byte character, or inside
plain text). The read-only and full homes are real tmpfs mounts (root only; skipped with
the reason otherwise).
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from documented.server import DocumentedServer
from PIL import Image
from shared_helpers import wait_for

from wiro_widgets import AlreadyRun, ConfigError, WiroClient
from wiro_widgets.ledger import Ledger
from wiro_widgets.research import run_sweep

from . import tally
from .helpers import MODEL, SMALL


def attack(name: str, *, lost: int = 0, twice: int = 0, served: int = 0) -> None:
    tally.add("data attacks")
    tally.add(f"data attacks: {name}")
    tally.add("tasks lost", lost)
    tally.add("duplicate runs", twice)
    tally.add("tampered files served", served)


def run_requests(sb: Any) -> list[Any]:
    return [r for r in sb.requests if r.path.startswith("/v1/Run/")]


# -- torn ledger lines ----------------------------------------------------------------------

#: Appends one event for a task that exists nowhere, under a file-size limit that cuts it.
_TORN_WRITER = """
import json, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a short write and EFBIG, not a killed child
from wiro_widgets.ledger import Ledger, Submitted
home, prompt, cut_at = sys.argv[1], sys.argv[2], sys.argv[3]
ledger = Ledger(home)
event = Submitted(task_id="999", token="torn-token", model="a/b", params={"prompt": prompt})
# The bytes before the prompt do not depend on the time (keys are sorted; "time" comes later).
line = json.dumps({"v": 1, "event": "submitted", "time": 0, **event.fields()},
                  ensure_ascii=False, sort_keys=True).encode()
offset = line.index(cut_at.encode()) + 1          # one byte into it
size = ledger.path.stat().st_size if ledger.path.exists() else 0
resource.setrlimit(resource.RLIMIT_FSIZE, (size + offset, resource.RLIM_INFINITY))
try:
    ledger.write(event)
except OSError as err:
    print("cut", err.errno)
else:
    print("whole")
"""


def torn_write(home: Path, prompt: str, cut_at: str) -> None:
    """Append an event from a child process whose file-size limit cuts it inside
    ``cut_at`` (a substring of ``prompt``)."""
    done = subprocess.run([sys.executable, "-c", _TORN_WRITER, str(home), prompt, cut_at],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.startswith("cut"), (done.stdout, done.stderr[-2000:])


@pytest.mark.parametrize(("prompt", "cut_at"), [
    ("torn inside ✂ a multi-byte character", "✂"),
    ("torn inside plain text", "plain"),
], ids=["multi-byte", "ascii"])
def test_a_torn_ledger_line_loses_nothing_else(
        make_sandbox: Callable[..., Any], wiro_home: Path, prompt: str, cut_at: str,
        caplog: pytest.LogCaptureFixture) -> None:
    sb = make_sandbox()
    first = sb.client().run(MODEL, prompt="before the tear", **SMALL)
    torn_write(wiro_home, prompt, cut_at)
    raw = Ledger(wiro_home).path.read_bytes()
    assert not raw.endswith(b"\n")  # the fragment really is there, unterminated
    # A billed task submitted right after the tear, left for resume() to collect.
    task = sb.client().submit(MODEL, prompt="after the tear", **SMALL)
    with open(Ledger(wiro_home).path, "ab") as handle:
        handle.write(b"\xff\xfe not json at all\n")  # and a garbage line for good measure

    caplog.set_level(logging.WARNING)
    later = sb.client()
    assert [r.task_id for r in later.history()] == [first.task_id]  # no UnicodeDecodeError
    [result] = later.resume(timeout=60)
    assert result.task_id == task.id
    assert result.images
    assert later.wait(first.token, timeout=60).images
    tasks = Ledger(wiro_home).tasks()
    assert tasks[task.token].outcome == "succeeded"
    assert "torn-token" not in tasks
    warnings = [r.getMessage() for r in caplog.records if "ledger.jsonl, line" in r.getMessage()]
    assert any("line 3:" in w for w in warnings), warnings  # the fragment, named
    assert any("line 5:" in w for w in warnings), warnings  # the garbage
    assert len(warnings) == len(set(warnings)) == 2  # one warning each, not one per read
    attack(f"torn ledger line ({cut_at!r})", lost=int(task.token not in tasks))


# -- an unwritable home ---------------------------------------------------------------------


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount small tmpfs file systems (root only) and unmount them afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only or full tmpfs needs root")
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        where = tmp_path / f"mount-{len(mounted)}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                              capture_output=True, text=True, check=False)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


@pytest.mark.parametrize("kind", ["read-only", "full"])
def test_an_unwritable_home_refuses_before_anything_is_billed(
        make_sandbox: Callable[..., Any], mount_tmpfs: Callable[[str], Path], kind: str) -> None:
    if kind == "read-only":
        home, problem = mount_tmpfs("ro,size=1m"), "Read-only file system"
    else:
        home, problem = mount_tmpfs("size=256k"), "No space left on device"
        _fill(home)
    sb = make_sandbox()
    client = sb.client(home=home)
    with pytest.raises(ConfigError) as caught:
        client.run(MODEL, prompt=f"{kind} home", **SMALL)
    assert str(home) in str(caught.value)
    assert problem in str(caught.value)
    assert "ledger=False" in str(caught.value)
    assert run_requests(sb) == []
    assert sb.tasks == []
    assert client.reserved == 0
    # Running without a ledger is the caller's choice, and then it runs.
    task = sb.client(home=home, ledger=False).submit(MODEL, prompt=f"{kind}, no ledger",
                                                     **SMALL)
    assert [t.id for t in sb.tasks] == [task.id]
    attack(f"{kind} home", lost=len(sb.tasks) - 1)


# -- resume() keeps what it cannot see yet --------------------------------------------------


def _documented_client(server: DocumentedServer, key: str) -> WiroClient:
    return WiroClient(api_key=key, api_secret="secret", base_url=server.base_url,
                      use_socket=False)


def test_one_no_task_answer_does_not_drop_a_pending_task(wiro_home: Path) -> None:
    with DocumentedServer() as server:
        server.script(f"/Run/{MODEL}", "run.json")
        task = _documented_client(server, "key-a").submit(MODEL, prompt="Hello, world!")
        server.script("/Task/Detail", "error-no-task.json", "task-detail-succeeded.json")
        results = _documented_client(server, "key-a").resume(timeout=60)
        assert [r.token for r in results] == [task.token]
        assert Ledger(wiro_home).tasks()[task.token].outcome == "succeeded"
    attack("one 'no task' answer", lost=int(not results))


def test_another_keys_client_skips_and_keeps_the_task(wiro_home: Path) -> None:
    with DocumentedServer() as server:
        server.script(f"/Run/{MODEL}", "run.json")
        task = _documented_client(server, "key-a").submit(MODEL, prompt="Hello, world!")
        # Another project's key: the server would say "no task" for good.
        server.script("/Task/Detail", "error-no-task.json")
        assert _documented_client(server, "key-b").resume(timeout=30) == []
        assert server.requests_to("/Task/Detail") == []  # never asked, so never closed
        assert not Ledger(wiro_home).tasks()[task.token].is_finished
        server.script("/Task/Detail", "task-detail-succeeded.json")
        [result] = _documented_client(server, "key-a").resume(timeout=60)
        assert result.token == task.token
    attack("another project's key", lost=int(result is None))


# -- a cache file replaced after the fact ---------------------------------------------------


def test_a_replaced_cache_file_is_reported_and_not_served(
        make_sandbox: Callable[..., Any], wiro_home: Path, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    sb = make_sandbox()
    result = sb.client().run(MODEL, prompt="the original", **SMALL)
    cached = Path(result.outputs[0].path)
    other = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 255, 0)).save(other, format="PNG")
    cached.write_bytes(other.getvalue())  # a valid image, but not the one that was made

    caplog.set_level(logging.WARNING)
    [loaded] = sb.client().history()
    assert loaded.outputs[0].path == ""
    assert any(str(cached) in r.getMessage() and "replaced" in r.getMessage()
               for r in caplog.records)
    with pytest.raises(FileNotFoundError):
        loaded.images  # noqa: B018
    out = tmp_path / "saved"
    with pytest.raises(FileNotFoundError):
        loaded.save(out)
    assert not any(out.glob("*.png"))  # the original recipe is never stamped on it
    attack("replaced cache file", served=int(bool(loaded.outputs[0].path)))


# -- a sweep run again ----------------------------------------------------------------------


def test_an_interrupted_sweep_run_again_does_not_bill_its_finished_cells(
        make_sandbox: Callable[..., Any], wiro_home: Path) -> None:
    sb = make_sandbox(speed=40.0)
    client = sb.client()
    params: dict[str, Any] = {"prompt": "sweep again", "seed": [1, 2, 3], **SMALL}
    stop = threading.Event()
    with sb.gate("task_start") as gate:
        def drive() -> None:
            # Let two cells through; the third is held, then the sweep is interrupted.
            for count in (1, 2):
                wait_for(lambda n=count: len(gate.reached) >= n, 30)  # type: ignore[misc]
                gate.release(gate.reached[count - 1])
            wait_for(lambda: len(gate.reached) >= 3, 30)
            stop.set()

        driver = threading.Thread(target=drive)
        driver.start()
        first = run_sweep(client, MODEL, max_concurrency=1, cancel_event=stop,
                          on_progress=lambda _: None, **params)
        driver.join()
    assert len(first.results) == 2
    assert len(sb.tasks) == 3
    runs = len(run_requests(sb))
    # The same sweep run again resumes: its two finished cells are reused, only the one
    # cancelled by the interruption is sent.
    again = run_sweep(client, MODEL, on_progress=lambda _: None, **params)
    assert len(again.results) == 3
    assert {r.task_id for r in first.results} <= {r.task_id for r in again.results}
    assert len(run_requests(sb)) == runs + 1
    assert len(sb.tasks) == 4
    # Another sweep that repeats those cells would bill them again: refused, nothing sent.
    runs = len(run_requests(sb))
    wider = {**params, "seed": [1, 2, 3, 4]}
    with pytest.raises(AlreadyRun) as caught:
        run_sweep(client, MODEL, on_progress=lambda _: None, **wider)
    assert sorted(caught.value.tasks) == sorted(r.task_id for r in again.results)
    assert "rerun=True" in str(caught.value)
    assert "nothing was sent" in str(caught.value)
    assert len(run_requests(sb)) == runs  # not one more Run
    billed = client.sweep(MODEL, rerun=True, on_progress=lambda _: None, **params)
    assert len(billed.results) == 3  # billed again, because the caller said so
    assert len(sb.tasks) == 7
    attack("interrupted sweep run again", twice=0)


def test_history_and_resume_read_a_ledger_of_garbage_only(wiro_home: Path,
                                                         make_sandbox: Callable[..., Any]
                                                         ) -> None:
    wiro_home.mkdir(parents=True, exist_ok=True)
    (wiro_home / "ledger.jsonl").write_bytes(b"\x80\x81\x82\n{\"half\": \n[1, 2]\n\"text\"\n")
    client = make_sandbox().client()
    assert client.history() == []
    assert client.resume(timeout=5) == []
    assert json.loads(json.dumps(list(Ledger(wiro_home).events()))) == []
    attack("a ledger of garbage")
