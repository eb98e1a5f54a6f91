"""Generate, Cancel and Check again for one panel: a `Batch` on the job thread, reported onto
the panel's status bar, gallery, form and presentation view.

The callbacks here run on worker threads and only assign widget traits. How a batch ended
decides what the panel offers next: the image, plain words for a failure, or, when a task's
fate is not known (the connection was lost, a Run's answer never came), "check again", which
looks for the task and never sends a new one.

Example:
    >>> runs = Runs(panel)
    >>> runs.start([request.with_param("seed", s) for s in (1, 2)])
    True
    >>> runs.cancel()
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .batch import Batch, Slot
from .watchdog import Watchdog
from .worker import Job

if TYPE_CHECKING:
    from ..results import Result, Task
    from .host import PanelHost
    from .request import GenerationRequest

__all__ = ["Runs"]


class Runs:
    """The runs of one panel.

    Attributes:
        job: the worker thread's guard (one Generate at a time).
        batch: the batch in flight or last run.
        lost: tasks left running when the connection was lost (``check again`` follows them).
        unknown: requests whose Run's outcome is unknown (``check again`` looks for them).
        watchdog_timings: keyword arguments for each batch's `Watchdog`.
    """

    def __init__(self, panel: PanelHost) -> None:
        self.panel = panel
        self.job = Job()
        self.batch: Batch | None = None
        self.lost: list[tuple[Task, GenerationRequest]] = []
        self.unknown: list[GenerationRequest] = []
        self.watchdog_timings: dict[str, Any] = {}
        #: Cancel was pressed while the server could not be reached.
        self.cancel_unreachable = False
        self._batch_key = 0
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.job.running

    # -- starting and stopping (main thread) -------------------------------------------------
    def start(self, requests: Sequence[GenerationRequest], *,
              follow: Sequence[Task] = ()) -> bool:
        """Run a batch (or follow existing tasks again); False when one is in flight."""
        panel = self.panel
        if self.job.running or panel.client is None:
            return False
        batch = Batch(panel.client, requests, self, follow=follow,
                      watchdog=Watchdog(**self.watchdog_timings))
        self._batch_key = panel.gallery.new_batch(len(requests))
        panel.set_busy(True)
        panel.status.begin("checking again" if follow else "submitting")
        self.batch = batch
        self.cancel_unreachable = False
        if not self.job.start(batch.run):
            panel.set_busy(False)
            return False
        return True

    def cancel(self) -> bool:
        """Stop the batch in flight (every task); False when nothing runs.

        While the connection is lost a Cancel cannot reach the server, and trying would only
        wait: the batch stops waiting at once instead and the tasks are kept, so "check
        again" can collect them (or cancel them then)."""
        batch = self.batch
        if batch is not None and batch.watchdog.lost and self.job.running:
            self.cancel_unreachable = True
            batch.detach_event.set()
            self.panel.cancel_button.disabled = True
            self.panel.status.note("cannot reach Wiro to cancel…")
            return True
        if not self.job.cancel():
            return False
        if batch is not None:
            batch.cancel()
        self.panel.cancel_button.disabled = True
        self.panel.status.note("cancelling…")
        return True

    def check_again(self) -> bool:
        """Follow the tasks left when the connection was lost, and look for Runs whose outcome
        was unknown; nothing new is sent."""
        if self.job.running:
            return False
        with self._lock:
            lost, self.lost = self.lost, []
            unknown, self.unknown = self.unknown, []
        if lost:
            return self.start([request for _task, request in lost],
                              follow=[task for task, _request in lost])
        if unknown:
            return self._look_for(unknown)
        self.panel.status.info("Nothing to check: no task is waiting to be collected.")
        return False

    def _look_for(self, unknown: list[GenerationRequest]) -> bool:
        panel = self.panel
        client = panel.client
        if client is None:
            return False
        panel.set_busy(True)
        panel.status.begin("looking for the task")

        def work(_cancel: threading.Event) -> None:
            try:
                found = client.resume(timeout=60)
            except Exception as err:
                found = []
                panel.status.error(f"Could not look for the task: {err}", kind="error",
                                   check_again=True)
                with self._lock:
                    self.unknown = unknown + self.unknown
            key = panel.gallery.new_batch(len(found))
            for position, result in enumerate(found):
                panel.add_result(result, None, key, position)
            if found:
                panel.status.finish("done", f"found {len(found)}")
                panel.status.info(f"Found and collected {len(found)} task"
                                  f"{'s' if len(found) != 1 else ''} on the server.")
            elif panel.status.alert_kind != "error":
                panel.status.finish("unknown", "not found yet")
                panel.status.info("No task for that request has shown up on the server yet. "
                                  "It may still appear: check again in a minute. Nothing new "
                                  "was sent.", kind="unknown", check_again=True)
                with self._lock:
                    self.unknown = unknown + self.unknown
            panel.set_busy(False)

        return self.job.start(work)

    # -- BatchView: called on worker threads, trait assignments only --------------------------
    def on_task(self, slot: Slot) -> None:
        if self.batch is not None:
            self.panel.status.show_batch(self.batch.slots)

    def on_update(self, slot: Slot) -> None:
        batch = self.batch
        if batch is None:
            return
        if slot.update is not None and slot.update.log:
            # A model's stderr line (a task_error frame): shown, never a verdict.
            self.panel.status.log_line(slot.update.log, slot.task.id if slot.task else "")
        if len(batch.slots) == 1 and slot.update is not None:
            self.panel.status.update(slot.update)
        else:
            self.panel.status.show_batch(batch.slots)

    def on_result(self, slot: Slot, result: Result) -> None:
        self.panel.add_result(result, slot.request, self._batch_key, slot.index)
        for warning in result.warnings:
            self.panel.status.log_line(warning, result.task_id, level="warn")
        if self.batch is not None:
            self.panel.status.show_batch(self.batch.slots)

    def on_slot_error(self, slot: Slot, err: BaseException) -> None:
        with self._lock:
            if slot.state in ("lost", "refused") and slot.task is not None:
                self.lost.append((slot.task, slot.request))
            elif slot.state == "unknown":
                self.unknown.append(slot.request)

    def on_tick(self, seconds: float) -> None:
        if self.panel.status.state == "running":
            self.panel.status.tick(seconds)

    def on_connection(self, state: str, silent_for: float) -> None:
        status = self.panel.status
        if state == "lost":
            status.lost("connection lost, retrying…")
            status.error(f"No answer from Wiro for {silent_for:.0f} s: retrying. The task keeps "
                         "running on the server meanwhile.", kind="connection")
        elif state == "back":
            status.release_note()
            status.clear_alert("connection")
        elif state == "gave_up":
            status.note("connection lost")

    def on_finished(self, batch: Batch) -> None:
        try:
            self._conclude(batch)
        finally:
            self.panel.set_busy(False)

    # -- how a batch ended ------------------------------------------------------------------
    def _conclude(self, batch: Batch) -> None:
        from .messages import CHECK_HINT, explain

        status = self.panel.status
        slots = batch.slots
        by_state: dict[str, list[Slot]] = {}
        for slot in slots:
            by_state.setdefault(slot.state, []).append(slot)
        done = by_state.get("done", [])
        count = len(slots)
        label = "done" if count == 1 else f"{len(done)}/{count} done"
        if by_state.get("refused"):
            refused = by_state["refused"]
            message, hint = explain(_first_error(refused))
            status.finish("unknown", "not stopped")
            status.error(message, hint, kind="refused", check_again=True)
        elif by_state.get("lost"):
            ids = ", ".join(s.task.id for s in by_state["lost"] if s.task is not None)
            status.finish("lost", "connection lost")
            why = ("Cancel could not reach Wiro: the connection is lost." if
                   self.cancel_unreachable else "Lost the connection to Wiro.")
            status.error(f"{why} Task {ids} may be still running on the server (and billing); "
                         "it is kept to be collected (or cancelled) later.",
                         CHECK_HINT, kind="lost", check_again=True)
        elif by_state.get("unknown"):
            message, hint = explain(_first_error(by_state["unknown"]))
            status.finish("unknown", "outcome unknown")
            status.error(message, hint, kind="unknown", check_again=True)
        elif by_state.get("failed"):
            failed = by_state["failed"]
            status.finish("done" if done else "failed", label if done else "failed")
            message, hint = explain(_first_error(failed))
            if count > 1:
                message = f"{len(failed)} of {count} failed. {message}"
            status.error(message, hint, kind="validation" if _is_validation(failed) else
                         "error")
            self.panel.show_field_error(_first_error(failed))
        elif by_state.get("cancelled"):
            status.finish("cancelled", "cancelled" if not done else f"{label}, cancelled")
            sent = [s.task.id for s in by_state["cancelled"] if s.task is not None]
            status.info(f"Cancelled (task {', '.join(sent)}): the task was stopped on the "
                        "server. Your settings are kept." if sent else
                        "Cancelled before anything was sent.")
        else:
            status.finish("done", label)


def _first_error(slots: Sequence[Slot]) -> BaseException:
    return next((s.error for s in slots if s.error is not None), RuntimeError("unknown error"))


def _is_validation(slots: Sequence[Slot]) -> bool:
    from ..errors import ValidationError

    return any(isinstance(s.error, ValidationError) for s in slots)
