"""A ``task_error`` frame is a log line (issue 13, item 1): it reaches the caller as the
``log`` of a `TaskUpdate` that keeps the status and progress it had, never as a status."""

from __future__ import annotations

from collections.abc import Callable

from wiro_widgets import WiroClient

from .helpers import FULL_RUN_FRAMES, MODEL, Updates, script_run
from .server import DocumentedServer

ClientFactory = Callable[..., WiroClient]
STDERR = "UserWarning: Some weights were not initialized..."


def test_task_error_frames_are_passed_on_as_log_lines(documented: DocumentedServer,
                                                      make_client: ClientFactory) -> None:
    frames = list(FULL_RUN_FRAMES)
    after_progress = frames.index("frame-task-output-progress.json") + 1
    frames.insert(after_progress, "frame-task-error.json")
    frames.insert(frames.index("frame-task-end.json"), "frame-task-error-full.json")
    script_run(documented, frames)
    updates = Updates()
    result = make_client().run(MODEL, prompt="Hello, world!", on_update=updates, timeout=30)
    assert result.image.size == (64, 48)
    logs = [u for u in updates.seen if u.log]
    assert [u.log for u in logs] == [STDERR, STDERR]  # the line, then the whole stderr log
    first = logs[0]
    assert first.status == "task_output"  # the stage it was in, not "task_error"
    assert (first.step, first.total_steps, first.percentage) == (6, 10, 60.0)
    assert first.label == "generating 6/10"
    assert all(u.status != "task_error" and u.label != "failed" for u in updates.seen)
    assert updates.labels[-1] == "downloading"
