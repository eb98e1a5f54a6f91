"""The run ledger and the output cache on disk."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock

from wiro_widgets.auth import Credentials
from wiro_widgets.errors import ConfigError
from wiro_widgets.ledger import Finished, Ledger, OutputCache, Submitted

#: filelock's DEBUG line for each poll of a lock that someone else holds.
WAITING = "not acquired"


def lock_path(home: Path) -> Path:
    """The lock file every writer of the ledger in ``home`` takes (threads and processes)."""
    return home / "ledger.jsonl.lock"


def test_events_merge_per_task(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    ledger.write(Submitted(task_id="1", token="tok1", model="a/b", params={"seed": 1}))
    ledger.write(Submitted(task_id="2", token="tok2", model="a/b", params={}))
    ledger.write(Finished(task_id="1", token="tok1", outcome="succeeded", cost=0.1))
    tasks = ledger.tasks()
    assert tasks["tok1"].is_finished is True
    assert tasks["tok1"].outcome == "succeeded"
    assert tasks["tok1"].params == {"seed": 1}
    assert tasks["tok2"].is_finished is False
    assert [e["event"] for e in ledger.events()] == ["submitted", "submitted", "finished"]


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    ledger.append("submitted", task_id="1", token="t", model="a/b")
    with open(ledger.path, "a", encoding="utf-8") as handle:
        handle.write('{"event": "finished", "tok')
    assert len(list(ledger.events())) == 1


def test_the_next_event_starts_a_line_of_its_own(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    ledger = Ledger(tmp_path)
    ledger.append("submitted", task_id="1", token="t1", model="a/b")
    with open(ledger.path, "ab") as handle:
        handle.write('{"event": "submitted", "params": {"prompt": "✂'.encode()[:-1])
    ledger.append("submitted", task_id="2", token="t2", model="a/b")
    with open(ledger.path, "ab") as handle:
        handle.write(b"\x00\xff garbage\n[1, 2]\n")
    caplog.set_level(logging.WARNING)
    assert list(ledger.tasks()) == ["t1", "t2"]
    assert list(ledger.tasks()) == ["t1", "t2"]
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == 3  # once per bad line, not once per read
    assert all(str(ledger.path) in m for m in skipped)
    assert [m.split(", line ")[1].split(":")[0] for m in skipped] == ["2", "4", "5"]


def test_a_read_only_home_reads_and_refuses_writes_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "not-made" / "home"
    ledger = Ledger(missing)
    assert list(ledger.events()) == []
    assert not missing.exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"cannot write the run ledger in .*a-file"):
        Ledger(blocker / "home").check_writable()
    ledger.check_writable()  # makes the folder; leaves no probe behind
    assert [p.name for p in missing.iterdir()] == ["ledger.jsonl"]


def test_secrets_never_reach_the_ledger(tmp_path: Path) -> None:
    creds = Credentials("ledger-key-123456", "ledger-secret-654321")
    ledger = Ledger(tmp_path)
    ledger.append("run_unknown", message=f"failed with {creds.api_key}")
    text = ledger.path.read_text()
    assert "ledger-key-123456" not in text
    assert "***" in text


def test_an_append_waits_for_the_ledger_lock(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    # Short appends rarely tear even without a lock, so interleaving proves nothing: hold
    # the lock every writer shares and watch an append wait for it.
    ledger = Ledger(tmp_path)
    appended = threading.Event()

    def append() -> None:
        ledger.append("note", token="waited")
        appended.set()

    with caplog.at_level(logging.DEBUG, logger="filelock"), FileLock(str(lock_path(tmp_path))):
        writer = threading.Thread(target=append)
        writer.start()
        deadline = time.monotonic() + 30
        while not appended.is_set() and not any(
                WAITING in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the append neither waited nor finished"
            time.sleep(0.01)
        assert not appended.is_set(), "the append did not wait for the ledger's lock"
        assert list(ledger.events()) == []
    writer.join(30)
    assert appended.is_set()
    assert [e["token"] for e in ledger.events()] == ["waited"]


def test_output_cache_serves_only_what_it_stored(tmp_path: Path) -> None:
    cache = OutputCache(tmp_path)
    digest, path = cache.put(b"hello", ".png")
    assert cache.find(digest, path=str(path)) == str(path)
    path.write_bytes(b"jello")  # replaced after the fact
    assert cache.find(digest, path=str(path), suffixes=[".png"]) == ""
    assert cache.get(digest, ".png") is None
    assert cache.put(b"hello", ".png") == (digest, path)  # stored again, correctly
    assert cache.find(digest, suffixes=[".jpeg", ".png"]) == str(path)


def test_output_cache_is_content_addressed(tmp_path: Path) -> None:
    cache = OutputCache(tmp_path)
    digest, path = cache.put(b"hello", ".png")
    again, same = cache.put(b"hello", ".png")
    assert (digest, path) == (again, same)
    assert path.read_bytes() == b"hello"
    assert cache.get(digest, ".png") == b"hello"
    assert cache.get("0" * 64, ".png") is None
