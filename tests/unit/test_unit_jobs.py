"""The pure logic of named jobs: a cell's state from its ledger lines, a job's status, the
job events' round trip, CSV typing, and the export's column types."""

from __future__ import annotations

from pathlib import Path

import pytest

from wiro_widgets.ledger import (
    Finished,
    JobStarted,
    Ledger,
    NotSent,
    RunUnknown,
    Sending,
    Submitted,
    parse_job_event,
)
from wiro_widgets.research import read_job
from wiro_widgets.research.export import column_kinds, typed_rows
from wiro_widgets.research.job_names import derived_name, job_digest
from wiro_widgets.research.rows import RowSource, coerce
from wiro_widgets.specs import FLUX_2_FLEX

JOB = "study"


def _run(ledger: Ledger, cell: int, run: str, *, token: str = "", outcome: str = "",
         not_sent: bool = False, unknown: bool = False, cost: float = 0.0) -> None:
    ledger.write(Sending(run_id=run, job=JOB, cell=cell, model="a/b"))
    if not_sent:
        ledger.write(NotSent(run_id=run, job=JOB, cell=cell, reason="code 96"))
    if unknown:
        ledger.write(RunUnknown(model="a/b", run_id=run, reason="ReadTimeout"))
    if token:
        ledger.write(Submitted(task_id=f"id-{token}", token=token, model="a/b", run_id=run))
    if outcome:
        ledger.write(Finished(task_id=f"id-{token}", token=token, outcome=outcome, cost=cost))


def test_each_cell_takes_the_state_of_its_latest_run(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    ledger.write(JobStarted(job=JOB, kind="batch", digest="d1", total=8))
    _run(ledger, 0, "r0", token="t0", outcome="succeeded", cost=0.5)
    _run(ledger, 1, "r1", token="t1")                                   # still running
    _run(ledger, 2, "r2", token="t2", outcome="failed", cost=0.1)
    _run(ledger, 3, "r3", token="t3", outcome="cancelled")              # interrupted: to do
    _run(ledger, 4, "r4")                                               # a crash: unknown
    _run(ledger, 5, "r5", unknown=True)                                 # answer lost
    _run(ledger, 6, "r6", not_sent=True)                                # refused: to do
    _run(ledger, 7, "r7a", token="t7", outcome="succeeded")
    _run(ledger, 7, "r7b", not_sent=True)                               # a success stays
    ledger.write(Sending(run_id="x", job="another job", cell=0, model="a/b"))
    record = read_job(ledger, JOB)
    states = {i: record.state(i) for i in range(9)}
    assert states == {0: "done", 1: "running", 2: "failed", 3: "to_do", 4: "unknown",
                      5: "unknown", 6: "to_do", 7: "done", 8: "to_do"}
    assert record.tokens == {"t0", "t1", "t2", "t3", "t7"}
    assert record.digest == "d1"
    status = record.status(9)
    assert (status.done, status.running, status.to_do, status.failed, status.unknown) == (
        2, 1, 3, 1, 2)
    assert status.spent == pytest.approx(0.6)
    assert status.failures == ((2, "id-t2", "failed"),)
    assert "2 done, 1 running, 3 to do, 1 failed, 2 unknown" in repr(status)


def test_a_fresh_start_forgets_earlier_runs_but_not_their_cost(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    ledger.write(JobStarted(job=JOB, digest="d1"))
    _run(ledger, 0, "r0", token="t0", outcome="succeeded", cost=0.5)
    ledger.write(JobStarted(job=JOB, digest="d2", fresh=True))
    record = read_job(ledger, JOB)
    assert record.state(0) == "to_do"
    assert record.digest == "d2"
    assert record.spent == pytest.approx(0.5)


def test_job_events_read_back_typed() -> None:
    event = Sending(run_id="r", job=JOB, cell=3, model="a/b", sent={"prompt": "x"},
                    sent_at=1.5)
    assert parse_job_event({"event": "sending", **event.fields()}) == event
    assert parse_job_event({"event": "not_sent", "run_id": "r", "cell": "2"}) == NotSent(
        run_id="r", cell=2)
    assert parse_job_event({"event": "submitted"}) is None
    assert parse_job_event({"event": "job_started", "job": JOB, "models": ["a/b"],
                            "total": "4"}) == JobStarted(job=JOB, models=("a/b",), total=4)


def test_names_follow_what_a_job_runs() -> None:
    one = job_digest([("a/b", {"prompt": "x", "seed": 1})])
    assert one == job_digest([("a/b", {"seed": 1, "prompt": "x"})])
    assert one != job_digest([("a/b", {"prompt": "x", "seed": 2})])
    assert derived_name("sweep", ["owner/flux-2-flex"], one) == f"sweep-flux-2-flex-{one[:12]}"


def test_csv_cells_take_the_models_types(tmp_path: Path) -> None:
    row = {"seed": "7", "guidance": "4.5", "steps": "x", "input_images": "a.png | b.png",
           "prompt": "12"}
    assert coerce(row, FLUX_2_FLEX) == {"seed": 7, "guidance": 4.5, "steps": "x",
                                        "input_images": ["a.png", "b.png"], "prompt": "12"}
    path = tmp_path / "rows.csv"
    path.write_text('prompt,seed\n"two\nlines",1\n\nthree,3,extra\n', encoding="utf-8")
    rows = list(RowSource.of(path))
    assert rows[0] == (2, {"prompt": "two\nlines", "seed": "1"})
    assert rows[1][0] == 5
    assert "more cells than the header" in rows[1][1].rule  # type: ignore[union-attr]
    other = tmp_path / "rows.txt"
    other.write_text("prompt\n", encoding="utf-8")
    with pytest.raises(ValueError, match="jsonl"):
        RowSource.of(other)
    with pytest.raises(FileNotFoundError):
        RowSource.of(tmp_path / "missing.jsonl")


def test_an_export_column_keeps_one_type() -> None:
    rows = [{"guidance": 4, "refs": [{"name": "a"}], "mixed": 1, "empty": None},
            {"guidance": 4.5, "refs": [], "mixed": "one"}]
    kinds = column_kinds(rows)
    assert kinds == {"guidance": "float", "refs": "json", "mixed": "json", "empty": "str"}
    typed = list(typed_rows(rows, kinds))
    assert typed[0]["guidance"] == 4.0
    assert isinstance(typed[0]["guidance"], float)
    assert typed[0]["refs"] == '[{"name": "a"}]'
    assert typed[1]["mixed"] == '"one"'
    assert typed[1]["empty"] is None
