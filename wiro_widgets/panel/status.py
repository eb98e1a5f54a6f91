"""Live status of a run: stage label, progress bar, elapsed time and ETA, task ids, alerts.

Every method only assigns widget traits, so worker threads may call them. A batch of several
tasks shows as one bar (the mean of their progress) and one label ("2/4 done · generating
30/50"); the ETA comes from the steps done per second of each task still generating.

Example:
    >>> status = StatusBar()
    >>> status.begin()
    >>> status.update(update)            # a TaskUpdate: "generating 30/50", 0.6
    >>> status.finish("done", "done in 4.2 s")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import ipywidgets as w

from ..protocol import STATUS_ORDER
from .theme import esc

if TYPE_CHECKING:
    from ..results import TaskUpdate
    from .batch import Slot

__all__ = ["LOG_LINES", "Eta", "Outcome", "StatusBar", "progress_of"]

#: The most log lines and warnings shown under the status.
LOG_LINES = 8

Outcome = Literal["done", "failed", "cancelled", "lost", "unknown"]

_BAR_STYLE = {"done": "success", "failed": "danger", "cancelled": "warning", "lost": "danger",
              "unknown": "warning"}
_STATE_CLASSES = ("wiro-status-running", "wiro-status-done", "wiro-status-failed",
                  "wiro-status-cancelled", "wiro-status-idle", "wiro-status-lost",
                  "wiro-status-unknown")
_GENERATING = (0.08, 0.95)
_OUTPUT = STATUS_ORDER.index("task_output")
# Before step progress is known the bar creeps through the stages of Wiro's status order so
# "queued" and "starting" still show movement (the last one reaches where generating
# starts); step progress then fills the rest, and the stages after it creep on to 0.98.
_STAGE_FLOOR = {
    "submitting": 0.01,
    **{status: 0.02 + 0.01 * i for i, status in enumerate(STATUS_ORDER[:_OUTPUT - 1])},
    STATUS_ORDER[_OUTPUT - 1]: _GENERATING[0],
    **{status: _GENERATING[1] + 0.01 * i
       for i, status in enumerate(STATUS_ORDER[_OUTPUT + 1:-1])},
    "downloading": 0.98,
}


def progress_of(update: TaskUpdate | None, floor: float = 0.0) -> float:
    """Where one task stands, 0..1, from its last update.

    Example:
        >>> progress_of(TaskUpdate("task_output", "generating 25/50", 3.0, step=25,
        ...                        total_steps=50))
        0.515
    """
    if update is None:
        return floor
    fraction = update.fraction
    if update.status == "task_output" and fraction is not None:
        low, high = _GENERATING
        return low + (high - low) * fraction
    return _STAGE_FLOOR.get(update.status, floor)


class Eta:
    """Seconds left, from the steps done per second of each task that is generating.

    Example:
        >>> eta = Eta(); eta.observe(0, update_at_step_10, now=1.0)
        >>> eta.observe(0, update_at_step_20, now=3.0); eta.remaining(now=3.0)   # 5 steps/s
        6.0
    """

    def __init__(self) -> None:
        self._first: dict[int, tuple[float, int]] = {}
        self._last: dict[int, tuple[float, int, int]] = {}

    def observe(self, key: int, update: TaskUpdate, now: float | None = None) -> None:
        """Note one task's update (only step progress counts)."""
        if update.status != "task_output" or update.step is None or not update.total_steps:
            return
        at = time.monotonic() if now is None else now
        self._first.setdefault(key, (at, update.step))
        self._last[key] = (at, update.step, update.total_steps)

    def forget(self, key: int) -> None:
        """The task ended: it no longer counts."""
        self._first.pop(key, None)
        self._last.pop(key, None)

    def remaining(self, now: float | None = None) -> float | None:
        """The longest time any generating task still needs, or None before a rate is known."""
        at = time.monotonic() if now is None else now
        longest: float | None = None
        for key, (t_last, step, total) in self._last.items():
            t_first, step_first = self._first[key]
            if step <= step_first or t_last <= t_first:
                continue
            rate = (step - step_first) / (t_last - t_first)
            left = max(0.0, (total - step) / rate - (at - t_last))
            longest = left if longest is None else max(longest, left)
        return longest


