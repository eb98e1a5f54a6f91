"""Losing the server while a run is in flight: said within seconds, given up on within 30 s
with the task kept to collect later, and "check again" (never "generate again") when a task's
fate is not known. No browser: the panel's own widgets are read."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared_helpers import wait_for

from wiro_widgets.client import RetryPolicy
from wiro_widgets.ledger import Ledger
from wiro_widgets.panel import FluxPanel
from wiro_widgets.research import pending


def prompted(client: Any, text: str) -> FluxPanel:
    panel = FluxPanel(client)
    assert panel.form.prompt is not None
    panel.form.prompt.value = text
    panel.form.controls["steps"].value = 20
    return panel


def test_stopping_the_server_mid_run_is_said_within_seconds(
        make_sandbox: Callable[..., Any], wiro_home: Path) -> None:
    sb = make_sandbox(speed=1.0)
    client = sb.client()
    panel = prompted(client, "a run that loses its server")
    with sb.gate("task_output", step=2) as gate:
        assert panel.generate()
        task_id = gate.wait_reached(timeout=30)
        wait_for(lambda: "generating" in panel.status.stage.value, 10)
        sb.stop()  # the server is gone, mid-run
        stopped = time.monotonic()
        lost_after = wait_for(lambda: "connection lost" in panel.status.stage.value, 15)
        assert panel.status.state == "running"
        assert "wiro-status-lost" in panel.status.stage._dom_classes
        assert "retrying" in panel.status.stage.value
        ended_after = wait_for(lambda: not panel.running, 40)
    given_up = time.monotonic() - stopped
    assert lost_after <= 10.0, lost_after
    assert given_up <= 30.0, given_up
    assert ended_after > 0
    assert panel.status.state == "lost"
    alert = panel.status.alert.value
    assert "Lost the connection" in alert
    assert task_id in alert
    assert "Check again" in alert
    assert "Generate again" not in alert
    assert panel.status.check_again.layout.display == ""
    assert not panel.generate_button.disabled
    # The task is kept: pending in the ledger, to be collected later.
    assert [t.id for t in pending(client)] == [task_id]
    (detached,) = [e for e in Ledger(wiro_home).events() if e["event"] == "detached"]
    assert detached["task_id"] == task_id
    assert detached["reason"] == "detach"
    assert next(t for t, _r in panel.runs.lost).id == task_id


def test_a_short_outage_is_said_and_then_cleared(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox(speed=1.0)
    panel = prompted(sb.client(), "a run through a short outage")
    panel.runs.watchdog_timings = {"probe_after": 0.3, "lost_after": 1.5,
                                   "give_up_after": 60.0}
    with sb.gate("task_output", step=2) as gate:
        assert panel.generate()
        gate.wait_reached(timeout=30)
        wait_for(lambda: "generating" in panel.status.stage.value, 10)
        sb.set_faults({"error_rate": 1.0, "kinds": ["drop"]})  # every answer is lost
        wait_for(lambda: "connection lost" in panel.status.stage.value, 10)
        assert "No answer from Wiro" in panel.status.alert.value
        sb.set_faults(None)
        wait_for(lambda: "connection lost" not in panel.status.stage.value, 20)
        assert panel.status.state == "running"
        assert "wiro-status-running" in panel.status.stage._dom_classes
        assert panel.status.alert.value == ""
    assert panel.wait(60)
    assert panel.status.state == "done", panel.status.alert.value


def test_cancel_while_the_connection_is_lost_answers_at_once(
        make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox(speed=1.0)
    client = sb.client()
    panel = prompted(client, "cancel me without a server")
    panel.runs.watchdog_timings = {"probe_after": 0.3, "lost_after": 1.0,
                                   "give_up_after": 60.0}
    with sb.gate("task_output", step=2) as gate:
        assert panel.generate()
        task_id = gate.wait_reached(timeout=30)
        sb.set_faults({"error_rate": 1.0, "kinds": ["drop"]})
        wait_for(lambda: "connection lost" in panel.status.stage.value, 10)
        assert panel.cancel()
        assert "cannot reach Wiro to cancel" in panel.status.stage.value
        took = wait_for(lambda: not panel.running, 10)
        sb.set_faults(None)
    assert took < 3.0, took  # not the retries of a Cancel that cannot arrive
    assert panel.status.state == "lost"
    assert "Cancel could not reach Wiro" in panel.status.alert.value
    assert task_id in panel.status.alert.value
    assert [t.id for t in pending(client)] == [task_id]  # kept: to collect or cancel later


def test_check_again_follows_a_lost_task_to_its_image(make_sandbox: Callable[..., Any],
                                                       wiro_home: Path) -> None:
    sb = make_sandbox(speed=1.0)
    client = sb.client()
    panel = prompted(client, "a run collected later")
    panel.runs.watchdog_timings = {"probe_after": 0.2, "lost_after": 0.6,
                                   "give_up_after": 1.2}
    with sb.gate("task_output", step=2) as gate:
        assert panel.generate()
        task_id = gate.wait_reached(timeout=30)
        sb.set_faults({"error_rate": 1.0, "kinds": ["drop"]})
        wait_for(lambda: not panel.running, 30)
        assert panel.status.state == "lost"
        sb.set_faults(None)
    # The gate is closed: the task finishes on the server while nobody follows it.
    assert panel.check_again()
    assert panel.wait(60)
    assert panel.status.state == "done", panel.status.alert.value
    assert panel.result is not None
    assert panel.result.task_id == task_id
    assert len(sb.tasks) == 1  # found again, never sent again
    assert pending(client) == []


def test_an_unknown_run_outcome_offers_check_again(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox()
    client = sb.client(retry=RetryPolicy(budget=1.0, base=0.1, cap=0.2))
    client.reconcile_window = 0.5
    panel = prompted(client, "a run whose answer is lost")
    sb.set_faults({"error_rate": 1.0, "kinds": ["drop"]})
    assert panel.generate()
    assert panel.wait(120)
    sb.set_faults(None)
    assert panel.status.state == "unknown", (panel.status.stage.value, panel.status.alert.value)
    alert = panel.status.alert.value
    assert "Check again" in alert
    assert "Generate again" not in alert
    assert "press Generate" not in alert
    assert panel.status.check_again.layout.display == ""
    assert len(panel.runs.unknown) == 1
    before = len(sb.requests)
    assert panel.check_again()
    assert panel.wait(60)
    runs = [r for r in sb.requests[before:] if r.path.startswith("/v1/Run/")]
    assert runs == []  # checking never sends a Run
    # The faults dropped the Run before a task was made, so there is none to find.
    assert panel.status.state == "unknown"
    assert "has shown up on the server yet" in panel.status.alert.value
    assert panel.status.check_again.layout.display == ""
