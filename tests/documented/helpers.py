"""Constants and small tools shared by the documented-examples tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from wiro_widgets import TaskUpdate

from .server import DocumentedServer, Step

__all__ = [
    "FULL_RUN_FRAMES",
    "KEY",
    "MODEL",
    "RUN",
    "SECRET",
    "TOKEN",
    "Updates",
    "finish_within",
    "script_run",
]

KEY = "documented-test-key-4f9c"
SECRET = "documented-test-secret-81ab"
MODEL = "black-forest-labs/flux-2-flex"
RUN = f"/Run/{MODEL}"
#: The ``socketaccesstoken`` of the documented Run response.
TOKEN = "eDcCm5yyUfIvMFspTwww49OUfgXkQt"

#: A documented successful task as the socket tells it, from queue to outputs.
FULL_RUN_FRAMES = (
    "frame-task-queue.json",
    "frame-task-accept.json",
    "frame-task-assign.json",
    "frame-task-start.json",
    "frame-task-output-progress.json",
    "frame-task-output-text.json",
    "frame-task-output-full.json",
    "frame-task-end.json",
    "frame-task-postprocess-end.json",
)


def script_run(server: DocumentedServer, frames: Sequence[str] = FULL_RUN_FRAMES,
               final: str = "task-detail-succeeded.json") -> None:
    """Script a documented run: Run accepted, the frames on the socket, and Task/Detail
    answering "queued" until the socket has played every frame, then ``final``."""
    server.script(RUN, "run.json")
    server.socket.script(*frames)
    server.script("/Task/Detail", Step("task-detail-queued.json",
                                       until=server.socket.played.is_set), final)


class Updates:
    """An ``on_update`` callback that keeps every `TaskUpdate` it is given."""

    def __init__(self) -> None:
        self.seen: list[TaskUpdate] = []
        self._lock = threading.Lock()

    def __call__(self, update: TaskUpdate) -> None:
        with self._lock:
            self.seen.append(update)

    @property
    def labels(self) -> list[str]:
        with self._lock:
            return [u.label for u in self.seen]

    @property
    def steps(self) -> list[tuple[int | None, int | None, float | None]]:
        with self._lock:
            return [(u.step, u.total_steps, u.percentage) for u in self.seen]


def finish_within(seconds: float, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``call`` on a helper thread and return its value or raise its exception; fail the
    test when it is still running after ``seconds`` (the thread is left behind, a daemon).

    Example:
        >>> with pytest.raises(AuthError):
        ...     finish_within(5, client.detail, "534574")
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call(*args, **kwargs)
        except BaseException as error:  # handed to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="finish-within", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{getattr(call, '__name__', call)} was still running after {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
