"""What the client already does right while following a task, held against Wiro's documented
Task/Detail records and WebSocket frames: the verdicts, the download, the progress."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wiro_widgets import Moderated, TaskCancelled, TaskFailed, WiroClient

from .examples import DOCUMENTED_OUTPUT_SIZE
from .helpers import FULL_RUN_FRAMES, MODEL, RUN, TOKEN, Updates, script_run
from .server import DocumentedServer

ClientFactory = Callable[..., WiroClient]


@pytest.mark.parametrize("use_socket", [True, False], ids=["socket", "polling"])
def test_documented_success_gives_the_downloaded_image(documented: DocumentedServer,
                                                       make_client: ClientFactory,
                                                       use_socket: bool) -> None:
    # tasks.md: success is task_postprocess_end with pexit "0"; outputs carry CDN URLs.
    script_run(documented)
    if not use_socket:
        documented.script("/Task/Detail", "task-detail-running.json",
                          "task-detail-succeeded.json")
    result = make_client(use_socket=use_socket).run(MODEL, prompt="Hello, world!",
                                                    timeout=30)
    assert result.status == "task_postprocess_end"
    assert result.image.size == (64, 48)  # the real picture behind the documented URL
    (output,) = result.outputs
    assert (output.name, output.content_type, output.size) == ("0.png", "image/png",
                                                               DOCUMENTED_OUTPUT_SIZE)
    assert output.url == documented.origin + "/.../0.png"
    assert result.cost == pytest.approx(0.00351)  # "totalcost": "0.003510000000"
    assert result.elapsed == pytest.approx(6.0)  # "elapsedseconds": "6.0000"
    (download,) = [r for r in documented.requests if r.method == "GET"]
    assert not {"x-api-key", "x-nonce", "x-signature"} & set(download.headers)
    if use_socket:
        # websocket.md: register with exactly {"type": "task_info", "tasktoken": ...}
        assert documented.socket.messages == [{"type": "task_info", "tasktoken": TOKEN}]
    else:
        assert documented.socket.messages == []


def test_documented_failure_raises_task_failed_with_debugerror(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    documented.script(RUN, "run.json")
    documented.script("/Task/Detail", "task-detail-running.json", "task-detail-failed.json")
    with pytest.raises(TaskFailed) as caught:
        make_client(use_socket=False).run(MODEL, prompt="Hello, world!", timeout=30)
    error = caught.value
    assert not isinstance(error, Moderated)
    assert error.pexit == "1"
    assert error.debugerror == "UserWarning: Some weights were not initialized..."
    assert "UserWarning: Some weights were not initialized" in str(error)
    assert error.token == TOKEN
    assert [r for r in documented.requests if r.method == "GET"] == []  # nothing to fetch


def test_documented_cancelled_record_raises_task_cancelled(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    documented.script(RUN, "run.json")
    documented.script("/Task/Detail", "task-detail-cancelled.json")
    with pytest.raises(TaskCancelled):
        make_client(use_socket=False).run(MODEL, prompt="Hello, world!", timeout=30)


def test_a_task_cancel_frame_ends_in_task_cancelled(documented: DocumentedServer,
                                                    make_client: ClientFactory) -> None:
    script_run(documented, ["frame-task-queue.json", "frame-task-cancel.json"],
               final="task-detail-cancelled.json")
    updates = Updates()
    with pytest.raises(TaskCancelled):
        make_client().run(MODEL, prompt="Hello, world!", on_update=updates, timeout=30)
    assert updates.labels[-1] == "cancelled"
    # nothing to stop: the task had ended
    assert documented.requests_to("/Task/Kill") == documented.requests_to("/Task/Cancel") == []


@pytest.mark.parametrize("frame", [
    "frame-task-output-progress.json",
    "frame-task-output-progress-string.json",
], ids=["object", "json-string"])
def test_progress_is_read_from_the_documented_progress_frame(
        documented: DocumentedServer, make_client: ClientFactory, frame: str) -> None:
    frames = [frame if name == "frame-task-output-progress.json" else name
              for name in FULL_RUN_FRAMES]
    script_run(documented, frames)
    updates = Updates()
    make_client().run(MODEL, prompt="Hello, world!", on_update=updates, timeout=30)
    # "percentage": "60", "stepCurrent": "6", "stepTotal": "10", all strings
    assert (6, 10, 60.0) in updates.steps
    assert "generating 6/10" in updates.labels


def test_a_task_error_frame_does_not_change_the_verdict(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    # websocket.md: task_error "is an interim stderr log, not a final failure".
    frames = list(FULL_RUN_FRAMES)
    frames.insert(frames.index("frame-task-output-progress.json"), "frame-task-error.json")
    frames.insert(frames.index("frame-task-end.json"), "frame-task-error-full.json")
    script_run(documented, frames)
    result = make_client().run(MODEL, prompt="Hello, world!", timeout=30)
    assert result.image.size == (64, 48)


def test_the_verdict_comes_from_task_detail_not_the_socket(
        documented: DocumentedServer, make_client: ClientFactory) -> None:
    # websocket.md: task_postprocess_end carries the outputs but no pexit; tasks.md: "Check
    # pexit to determine success". Here the socket tells a whole run, Task/Detail a failure.
    script_run(documented, final="task-detail-failed.json")
    with pytest.raises(TaskFailed):
        make_client().run(MODEL, prompt="Hello, world!", timeout=30)
    assert documented.socket.played.is_set()
