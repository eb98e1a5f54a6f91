"""Money (issue 12): a Run whose answer is lost is never paid twice, the budget holds, and
"cancelled" is said only when the server stopped the task.

Each attack is driven through the sandbox's fault modes (a gateway 504 after the task was
accepted, a connection dropped after it, a late Task/List, a server clock 5 s behind the
client's, Kill refused or ignored) or through a server answering Wiro's documented examples
with the cost fields changed. Every test adds to the reliability tally: the attacks tried,
and what must stay 0 (duplicate Runs, budget overruns, false cancels, lost tasks).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from documented.examples import render
from documented.server import DocumentedServer, Step
from PIL import Image
from shared_helpers import wait_for

from wiro_widgets import (
    BudgetExceeded,
    CancelRefused,
    RunOutcomeUnknown,
    TaskCancelled,
    TaskTimeout,
    WiroClient,
)
from wiro_widgets.ledger import Ledger
from wiro_widgets.research import run_sweep
from wiro_widgets.sandbox import Faults

from . import tally
from .helpers import MODEL, SMALL

#: The estimate of one `SMALL` run (64x64 at $0.06 per megapixel, rounded as the spec does).
SMALL_COST = round(0.06 * 64 * 64 / 1e6, 6)


def run_requests(sb: Any) -> list[Any]:
    return [r for r in sb.requests if r.path.startswith("/v1/Run/")]


def duplicates(sb: Any) -> int:
    """Sandbox tasks beyond one per prompt (every run here has its own prompt)."""
    prompts = [str(t.params.get("prompt")) for t in sb.tasks]
    return len(prompts) - len(set(prompts))


def attack(name: str, *, twice: int = 0, overrun: int = 0, false_cancel: int = 0,
           lost: int = 0) -> None:
    tally.add("money attacks")
    tally.add(f"money attacks: {name}")
    tally.add("duplicate runs", twice)
    tally.add("budget overruns", overrun)
    tally.add("false cancels", false_cancel)
    tally.add("tasks lost", lost)


def recovered(client: WiroClient, timeout: float = 30.0) -> list[Any]:
    """What a user's "check again" finds once the server lists the task."""
    found: list[Any] = []
    wait_for(lambda: bool(found.extend(client.recover_lost_runs()) or found), timeout)
    return found


# -- one run(), never two billed tasks ------------------------------------------------------


@pytest.mark.parametrize("faults", [
    {"run_504_rate": 1.0, "list_delay": 4.0},
    {"lost_run_rate": 1.0, "list_delay": 4.0},
    {"run_504_rate": 1.0, "list_delay": 4.0, "clock_skew": -5.0},
], ids=["gateway-504-late-listing", "dropped-late-listing", "504-late-listing-clock-5s-ahead"])
def test_a_lost_run_is_never_sent_again_and_is_collected_later(
        make_sandbox: Callable[..., Any], wiro_home: Path, faults: dict[str, Any]) -> None:
    sb = make_sandbox(faults=faults)
    client = sb.client()
    prompt = f"lost run {sorted(faults)}"
    sent = time.monotonic()
    with pytest.raises(RunOutcomeUnknown) as caught:
        client.run(MODEL, prompt=prompt, seed=3, **SMALL)
    err = caught.value
    assert len(run_requests(sb)) == 1
    assert len(sb.tasks) == 1
    assert err.task_may_exist
    assert err.model == MODEL
    assert err.fingerprint in str(err)
    assert err.reason in str(err)
    assert "not sent again" in str(err)
    assert client.reserved == pytest.approx(SMALL_COST)  # it may bill: still counted
    [unknown] = Ledger(wiro_home).unknown_runs()
    assert (unknown.run_id, unknown.fingerprint) == (err.run_id, err.fingerprint)

    # Later, in a new session: resume() adopts the task once it is listed, and collects it.
    wait_for(lambda: time.monotonic() - sent > faults["list_delay"] + 0.5, 30)
    later = sb.client()
    [result] = later.resume(timeout=60)
    assert result.task_id == sb.tasks[0].id
    assert result.images
    assert result.params["prompt"] == prompt
    entry = Ledger(wiro_home).tasks()[sb.tasks[0].token]
    assert entry.submitted is not None
    assert entry.submitted.adopted
    assert entry.submitted.run_id == err.run_id
    assert entry.outcome == "succeeded"
    assert Ledger(wiro_home).unknown_runs() == []
    assert len(run_requests(sb)) == 1
    attack("lost Run collected later", twice=duplicates(sb) + len(run_requests(sb)) - 1)