class StatusBar:
    """The status row and the alert box under it.

    Attributes:
        stage: the stage label (CSS class ``wiro-status``, plus ``wiro-status-<state>``).
        progress: the bar (class ``wiro-progress``), 0..1.
        elapsed: seconds since Generate, and the ETA once steps move (class
            ``wiro-elapsed``).
        task: the task ids once known.
        alert: plain-words errors and notes (HTML-escaped).
        check_again: the "check again" button, shown when a task's fate is not known.
        widget: all of it as one box.
    """

    def __init__(self) -> None:
        self.stage = w.HTML(self._label("ready", "idle"))
        self.stage.add_class("wiro-status")
        self.stage.add_class("wiro-status-idle")
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0,
                                        layout=w.Layout(flex="1 1 auto", width="auto"))
        self.progress.add_class("wiro-progress")
        self.elapsed = w.HTML("")
        self.elapsed.add_class("wiro-meta")
        self.elapsed.add_class("wiro-elapsed")
        self.task = w.HTML("")
        self.task.add_class("wiro-meta")
        self.task.add_class("wiro-task-id")
        self.alert = w.HTML("")
        self.alert.add_class("wiro-alert")
        self.check_again = w.Button(description="Check again", icon="search",
                                    tooltip="Look for the task on the server and collect its "
                                    "result; nothing new is sent or billed",
                                    layout=w.Layout(width="auto", display="none"))
        self.check_again.add_class("wiro-check-again")
        self.alert_box = w.HBox([self.alert, self.check_again],
                                layout=w.Layout(width="100%", display="none"))
        self.alert_box.add_class("wiro-alert-box")
        self.log = w.HTML("", layout=w.Layout(width="100%", display="none"))
        self.log.add_class("wiro-log")
        self._log_lines: list[str] = []
        row = w.HBox([self.stage, self.progress, self.elapsed, self.task],
                     layout=w.Layout(width="100%", align_items="center"))
        row.add_class("wiro-status-row")
        self.widget = w.VBox([row, self.alert_box, self.log], layout=w.Layout(width="100%"))
        self.state = "idle"
        #: What the alert says: ``validation``, ``error``, ``info`` or "" (none).
        self.alert_kind = ""
        self.eta = Eta()
        self._lock = threading.RLock()
        # Set by `note` (e.g. "cancelling…") so late step updates do not paint over it.
        self._label_held = False
        self._last_label = ""

    @staticmethod
    def _label(text: str, state: str) -> str:
        return f'<span class="wiro-status-text" data-state="{state}">{esc(text)}</span>'

    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        classes = [c for c in self.stage._dom_classes if c not in _STATE_CLASSES]
        # One assignment, so the frontend never sees two state classes at once.
        self.stage._dom_classes = (*classes, f"wiro-status-{state}")
        self.stage.value = self._label(text, state)

    def begin(self, text: str = "submitting") -> None:
        """A new run starts: clear the last one's state."""
        with self._lock:
            self.progress.bar_style = "info"
            self.progress.value = _STAGE_FLOOR["submitting"]
            self.task.value = ""
            self.elapsed.value = ""
            self.eta = Eta()
            self.clear_alert()
            self._log_lines = []
            self.log.value = ""
            self.log.layout.display = "none"
            self._label_held = False
            self._set_state("running", text)

    def set_task(self, task_id: str) -> None:
        """Show the task id (the handle to find the run in the dashboard and the ledger)."""
        self.task.value = esc(f"task {task_id}")

    def set_tasks(self, task_ids: Sequence[str]) -> None:
        """Show the ids of a batch's tasks."""
        ids = [t for t in task_ids if t]
        if len(ids) <= 1:
            self.set_task(ids[0] if ids else "")
            if not ids:
                self.task.value = ""
            return
        shown = ", ".join(ids[:3]) + (f" +{len(ids) - 3}" if len(ids) > 3 else "")
        self.task.value = esc(f"tasks {shown}")

    def tick(self, seconds: float) -> None:
        """Show the elapsed time, and the time left once it is known."""
        left = self.eta.remaining() if self.state == "running" else None
        eta = f" · ~{left:.0f} s left" if left is not None and left >= 1 else ""
        self.elapsed.value = esc(f"{seconds:.1f} s{eta}")

    def update(self, update: TaskUpdate) -> None:
        """Show one `TaskUpdate` (stage label, step progress, elapsed, task id)."""
        with self._lock:
            if self.state != "running":
                return
            self.eta.observe(0, update)
            self._show(update.label or update.status, progress_of(update, self.progress.value))
            if update.task_id:
                self.set_task(update.task_id)
            if update.elapsed:
                self.tick(update.elapsed)

    def show_batch(self, slots: Sequence[Slot]) -> None:
        """Show a batch: one label and the mean progress of its tasks."""
        with self._lock:
            if self.state != "running":
                return
            for slot in slots:
                if slot.update is not None and not slot.ended:
                    self.eta.observe(slot.index, slot.update)
                elif slot.ended:
                    self.eta.forget(slot.index)
            fractions = [1.0 if s.ended else progress_of(s.update) for s in slots]
            moving = [s for s in slots if not s.ended]
            behind = min(moving, key=lambda s: progress_of(s.update), default=None)
            label = (behind.update.label if behind is not None and behind.update else
                     "submitting" if behind is not None else "finishing")
            if len(slots) > 1:
                label = f"{sum(s.ended for s in slots)}/{len(slots)} done · {label}"
            self._show(label, sum(fractions) / max(1, len(fractions)))
            self.set_tasks([s.task.id for s in slots if s.task is not None])

    def _show(self, label: str, target: float) -> None:
        self._last_label = label
        if not self._label_held:
            self._set_state("running", label)
        # Never backwards: a late poll must not undo a socket frame's progress.
        self.progress.value = max(float(self.progress.value), min(target, 1.0))

    def note(self, text: str) -> None:
        """Change the stage label while running (e.g. "cancelling…") and keep it there."""
        with self._lock:
            self._label_held = True
            self._set_state(self.state, text)

    def release_note(self) -> None:
        """Let updates show again (e.g. the connection came back)."""
        with self._lock:
            self._label_held = False
            if self.state == "running" and self._last_label:
                self._set_state("running", self._last_label)

    def lost(self, text: str) -> None:
        """The connection is lost while running: a red label that updates cannot replace."""
        with self._lock:
            self._label_held = True
            self._set_state("lost", text)
            self.state = "running"  # still running: updates are noted, not shown

    def finish(self, outcome: Outcome, text: str) -> None:
        """End styles: green done, red failed or lost, amber cancelled or unknown."""
        with self._lock:
            self.progress.bar_style = _BAR_STYLE[outcome]
            if outcome == "done":
                self.progress.value = 1.0
            self._label_held = False
            self._set_state(outcome, text)

    def error(self, message: str, hint: str = "", *, kind: str = "error",
              check_again: bool = False) -> None:
        """Show an error in plain words (escaped) with an optional hint on how to fix it."""
        hint_html = f"<br><span>{esc(hint)}</span>" if hint else ""
        self._alert(f'<div class="wiro-error-box">{esc(message)}{hint_html}</div>', kind,
                    check_again)

    def info(self, message: str, *, kind: str = "info", check_again: bool = False) -> None:
        """Show a neutral note (e.g. where files were saved)."""
        self._alert(f'<div class="wiro-info-box">{esc(message)}</div>', kind, check_again)

    def _alert(self, html: str, kind: str, check_again: bool) -> None:
        with self._lock:
            self.alert.value = html
            self.alert_kind = kind
            self.check_again.layout.display = "" if check_again else "none"
            self.alert_box.layout.display = ""

    def clear_alert(self, kind: str | None = None) -> None:
        """Hide the alert (only when it is of ``kind``, if given)."""
        with self._lock:
            if kind is not None and self.alert_kind != kind:
                return
            self.alert.value = ""
            self.alert_kind = ""
            self.check_again.layout.display = "none"
            self.alert_box.layout.display = "none"

    def log_line(self, text: str, task_id: str = "", *, level: str = "info") -> None:
        """Add a line under the status: a model's log line (a ``task_error`` frame: not a
        failure) or a result's warning (``level="warn"``); the last `LOG_LINES` stay, secrets
        redacted and escaped."""
        from ..redaction import redact

        where = f"task {task_id}: " if task_id else ""
        line = (f'<div class="wiro-log-line wiro-{level}">{esc(where + redact(text)[:500])}'
                "</div>")
        with self._lock:
            self._log_lines = [*self._log_lines, line][-LOG_LINES:]
            self.log.value = "".join(self._log_lines)
            self.log.layout.display = ""

    def on_check_again(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` when "check again" is pressed."""
        self.check_again.on_click(lambda _b: callback())
