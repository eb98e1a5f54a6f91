"""The run ledger and the output cache on disk."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock

from wiro_widgets.auth import Credentials
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


def test_output_cache_is_content_addressed(tmp_path: Path) -> None:
    cache = OutputCache(tmp_path)
    digest, path = cache.put(b"hello", ".png")
    again, same = cache.put(b"hello", ".png")
    assert (digest, path) == (again, same)
    assert path.read_bytes() == b"hello"
    assert cache.get(digest, ".png") == b"hello"
    assert cache.get("0" * 64, ".png") is None
