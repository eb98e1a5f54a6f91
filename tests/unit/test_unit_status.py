"""Status labels and update progress (pure logic)."""

from __future__ import annotations

import pytest

from wiro_widgets.protocol import STATUS_ORDER, TERMINAL_STATUSES
from wiro_widgets.results import TaskUpdate, stage_label


@pytest.mark.parametrize(("status", "step", "total", "label"), [
    ("task_queue", None, None, "queued"),
    ("task_assign", None, None, "starting"),
    ("task_start", None, None, "starting"),
    ("task_output", 30, 50, "generating 30/50"),
    ("task_output", None, None, "generating"),
    ("task_end", None, None, "finishing"),
    ("task_postprocess_start", None, None, "finishing"),
    ("task_postprocess_end", None, None, "done"),
    ("task_cancel", None, None, "cancelled"),
    ("downloading", None, None, "downloading"),
    ("task_weird_new_state", None, None, "weird new state"),
])
def test_stage_labels(status: str, step: int | None, total: int | None, label: str) -> None:
    assert stage_label(status, step, total) == label


def test_terminal_statuses_follow_the_design() -> None:
    assert {"task_postprocess_end", "task_cancel", "task_error"} == TERMINAL_STATUSES
    assert STATUS_ORDER[0] == "task_queue"
    assert STATUS_ORDER[-1] == "task_postprocess_end"


@pytest.mark.parametrize(("kwargs", "fraction"), [
    ({"percentage": 60.0}, 0.6),
    ({"step": 3, "total_steps": 4}, 0.75),
    ({"percentage": 150.0}, 1.0),
    ({}, None),
])
def test_update_fraction(kwargs: dict[str, float], fraction: float | None) -> None:
    update = TaskUpdate(status="task_output", label="x", elapsed=1.0, **kwargs)  # type: ignore[arg-type]
    assert update.fraction == fraction
