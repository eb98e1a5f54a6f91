"""The run ledger and the output cache on disk."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from wiro_widgets.auth import Credentials
from wiro_widgets.ledger import Finished, Ledger, OutputCache, Submitted


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


def test_concurrent_appends_do_not_interleave(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)

    def write(n: int) -> None:
        for i in range(25):
            ledger.append("note", token=f"t{n}-{i}", blob="x" * 2000)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = ledger.path.read_text().splitlines()
    assert len(lines) == 100
    assert all(json.loads(line)["event"] == "note" for line in lines)


def test_output_cache_is_content_addressed(tmp_path: Path) -> None:
    cache = OutputCache(tmp_path)
    digest, path = cache.put(b"hello", ".png")
    again, same = cache.put(b"hello", ".png")
    assert (digest, path) == (again, same)
    assert path.read_bytes() == b"hello"
    assert cache.get(digest, ".png") == b"hello"
    assert cache.get("0" * 64, ".png") is None
