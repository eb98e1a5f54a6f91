"""Research features against a real sandbox: ledger, budget, history, sweeps, compare."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from wiro_widgets import BudgetExceeded, TaskFailed, ValidationError, compare, read_params
from wiro_widgets.ledger import Ledger
from wiro_widgets.research import Sweep, SweepProgress, sweep_over

from .conftest import MODEL

TERMINAL = {"task_postprocess_end", "task_cancel"}


def _runs(sb: Any) -> int:
    return sum(1 for r in sb.requests if r.method == "POST" and "/Run/" in r.path)


def test_ledger_entry_is_written_before_the_wait(client: Any, sandbox: Any,
                                                 png_file: Path, wiro_home: Path) -> None:
    task = client.submit(MODEL, prompt="image 1 as a fox", seed=11, input_images=[png_file])
    # Nothing has waited yet: the submitted event must already be on disk.
    lines = (wiro_home / "ledger.jsonl").read_text(encoding="utf-8").splitlines()
    [event] = [json.loads(line) for line in lines]
    assert event["event"] == "submitted"
    assert (event["task_id"], event["token"], event["model"]) == (task.id, task.token, MODEL)
    assert event["params"]["seed"] == 11
    assert event["params"]["guidance"] == 4.5  # defaults included
    [ref] = event["params"]["input_images"]
    assert ref["sha256"] == hashlib.sha256(png_file.read_bytes()).hexdigest()
    assert ref["size"] == png_file.stat().st_size
    client.wait(task)
    entry = Ledger().tasks()[task.token]
    assert entry.is_finished
    assert entry.outcome == "succeeded"
    text = (wiro_home / "ledger.jsonl").read_text(encoding="utf-8")
    assert sandbox.api_key not in text
    assert sandbox.api_secret not in text


def test_budget_refuses_before_any_run(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox()
    client = sb.client(budget=0.01)
    with pytest.raises(BudgetExceeded, match=r"budget"):
        client.run(MODEL, prompt="a fox")
    # A sweep is refused as a whole, from its estimate, before its first Run.
    client.budget = 0.2
    with pytest.raises(BudgetExceeded, match=r"9 runs.*Nothing was sent") as info:
        client.sweep(MODEL, prompt="a fox", seed=[1, 2, 3], guidance=[2.5, 4.5, 7.0])
    assert info.value.estimate == pytest.approx(9 * 0.0629, rel=0.01)
    assert sb.tasks == []
    assert _runs(sb) == 0


def test_history_loads_images_after_the_url_expired(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox(output_ttl=0.3)
    client = sb.client()
    result = client.run(MODEL, prompt="a fox", seed=4, width=256, height=256)
    url = result.outputs[0].url
    deadline = time.monotonic() + 10
    while requests.get(url, timeout=5).status_code != 404:
        assert time.monotonic() < deadline, "the sandbox output URL never expired"
        time.sleep(0.1)
    fresh = sb.client()  # a new session, as after a kernel restart
    [again] = fresh.history()
    assert again.task_id == result.task_id
    assert again.seed == 4
    assert again.image.tobytes() == result.image.tobytes()
    assert again.params == result.params


def test_sweep_3x3_under_code_96_runs_each_cell_once(make_sandbox: Callable[..., Any],
                                                     tmp_path: Path) -> None:
    sb = make_sandbox(concurrency_limit=2)
    client = sb.client()
    seen: list[SweepProgress] = []
    thread_ids: set[int] = set()

    def progress(p: SweepProgress) -> None:
        seen.append(p)
        thread_ids.add(threading.get_ident())

    sweep = client.sweep(MODEL, prompt="a fox", seed=[1, 2, 3], guidance=[2.5, 4.5, 7.0],
                         width=256, height=256, max_concurrency=4, on_progress=progress)
    assert isinstance(sweep, Sweep)
    assert len(sweep.results) == 9
    assert sweep.errors == {}
    # Code 96 really happened, and no refused submission turned into a second Run.
    assert any(p.event == "busy" for p in seen)
    assert len(sb.tasks) == 9
    cells = {(t.params["seed"], t.params["guidance"]) for t in sb.tasks}
    assert cells == {(s, g) for s in (1, 2, 3) for g in (2.5, 4.5, 7.0)}
    assert seen[0].event == "start"
    assert seen[0].total == 9
    assert seen[0].estimate == pytest.approx(sweep.estimate)
    assert seen[-1].event == "done"
    assert (seen[-1].succeeded, seen[-1].done, seen[-1].running) == (9, 9, 0)
    assert thread_ids == {threading.get_ident()}  # callbacks on the caller's thread
    assert sweep.axes == {"seed": [1, 2, 3], "guidance": [2.5, 4.5, 7.0]}
    assert sweep.cost == pytest.approx(sum(r.cost for r in sweep.results))
    result = sweep.get(seed=2, guidance=7.0)
    assert result is not None
    assert (result.seed, result.params["guidance"]) == (2, 7.0)
    assert [r.params["guidance"] for r in sweep][:3] == [2.5, 4.5, 7.0]
    assert compare(sweep.results).differing == ["seed", "guidance"]

    page = sweep._repr_html_()
    assert page.count("<img ") == 9
    for label in ("guidance=2.5", "guidance=7.0", "seed=1", "seed=3", "9 runs over seed"):
        assert label in page
    sheet = sweep.grid_image(cell_size=64)
    assert sheet.width > 3 * 64
    assert sheet.height > 3 * 64
    exported = sweep.export(tmp_path / "figure")
    summary = json.loads(exported.read_text())
    assert len(summary["cells"]) == 9
    first = tmp_path / "figure" / summary["cells"][0]["files"][0]
    assert read_params(first)["params"]["guidance"] == 2.5
    assert Image.open(tmp_path / "figure" / "grid.png").size == sweep.grid_image().size
    assert len((tmp_path / "figure" / "ledger.jsonl").read_text().splitlines()) == 18


def test_a_failing_cell_keeps_the_others(client: Any) -> None:
    sweep = client.sweep(MODEL, prompt=["a fox", "a fail-me fox"], seed=[1, 2], width=256,
                         height=256, on_progress=lambda p: None)
    assert len(sweep.results) == 2
    assert {c.values["prompt"] for c in sweep.errors} == {"a fail-me fox"}
    assert all(isinstance(e, TaskFailed) for e in sweep.errors.values())
    page = sweep._repr_html_()
    assert page.count("wiro-sweep-error") == 2
    assert page.count("<img ") == 2
    assert "2 failed" in sweep.caption()


def test_sweep_over_reference_sets(client: Any, sandbox: Any, png_file: Path,
                                   jpeg_file: Path) -> None:
    sweep = client.sweep(MODEL, prompt="image 1 in the style of image 2", width=256,
                         height=256, input_images=sweep_over([[png_file],
                                                              [png_file, jpeg_file]]),
                         on_progress=lambda p: None)
    assert len(sweep.results) == 2
    ours = {r.token for r in sweep.results}
    counts = sorted(len(t.inputs) for t in sandbox.tasks if t.token in ours)
    assert counts == [1, 2]
    assert "2 refs: reference.png, reference.jpg" in sweep._repr_html_()


def _check_nothing_running(sb: Any) -> None:
    assert sb.wait_idle(15)
    assert {t.status for t in sb.tasks} <= TERMINAL


def test_sweep_cancelled_halfway_leaves_nothing_running(
        make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox()
    client = sb.client()
    with sb.gate("task_queue") as queued:  # only the first two may run; the rest wait

        def progress(p: SweepProgress) -> None:
            for task_id in queued.reached[:2]:
                queued.release(task_id)
            if p.succeeded >= 2 and p.sweep is not None:
                p.sweep.cancel()

        sweep = client.sweep(MODEL, prompt="a fox", seed=[1, 2, 3], guidance=[2.5, 4.5, 7.0],
                             width=256, height=256, max_concurrency=2, on_progress=progress)
    _check_nothing_running(sb)
    assert sweep.cancelled
    assert len(sweep.results) >= 2
    assert sweep.not_run
    assert len(sweep.results) + len(sweep.errors) + len(sweep.not_run) == 9
    kept = {r.token for r in sweep.results}
    cancelled = [t for t in sb.tasks if t.token not in kept]
    assert cancelled, "no task was running when the sweep was cancelled"
    assert {t.status for t in cancelled} == {"task_cancel"}
    assert len(sb.tasks) == len(kept) + len(cancelled)
    assert "not run" in sweep._repr_html_()


def test_interrupting_a_sweep_cancels_its_tasks(make_sandbox: Callable[..., Any]) -> None:
    # on_interrupt="cancel" stops the running tasks; the default ("detach") leaves them for
    # the sweep's next run (tests/research/test_research_jobs_interrupt.py).
    sb = make_sandbox()
    client = sb.client()

    def progress(p: SweepProgress) -> None:
        if p.event == "submitted":
            raise KeyboardInterrupt  # what Ctrl-C / a kernel interrupt does in the caller

    with sb.gate("task_queue"), pytest.raises(KeyboardInterrupt):  # none may end first
        client.sweep(MODEL, prompt="a fox", seed=[1, 2, 3, 4], width=256, height=256,
                     max_concurrency=2, on_progress=progress, on_interrupt="cancel")
    _check_nothing_running(sb)
    assert sb.tasks
    assert {t.status for t in sb.tasks} == {"task_cancel"}


def test_background_sweep_cancelled_by_event(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox(speed=4.0)
    client = sb.client()
    stop = threading.Event()
    sweep = Sweep(client, MODEL, {"seed": [1, 2, 3, 4]}, {"prompt": "a fox", "width": 256,
                                                          "height": 256},
                  max_concurrency=2, cancel_event=stop).start()
    deadline = time.monotonic() + 10
    while not sb.tasks:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    stop.set()
    assert sweep.wait(15)
    _check_nothing_running(sb)
    assert sweep.done
    assert len(sweep.results) + len(sweep.errors) + len(sweep.not_run) == 4


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_saved_sandbox_outputs_carry_their_recipe(client: Any, png_file: Path, tmp_path: Path,
                                                  fmt: str) -> None:
    result = client.run(MODEL, prompt="image 1 as a fox", seed=321, width=256, height=256,
                        output_format=fmt, input_images=[png_file])
    [path] = result.save(tmp_path)
    assert path.suffix == (".png" if fmt == "png" else ".jpg")
    assert "_flux-2-flex_seed321_0" in path.name
    meta = read_params(path)
    assert meta["model"] == MODEL
    assert meta["task_id"] == result.task_id
    assert meta["cost"] == pytest.approx(result.cost)
    assert meta["params"]["output_format"] == fmt
    assert meta["params"]["input_images"][0]["sha256"] == hashlib.sha256(
        png_file.read_bytes()).hexdigest()
    assert read_params(path.with_suffix(".json")) == meta
    # The pixels are the downloaded ones, not a re-encode.
    with Image.open(path) as saved, Image.open(result.outputs[0].path) as original:
        assert saved.tobytes() == original.tobytes()
    assert path.stat().st_size - Path(result.outputs[0].path).stat().st_size < 20_000


def test_an_invalid_cell_stops_the_sweep_before_any_run(
        make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox()
    with pytest.raises(ValidationError, match="guidance"):
        sb.client().sweep(MODEL, prompt="a fox", seed=[1, 2], guidance=[4.5, 99.0])
    with pytest.raises(ValueError, match="seed has no values"):
        sb.client().sweep(MODEL, prompt="a fox", seed=[])
    assert _runs(sb) == 0
