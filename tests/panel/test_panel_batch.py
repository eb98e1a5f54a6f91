"""Batches: one Generate press makes 1 to 8 images, each its own task and seed, run side by
side and shown together; Cancel stops them all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest
from shared_helpers import wait_for

from wiro_widgets.panel import FluxPanel
from wiro_widgets.panel.batch import MAX_COUNT


def overlap(tasks: list[Any]) -> int:
    """The most tasks that were running on the server at one moment."""
    spans = []
    for task in tasks:
        times = dict(task.history)
        start = times.get("task_start") or times.get("task_queue")
        spans.append((start, task.history[-1][1]))
    return max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)


@pytest.fixture
def panel(sandbox: Any, tmp_path: Path) -> FluxPanel:
    made = FluxPanel(sandbox.client(), save_dir=tmp_path / "saved")
    assert made.form.prompt is not None
    assert made.form.seed is not None
    made.form.prompt.value = "a batch of foxes"
    made.form.controls["steps"].value = 12
    made.form.set_size(256, 256)
    return made


def test_batch_of_four_gives_four_images_with_four_seeds(panel: FluxPanel,
                                                         sandbox: Any) -> None:
    assert [value for _label, value in panel.count.options] == list(range(1, MAX_COUNT + 1))
    assert "wiro-count" in panel.count._dom_classes
    before = len(sandbox.tasks)
    panel.form.seed.value = 500  # type: ignore[union-attr]
    panel.count.value = 4
    assert panel.generate()
    assert panel.count.disabled  # not changed under a running batch
    assert panel.wait(60)
    assert panel.status.state == "done", panel.status.alert.value
    assert "4/4 done" in panel.status.stage.value
    tasks = sandbox.tasks[before:]
    assert sorted(t.params["seed"] for t in tasks) == [500, 501, 502, 503]
    assert overlap(tasks) > 1  # side by side, not one after the other
    assert sorted(r.seed for r in panel.history) == [500, 501, 502, 503]
    # Shown together, in seed order, whatever order they finished in.
    cells = panel.gallery.viewer.children
    assert len(cells) == 4
    assert all(isinstance(c, w.VBox) and isinstance(c.children[0], w.Image) for c in cells)
    # Numbered in batch order too: #1 is the first seed, whichever task finished first.
    assert [c.children[1].description for c in cells] == \
        ["#1 · seed 500", "#2 · seed 501", "#3 · seed 502", "#4 · seed 503"]
    assert "wiro-selected" in cells[0]._dom_classes
    assert "wiro-grid-2" in panel.gallery.viewer._dom_classes
    assert "seeds used: 500, 501, 502, 503" in panel.form.seed_used.value
    # A pick button selects that run: its caption and actions follow.
    cells[2].children[1].click()
    assert panel.gallery.selected is not None
    assert panel.gallery.selected.seed == 502
    assert "seed <code>502</code>" in panel.gallery.caption.value
    assert not panel.count.disabled


def test_random_seeds_differ_within_a_batch(panel: FluxPanel, sandbox: Any) -> None:
    before = len(sandbox.tasks)
    panel.form.randomize.value = True
    panel.count.value = 3
    assert panel.generate()
    assert panel.wait(60)
    seeds = [t.params["seed"] for t in sandbox.tasks[before:]]
    assert len(seeds) == len(set(seeds)) == 3


def test_a_locked_seed_counts_up_too(panel: FluxPanel, sandbox: Any) -> None:
    before = len(sandbox.tasks)
    panel.form.seed.value = 7  # type: ignore[union-attr]
    panel.form.lock.value = True
    panel.count.value = 2
    assert panel.generate()
    assert panel.wait(60)
    assert sorted(t.params["seed"] for t in sandbox.tasks[before:]) == [7, 8]
    assert panel.form.seed.value == 7  # type: ignore[union-attr]


def test_cancel_stops_every_task_of_a_batch(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox()
    panel = FluxPanel(sb.client())
    assert panel.form.prompt is not None
    panel.form.prompt.value = "three to cancel"
    panel.count.value = 3
    with sb.gate("task_output", step=2) as gate:
        assert panel.generate()
        gate.wait_reached(timeout=30)
        wait_for(lambda: len(sb.tasks) == 3)
        for task in sb.tasks:  # all three are generating, held
            gate.wait_reached(task.id, timeout=30)
        assert len(gate.held) == 3
        assert panel.cancel()
        assert panel.wait(30)
    assert panel.status.state == "cancelled"
    assert [t.status for t in sb.tasks] == ["task_cancel"] * 3
    assert "Cancelled" in panel.status.alert.value
    assert panel.history == []
    assert not panel.generate_button.disabled


def test_a_failing_batch_says_so_once_with_the_count(panel: FluxPanel, sandbox: Any) -> None:
    # The sandbox fails a prompt containing "fail-me"; here every task of the batch shares the
    # prompt, so all fail: the batch reports the failure once, with the count.
    assert panel.form.prompt is not None
    panel.form.prompt.value = "fail-me twice"
    panel.count.value = 2
    assert panel.generate()
    assert panel.wait(60)
    assert panel.status.state == "failed"
    assert "2 of 2 failed" in panel.status.alert.value
    assert "Generation failed" in panel.status.alert.value


def test_a_batch_stays_under_the_servers_limit(make_sandbox: Callable[..., Any]) -> None:
    # A low balance allows one task at a time: Runs over it answer code 96 (and make no task);
    # the batch narrows to what the server allows and every image still arrives.
    sb = make_sandbox(concurrency_limit=1, speed=5.0)
    panel = FluxPanel(sb.client(busy_timeout=0.0))  # the client itself would give up at once
    assert panel.form.prompt is not None
    panel.form.prompt.value = "one at a time, please"
    panel.form.controls["steps"].value = 20
    panel.count.value = 3
    assert panel.generate()
    assert panel.wait(120)
    assert panel.status.state == "done", panel.status.alert.value
    assert len(sb.tasks) == 3
    assert overlap(sb.tasks) == 1
    assert len(panel.history) == 3