def test_a_lost_run_is_found_at_once_with_the_clients_clock_5s_ahead(
        make_sandbox: Callable[..., Any], wiro_home: Path) -> None:
    # The case: the server's createtime is 5 s behind this computer's clock.
    sb = make_sandbox(faults=Faults(lost_run_rate=1.0, clock_skew=-5.0))
    client = sb.client()
    result = client.run(MODEL, prompt="clock skew", **SMALL)
    assert result.images
    assert [t.id for t in sb.tasks] == [result.task_id]
    assert len(run_requests(sb)) == 1
    [event] = [e for e in Ledger(wiro_home).read() if getattr(e, "adopted", False)]
    assert event.task_id == result.task_id
    attack("lost Run, client clock 5 s ahead", twice=duplicates(sb) + len(run_requests(sb)) - 1)


def test_check_again_and_history_adopt_the_task(make_sandbox: Callable[..., Any],
                                                wiro_home: Path) -> None:
    sb = make_sandbox(faults=Faults(run_504_rate=1.0, list_delay=4.0))
    client = sb.client()
    with pytest.raises(RunOutcomeUnknown):
        client.submit(MODEL, prompt="check again", **SMALL)
    assert client.recover_lost_runs() == []  # not listed yet: still unknown, never re-sent
    [task] = recovered(client)
    assert task.id == sb.tasks[0].id
    assert client.wait(task, timeout=60).images
    # history() shows it, and a second look adopts nothing more.
    assert [r.task_id for r in client.history()] == [task.id]
    assert client.recover_lost_runs() == []
    assert client.spent == pytest.approx(SMALL_COST)
    assert client.reserved == 0
    assert len(run_requests(sb)) == 1
    attack("lost Run, check again", twice=duplicates(sb))


def test_history_adopts_and_resume_collects(make_sandbox: Callable[..., Any],
                                            wiro_home: Path) -> None:
    sb = make_sandbox(faults=Faults(lost_run_rate=1.0, list_delay=4.0))
    sent = time.monotonic()
    with pytest.raises(RunOutcomeUnknown):
        sb.client().submit(MODEL, prompt="history adopts", **SMALL)
    wait_for(lambda: time.monotonic() - sent > 4.5, 30)
    client = sb.client()
    assert client.history() == []  # adopted: pending now, not finished yet
    entry = Ledger(wiro_home).tasks()[sb.tasks[0].token]
    assert entry.submitted is not None
    assert entry.submitted.adopted
    assert not entry.is_finished
    assert [r.task_id for r in client.resume(timeout=60)] == [sb.tasks[0].id]
    attack("lost Run, history adopts", twice=duplicates(sb) + len(run_requests(sb)) - 1)


def test_only_a_refused_connection_or_a_busy_answer_is_sent_again(
        make_sandbox: Callable[..., Any], wiro_home: Path) -> None:
    sb = make_sandbox(faults=Faults(error_rate=1.0, kinds=("429",), retry_after=0))
    client = sb.client()

    def lift() -> None:
        wait_for(lambda: len(run_requests(sb)) >= 2, 30)
        sb.set_faults(None)

    lifter = threading.Thread(target=lift)
    lifter.start()
    task = client.submit(MODEL, prompt="busy then free", **SMALL)
    lifter.join()
    assert [t.id for t in sb.tasks] == [task.id]  # re-sent after 429s: one task
    assert client.wait(task, timeout=60).images
    attack("429 then accepted", twice=duplicates(sb))


# -- the budget -----------------------------------------------------------------------------


