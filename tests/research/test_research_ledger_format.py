"""A ledger written before the typed events (version 1 of the format) still loads.

``fixtures/ledger_v1`` was written by the package as it was before the ledger had typed
events: a sandbox session with a success, one with a reference image (JPEG output), a
failure, a moderation, a cancel, a detach collected later by ``resume()``, a lost Run, a task
left running, and a task the server did not know (``resume()`` marked it). Its cache holds
the outputs; the ledger's ``path`` fields point to a home that no longer exists.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from wiro_widgets.ledger import (
    Detached,
    Finished,
    Ledger,
    OtherEvent,
    RunUnknown,
    Submitted,
    parse_event,
)
from wiro_widgets.research import load_history, pending

FIXTURE = Path(__file__).parent / "fixtures" / "ledger_v1"


@pytest.fixture
def old_ledger(wiro_home: Path) -> Ledger:
    shutil.copytree(FIXTURE, wiro_home, dirs_exist_ok=True)
    return Ledger(wiro_home)


def test_every_line_parses_to_its_type(old_ledger: Ledger) -> None:
    raw = list(old_ledger.events())
    typed = list(old_ledger.read())
    assert len(raw) == len(typed) == 18
    kinds = {type(e) for e in typed}
    assert kinds == {Submitted, Finished, Detached, RunUnknown}
    assert not any(isinstance(e, OtherEvent) for e in typed)
    for line, event in zip(raw, typed, strict=True):
        assert event.time == line["time"]
        # What the old writer wrote comes back field for field.
        fields = event.fields()
        for key, value in fields.items():
            if key in line:
                expected = line[key]
                if key == "client":
                    expected = {k: v for k, v in expected.items() if k in value}
                assert value == expected, (line["event"], key)


def test_history_resume_and_outcomes_from_the_old_ledger(old_ledger: Ledger) -> None:
    tasks = old_ledger.tasks()
    outcomes = {entry.task_id: entry.outcome for entry in tasks.values()}
    assert sorted(outcomes.values(), key=str) == sorted(
        ["succeeded", "succeeded", "failed", "moderated", "cancelled", "succeeded",
         "succeeded", "error"], key=str)
    unknown = next(e for e in old_ledger.read() if isinstance(e, RunUnknown))
    assert unknown.params == {"prompt": "lost", "seed": 12}
    detached = next(e for e in old_ledger.read() if isinstance(e, Detached))
    assert (detached.reason, detached.status) == ("timeout", "task_start")
    resumed = [e for e in old_ledger.read() if isinstance(e, Finished) and e.resumed]
    assert [e.outcome for e in resumed] == ["error"]

    results = load_history(None)
    assert len(results) == 4
    assert [r.task_id for r in results] == sorted((r.task_id for r in results), reverse=True)
    for result in results:
        assert result.sandbox  # a 127.0.0.1 server, from before the flag was recorded
        assert result.cost > 0
        assert result.params["steps"] in (4, 50)
        assert result.images[0].size == (64, 64)  # found in the cache by content hash
        assert result.outputs[0].path.startswith(str(old_ledger.home))
    with_ref = next(r for r in results if r.params["input_images"])
    [ref] = with_ref.params["input_images"]
    assert ref["size"] > 0
    assert len(ref["sha256"]) == 64
    assert with_ref.outputs[0].content_type == "image/jpeg"
    assert with_ref.seed == 6
    assert pending(None) == []  # everything ended or was marked by resume()


def test_unknown_kinds_and_keys_are_tolerated() -> None:
    event = parse_event({"v": 9, "event": "submitted", "task_id": 7, "token": "t",
                         "model": "a/b", "params": None, "new_field": [1, 2],
                         "client": {"base_url": "http://x/v1", "gpu": "H100"}})
    assert isinstance(event, Submitted)
    assert (event.task_id, event.params, event.client.base_url) == ("7", {}, "http://x/v1")
    other = parse_event({"event": "budget_changed", "token": "t", "budget": 3})
    assert isinstance(other, OtherEvent)
    assert other.token == "t"
    assert json.loads(json.dumps(other.raw)) == {"event": "budget_changed", "token": "t",
                                                 "budget": 3}
    finished = parse_event({"event": "finished", "token": "t", "task_id": "1",
                            "status": "task_postprocess_end", "pexit": "0",
                            "timeline": [["task_queue", "17"], ["bad"]], "outputs": "x"})
    assert isinstance(finished, Finished)
    assert finished.outcome == "succeeded"  # no outcome written: the success rule decides
    assert finished.timeline == {"task_queue": 17.0}
    assert finished.outputs == ()
