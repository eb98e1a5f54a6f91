"""Batches against a real sandbox: rows from a list, a JSONL file and a CSV file; every bad
row reported at once with its line and rule before anything is sent; failures kept and
listed; a changed batch file refused; status, spend, the progress bar; one WebSocket and a
bounded number of threads whatever the number of tasks."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wiro_widgets import InvalidRows, JobBusy, JobChanged
from wiro_widgets.research import JobProgress
from wiro_widgets.research.job_lock import job_lock

from .conftest import MODEL

SMALL = {"width": 64, "height": 64, "steps": 2}


def _runs(sb: Any) -> int:
    return sum(1 for r in sb.requests if r.method == "POST" and "/Run/" in r.path)


def _jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_every_bad_row_is_reported_at_once_and_nothing_is_sent(
        make_sandbox: Callable[..., Any], tmp_path: Path) -> None:
    sb = make_sandbox()
    client = sb.client()
    path = _jsonl(tmp_path / "rows.jsonl", [
        {"prompt": "a fox", "seed": 1},
        {"prompt": "a fox", "guidance": 99},             # line 2: out of range
        "",                                               # line 3: blank, skipped
        "{not json",                                      # line 4
        {"prompt": "a fox", "steps": 0},                  # line 5: out of range
        {"prompt": "a fox", "colour": "red"},             # line 6: no such parameter
        [1, 2],                                           # line 7: not an object
        {"prompt": "a fox", "seed": 2},
    ])
    with pytest.raises(InvalidRows) as caught:
        client.batch(path, model=MODEL, name="bad", progress=False, **SMALL)
    problems = caught.value.problems
    assert [line for line, *_ in problems] == [2, 4, 5, 6, 7]
    assert [field for _, field, *_ in problems] == ["guidance", "<row>", "steps", "colour",
                                                    "<row>"]
    text = str(caught.value)
    assert "5 of 7 rows" in text
    assert "line 2: guidance=99" in text
    assert "line 4: <row>" in text
    assert "not valid JSON" in text
    assert "skip_invalid=True" in text
    assert _runs(sb) == 0
    assert sb.tasks == []
    # Explicitly skipped: the good rows run, the bad ones are listed.
    batch = client.batch(path, model=MODEL, name="bad", progress=False, skip_invalid=True,
                         **SMALL)
    assert len(sb.tasks) == 2
    assert [line for line, *_ in batch.skipped] == [2, 4, 5, 6, 7]
    status = batch.status()
    assert (status.done, status.to_do, status.skipped) == (2, 0, 5)


def test_csv_rows_take_the_models_types_and_a_row_may_name_its_model(
        make_sandbox: Callable[..., Any], tmp_path: Path, png_file: Path) -> None:
    sb = make_sandbox()
    client = sb.client()
    path = tmp_path / "rows.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", "seed", "guidance", "input_images"])
        writer.writerow(["image 1 as a fox", "7", "3.5", str(png_file)])
        writer.writerow(["a \"quoted\",\nmultiline prompt", "8", "", ""])
        writer.writerow(["a cat", "nine", "4", ""])
    with pytest.raises(InvalidRows) as caught:
        client.batch(path, model=MODEL, progress=False, **SMALL)
    # The multi-line prompt starts on line 3 and ends on 4: the bad row is on line 5.
    assert [(line, field) for line, field, *_ in caught.value.problems] == [(5, "seed")]
    rows = path.read_text(encoding="utf-8").replace("nine", "9")
    path.write_text(rows, encoding="utf-8")
    batch = client.batch(path, model=MODEL, progress=False, **SMALL)
    assert batch.status().done == 3
    params = sorted((t.params["seed"], t.params.get("guidance")) for t in sb.tasks)
    assert params == [(7, 3.5), (8, 4.5), (9, 4.0)]  # 4.5: the default of an empty cell
    assert sorted(len(t.inputs) for t in sb.tasks) == [0, 0, 1]


def test_failures_are_kept_and_listed_and_never_stop_the_rest(
        make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox()
    client = sb.client()
    seen: list[JobProgress] = []
    rows = [{"prompt": f"a fox {i}"} for i in range(6)]
    rows[1]["prompt"] = "a fail-me fox"
    rows[4]["prompt"] = "another fail-me fox"
    batch = client.batch(rows, model=MODEL, name="with failures", max_concurrency=3,
                         on_progress=seen.append, progress=False, **SMALL)
    assert len(sb.tasks) == 6
    assert [line for line, _ in batch.failures] == [2, 5]
    assert all("TaskFailed" in text for _, text in batch.failures)
    status = batch.status()
    assert (status.done, status.failed, status.to_do) == (4, 2, 0)
    assert [index for index, _, _ in status.failures] == [1, 4]
    billed = sum(float(client.detail(t.token)["totalcost"]) for t in sb.tasks)
    assert status.spent == pytest.approx(billed, abs=1e-6)
    assert status.spent > 0
    assert seen[0].event == "start"
    assert seen[-1].event == "done"
    assert (seen[-1].succeeded, seen[-1].failed, seen[-1].running) == (4, 2, 0)
    assert len(list(batch.results())) == 4
    # Run again: nothing is sent; the failures stay listed, from the ledger.
    again = client.batch(rows, model=MODEL, name="with failures", progress=False, **SMALL)
    assert len(sb.tasks) == 6
    assert [line for line, _ in again.failures] == [2, 5]
    assert "Generation failed" in again.failures[0][1]


def test_a_changed_batch_file_is_refused(make_sandbox: Callable[..., Any],
                                         tmp_path: Path) -> None:
    sb = make_sandbox()
    client = sb.client()
    path = _jsonl(tmp_path / "rows.jsonl", [{"prompt": "a fox"}, {"prompt": "a cat"}])
    client.batch(path, model=MODEL, progress=False, **SMALL)
    _jsonl(path, [{"prompt": "a fox"}, {"prompt": "a dog"}])
    runs = _runs(sb)
    with pytest.raises(JobChanged, match=r"rows\.jsonl changed since.*nothing was sent"):
        client.batch(path, model=MODEL, progress=False, **SMALL)
    assert _runs(sb) == runs
    fresh = client.batch(path, model=MODEL, progress=False, rerun=True, **SMALL)
    assert fresh.status().done == 2
    assert len(sb.tasks) == 4


def test_a_batch_running_elsewhere_is_refused(make_sandbox: Callable[..., Any],
                                              wiro_home: Path) -> None:
    sb = make_sandbox()
    client = sb.client()
    with job_lock(wiro_home, "busy"), pytest.raises(JobBusy, match="another process"):
        client.batch([{"prompt": "a fox"}], model=MODEL, name="busy", progress=False,
                     **SMALL)
    assert sb.tasks == []


def test_the_progress_bar_says_done_failed_running_and_spent(
        make_sandbox: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    sb = make_sandbox()
    rows = [{"prompt": "a fox"}, {"prompt": "a fail-me fox"}, {"prompt": "a cat"}]
    sb.client().batch(rows, model=MODEL, name="bar", **SMALL)
    text = capsys.readouterr().err
    final = text.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("bar: 100%")
    assert "3/3" in final
    assert "1 failed, 0 running, $0.0" in final
    assert "spent" in final


def test_many_tasks_share_one_socket_and_a_bounded_pool(
        make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox(speed=4.0, concurrency_limit=None)
    client = sb.client()
    peak: dict[str, int] = {"threads": 0, "running": 0}
    before = _client_threads()
    sockets = [t.name for t in threading.enumerate()].count("wiro-hub-socket")

    def watch(progress: JobProgress) -> None:
        peak["threads"] = max(peak["threads"], _client_threads())
        peak["running"] = max(peak["running"], progress.running)
        names = [t.name for t in threading.enumerate()]
        assert not [n for n in names if n in ("wiro-socket", "wiro-poller")]
        assert names.count("wiro-hub-socket") <= sockets + 1

    rows = [{"prompt": f"fox {i}"} for i in range(60)]
    batch = client.batch(rows, model=MODEL, max_concurrency=30, on_progress=watch,
                         progress=False, **SMALL)
    assert batch.status().done == 60
    assert peak["running"] >= 20  # many tasks were followed at once ...
    assert peak["threads"] - before <= 16  # ... by a fixed number of threads


def _client_threads() -> int:
    """The client's threads (the sandbox in this process has a thread per task)."""
    return sum(1 for t in threading.enumerate() if t.name.startswith("wiro-"))


@pytest.mark.parametrize("how", ["polling only", "socket drops"])
def test_a_batch_ends_without_the_socket_or_through_its_drops(
        make_sandbox: Callable[..., Any], how: str) -> None:
    from wiro_widgets.sandbox import Faults

    faults = Faults(socket_drop_rate=0.3, seed=7) if how == "socket drops" else None
    sb = make_sandbox(faults=faults)
    client = sb.client(use_socket=how != "polling only")
    rows = [{"prompt": f"fox {i}"} for i in range(8)]
    batch = client.batch(rows, model=MODEL, max_concurrency=4, progress=False, **SMALL)
    assert batch.status().done == 8
    assert len(sb.tasks) == 8
    assert sorted(str(t.params["prompt"]) for t in sb.tasks) == sorted(r["prompt"] for r in rows)