def _png(size: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (20, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_match_the_reference_is_estimated_at_the_references_size(
        make_sandbox: Callable[..., Any], tmp_path: Path) -> None:
    sb = make_sandbox()
    reference = tmp_path / "big.png"
    reference.write_bytes(_png(2048))
    full = round(0.06 * 2048 * 2048 / 1e6, 6)
    client = sb.client(budget=0.1)  # room for a 1024x1024 run, not for a 2048x2048 one
    params = {"prompt": "as big as the reference", "width": 0, "height": 0, "steps": 2,
              "input_images": [reference]}
    assert client.estimate_cost(MODEL, **params) == pytest.approx(full)
    url = {**params, "input_images": ["https://example.com/unknown-size.png"]}
    assert client.estimate_cost(MODEL, **url) == pytest.approx(full)  # the largest allowed
    with pytest.raises(BudgetExceeded) as caught:
        client.run(MODEL, **params)
    assert caught.value.estimate == pytest.approx(full)
    assert run_requests(sb) == []
    client.budget = 1.0
    result = client.run(MODEL, **params)
    assert result.images[0].size == (2048, 2048)
    assert client.spent <= full + 1e-9
    attack("size 0 with a 2048x2048 reference", overrun=int(result.cost > 0.1))


def _documented_run(server: DocumentedServer, **record_changes: Any) -> None:
    """Script a documented run whose final record has ``record_changes`` (None: removed)."""
    envelope = json.loads(render("task-detail-succeeded.json", server.origin))
    record = envelope["tasklist"][0]
    for key, value in record_changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    server.script(f"/Run/{MODEL}", "run.json")
    server.script("/Task/Detail", Step(body=json.dumps(envelope).encode(),
                                       headers={"Content-Type": "application/json"}))


@pytest.mark.parametrize("cost", [None, "-5.0", "n/a", "NaN"],
                         ids=["missing", "negative", "text", "nan"])
def test_a_cost_the_record_does_not_give_counts_the_estimate(cost: str | None,
                                                             wiro_home: Path) -> None:
    with DocumentedServer() as server:
        _documented_run(server, totalcost=cost)
        estimate = round(0.06 * 1024 * 1024 / 1e6, 6)
        client = WiroClient(api_key="k", api_secret="s", base_url=server.base_url,
                            use_socket=False, budget=estimate * 1.5)
        client.run(MODEL, prompt="Hello, world!", timeout=30)
        assert client.spent == pytest.approx(estimate)  # never $0, never negative
        with pytest.raises(BudgetExceeded):
            client.submit(MODEL, prompt="one more")
        assert len(server.requests_to(f"/Run/{MODEL}")) == 1
        client.close()
    attack(f"totalcost {cost!r}", overrun=int(client.spent < estimate - 1e-9))


def test_a_detached_task_stays_reserved_until_it_ends(make_sandbox: Callable[..., Any],
                                                      wiro_home: Path) -> None:
    sb = make_sandbox()
    client = sb.client(budget=SMALL_COST * 1.5)
    with sb.gate("task_start") as gate:
        with pytest.raises(TaskTimeout) as caught:
            client.run(MODEL, prompt="detached", timeout=0.5, on_timeout="detach", **SMALL)
        assert caught.value.detached
        token = str(caught.value.token)
        assert client.reserved == pytest.approx(SMALL_COST)
        with pytest.raises(BudgetExceeded):
            client.submit(MODEL, prompt="too much", **SMALL)
        # Waiting again by token, and detaching again, keeps it reserved.
        with pytest.raises(TaskTimeout):
            client.wait(token, timeout=0.3, on_timeout="detach")
        # So does another session's client, resuming it.
        other = sb.client(budget=SMALL_COST * 1.5)
        assert other.resume(timeout=0.5) == []
        assert other.reserved == pytest.approx(SMALL_COST)
        with pytest.raises(BudgetExceeded):
            other.submit(MODEL, prompt="too much elsewhere", **SMALL)
        gate.release()
    assert client.wait(token, timeout=60).images
    assert client.reserved == 0
    assert client.spent == pytest.approx(SMALL_COST)
    client.budget = SMALL_COST * 2.5
    assert client.submit(MODEL, prompt="room again", **SMALL)
    assert len(sb.tasks) == 2
    attack("on_timeout=detach", overrun=int(len(sb.tasks) > 2))


def test_the_budget_holds_under_concurrent_submits_and_sweeps(
        make_sandbox: Callable[..., Any], wiro_home: Path) -> None:
    # Eight threads: runs that time out and detach (their tasks held running by a gate, so
    # they keep billing) and sweeps, all against one budget of ten and a half runs.
    sb = make_sandbox(speed=40.0, concurrency_limit=None)
    budget = SMALL_COST * 10.5
    client = sb.client(budget=budget)
    refused: list[BaseException] = []
    lock = threading.Lock()

    def detached(index: int) -> None:
        try:
            client.run(MODEL, prompt=f"detached {index}", timeout=0.2, on_timeout="detach",
                       **SMALL)
        except TaskTimeout:
            pass
        except BudgetExceeded as err:
            with lock:
                refused.append(err)

    def sweep(index: int) -> None:
        try:
            done = run_sweep(client, MODEL, prompt=f"sweep {index}", seed=[1, 2, 3],
                             on_progress=lambda _: None, **SMALL)
        except BudgetExceeded as err:
            with lock:
                refused.append(err)
        else:
            with lock:
                refused.extend(e for e in done.errors.values()
                               if isinstance(e, BudgetExceeded))

    with sb.gate("task_start") as gate, ThreadPoolExecutor(8) as pool:
        runs = [pool.submit(detached, i) for i in range(16)]
        sweeps = [pool.submit(sweep, i) for i in range(3)]
        for job in runs:
            job.result()
        gate.close()  # the held tasks go on to the end
        for job in sweeps:
            job.result()
    assert refused, "the budget never said no: the test proves nothing"
    assert len(sb.tasks) * SMALL_COST <= budget + 1e-9, len(sb.tasks)
    client.resume(timeout=60)  # collect the detached ones
    assert sb.wait_idle(30)
    assert client.spent <= budget + 1e-9
    assert client.reserved == 0
    attack("concurrent submits and sweeps",
           overrun=int(len(sb.tasks) * SMALL_COST > budget + 1e-9))


# -- cancelled means the server stopped it --------------------------------------------------


@pytest.fixture
def held(make_sandbox: Callable[..., Any]) -> Iterator[tuple[Any, WiroClient, Any]]:
    """A sandbox whose Kill is refused, a client, and a gate holding tasks at task_start."""
    sb = make_sandbox(faults=Faults(kill="refuse"))
    with sb.gate("task_start") as gate:
        yield sb, sb.client(use_socket=False), gate


def test_a_refused_kill_raises_at_once_with_the_servers_text(
        held: tuple[Any, WiroClient, Any], wiro_home: Path) -> None:
    sb, client, gate = held
    task = client.submit(MODEL, prompt="refused kill", **SMALL)
    gate.wait_reached(task.id, timeout=30)
    started = time.monotonic()
    with pytest.raises(CancelRefused) as caught:
        client.kill(task)
    assert time.monotonic() - started < 3  # at once: no 15 s of polling
    assert "Task could not be killed: " in str(caught.value)
    assert caught.value.code == 1
    assert caught.value.refused
    assert caught.value.token == task.token
    assert len([r for r in sb.requests if r.path == "/v1/Task/Kill"]) == 1  # never retried
    assert not Ledger(wiro_home).tasks()[task.token].is_finished
    gate.release()
    [result] = client.resume(timeout=60)
    assert result.task_id == task.id
    attack("Kill refused (kill())")


def test_a_refused_kill_is_never_reported_as_cancelled(held: tuple[Any, WiroClient, Any],
                                                       wiro_home: Path) -> None:
    sb, client, gate = held
    client.budget = SMALL_COST * 1.5
    stop, labels = threading.Event(), []
    task = client.submit(MODEL, prompt="cancel refused", **SMALL)
    gate.wait_reached(task.id, timeout=30)
    stop.set()
    with pytest.raises(CancelRefused) as caught:
        client.wait(task, cancel_event=stop, on_update=lambda u: labels.append(u.label))
    assert not isinstance(caught.value, TaskCancelled)
    assert "Task could not be killed" in str(caught.value)
    assert "may still run" in str(caught.value)
    assert "cancelled" not in labels
    entry = Ledger(wiro_home).tasks()[task.token]
    assert not entry.is_finished  # still pending: resume() collects it
    assert client.reserved == pytest.approx(SMALL_COST)  # and it may still bill
    gate.release()
    assert [r.task_id for r in client.resume(timeout=60)] == [task.id]
    assert sb.tasks[0].status == "task_postprocess_end"
    attack("Kill refused (cancel_event)", false_cancel=int("cancelled" in labels))


def test_a_timeout_whose_kill_is_refused_detaches(held: tuple[Any, WiroClient, Any],
                                                  wiro_home: Path) -> None:
    _, client, gate = held
    with pytest.raises(TaskTimeout) as caught:
        client.run(MODEL, prompt="timeout, kill refused", timeout=1.0, on_timeout="cancel",
                   **SMALL)
    assert caught.value.detached
    assert "Task could not be killed" in str(caught.value)
    entry = Ledger(wiro_home).tasks()[str(caught.value.token)]
    assert not entry.is_finished
    gate.release()
    assert len(client.resume(timeout=60)) == 1
    attack("Kill refused (timeout)", false_cancel=int(entry.is_finished))


def test_an_ignored_kill_ends_with_the_tasks_real_outcome(make_sandbox: Callable[..., Any],
                                                          wiro_home: Path) -> None:
    # The server answers the Kill as a success (its answer even shows task_cancel) but the
    # task goes on to the end: Task/Detail decides, so the result is returned, not
    # "cancelled".
    sb = make_sandbox(faults=Faults(kill="ignore"))
    client = sb.client(use_socket=False)
    stop = threading.Event()
    with sb.gate("task_start") as gate:
        task = client.submit(MODEL, prompt="ignored kill", **SMALL)
        gate.wait_reached(task.id, timeout=30)

        def release_after_kill() -> None:
            wait_for(lambda: any(r.path == "/v1/Task/Kill" for r in sb.requests), 30)
            gate.release()

        releaser = threading.Thread(target=release_after_kill)
        releaser.start()
        stop.set()
        result = client.wait(task, cancel_event=stop)
        releaser.join()
    assert result.images
    assert result.task_id == task.id
    assert Ledger(wiro_home).tasks()[task.token].outcome == "succeeded"
    attack("Kill ignored")


@pytest.mark.slow
def test_an_ignored_kill_that_never_ends_is_not_cancelled(make_sandbox: Callable[..., Any],
                                                          wiro_home: Path) -> None:
    sb = make_sandbox(faults=Faults(kill="ignore"))
    client = sb.client(use_socket=False)
    with sb.gate("task_start") as gate:
        task = client.submit(MODEL, prompt="ignored kill, held", **SMALL)
        gate.wait_reached(task.id, timeout=30)
        with pytest.raises(CancelRefused) as caught:
            client.kill(task)
        assert not caught.value.refused
        assert "still task_start" in str(caught.value)
        assert not Ledger(wiro_home).tasks()[task.token].is_finished
    attack("Kill ignored, task held")


_SUBMIT_CHILD = """
import sys
from wiro_widgets import WiroClient
client = WiroClient()
try:
    client.submit("black-forest-labs/flux-2-flex", prompt="interrupted in flight", width=64,
                  height=64, steps=2)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
print("returned", flush=True)
"""


def test_ctrl_c_while_the_run_is_in_flight_is_adopted_later(make_sandbox: Callable[..., Any],
                                                            wiro_home: Path) -> None:
    # The server holds the Run's answer for 3 s and creates the task after the client is
    # gone: the ledger keeps a run_unknown entry, and a later resume() collects the task.
    sb = make_sandbox(faults=Faults(error_rate=1.0, kinds=("stall",), stall_seconds=3.0))
    env = {**os.environ, **sb.env(), "WIRO_WIDGETS_HOME": str(wiro_home)}
    child = subprocess.Popen([sys.executable, "-c", _SUBMIT_CHILD], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: bool(run_requests(sb)), 30)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert "interrupted" in out, (out, err[-2000:])
    sb.set_faults(None)
    wait_for(lambda: len(sb.tasks) == 1, 30)  # the server went on and created it
    [unknown] = Ledger(wiro_home).unknown_runs()
    assert unknown.reason == "interrupted while the Run was in flight"
    [result] = sb.client().resume(timeout=60)
    assert result.task_id == sb.tasks[0].id
    assert result.images
    assert len(run_requests(sb)) == 1
    attack("Ctrl-C while the Run is in flight", lost=int(not result.images))
