"""Live status of a run: stage label, progress bar, elapsed time, task id, end styles.

Every method only assigns widget traits, so the worker thread may call them.

Example:
    >>> status = StatusBar()
    >>> status.begin()
    >>> status.update(update)            # a TaskUpdate: "generating 30/50", 0.6
    >>> status.finish("done", "done in 4.2 s")
"""

from __future__ import annotations

from typing import Literal

import ipywidgets as w

from ..protocol import STATUS_ORDER
from ..results import TaskUpdate
from .theme import esc

__all__ = ["Outcome", "StatusBar"]

Outcome = Literal["done", "failed", "cancelled"]

_BAR_STYLE = {"done": "success", "failed": "danger", "cancelled": "warning"}
_STATE_CLASSES = ("wiro-status-running", "wiro-status-done", "wiro-status-failed",
                  "wiro-status-cancelled", "wiro-status-idle")
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


class StatusBar:
    """The status row and the alert box under it.

    Attributes:
        stage: the stage label (CSS class ``wiro-status``, plus ``wiro-status-<state>``).
        progress: the bar (class ``wiro-progress``), 0..1.
        elapsed: seconds since Generate.
        task: the task id once known.
        alert: plain-words errors and notes (HTML-escaped).
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
        self.alert = w.HTML("", layout=w.Layout(display="none"))
        self.alert.add_class("wiro-alert")
        row = w.HBox([self.stage, self.progress, self.elapsed, self.task],
                     layout=w.Layout(width="100%", align_items="center"))
        row.add_class("wiro-status-row")
        self.widget = w.VBox([row, self.alert], layout=w.Layout(width="100%"))
        self.state = "idle"
        # Set by `note` (e.g. "cancelling…") so late step updates do not paint over it.
        self._label_held = False

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
        self.progress.bar_style = "info"
        self.progress.value = _STAGE_FLOOR["submitting"]
        self.task.value = ""
        self.elapsed.value = ""
        self.clear_alert()
        self._label_held = False
        self._set_state("running", text)

    def set_task(self, task_id: str) -> None:
        """Show the task id (the handle to find the run in the dashboard and the ledger)."""
        self.task.value = esc(f"task {task_id}")

    def tick(self, seconds: float) -> None:
        """Show the elapsed time."""
        self.elapsed.value = esc(f"{seconds:.1f} s")

    def update(self, update: TaskUpdate) -> None:
        """Show one `TaskUpdate` (stage label, step progress, elapsed, task id)."""
        if self.state != "running":
            return
        if not self._label_held:
            self._set_state("running", update.label or update.status)
        fraction = update.fraction
        if update.status == "task_output" and fraction is not None:
            low, high = _GENERATING
            target = low + (high - low) * fraction
        else:
            target = _STAGE_FLOOR.get(update.status, self.progress.value)
        # Never backwards: a late poll must not undo a socket frame's progress.
        self.progress.value = max(float(self.progress.value), min(target, 1.0))
        if update.task_id:
            self.set_task(update.task_id)
        if update.elapsed:
            self.tick(update.elapsed)

    def note(self, text: str) -> None:
        """Change the stage label while running (e.g. "cancelling…") and keep it there."""
        self._label_held = True
        self._set_state(self.state, text)

    def finish(self, outcome: Outcome, text: str) -> None:
        """End styles: green done, red failed, amber cancelled."""
        self.progress.bar_style = _BAR_STYLE[outcome]
        if outcome == "done":
            self.progress.value = 1.0
        self._set_state(outcome, text)

    def error(self, message: str, hint: str = "") -> None:
        """Show an error in plain words (escaped) with an optional hint on how to fix it."""
        hint_html = f"<br><span>{esc(hint)}</span>" if hint else ""
        self.alert.value = f'<div class="wiro-error-box">{esc(message)}{hint_html}</div>'
        self.alert.layout.display = ""

    def info(self, message: str) -> None:
        """Show a neutral note (e.g. where files were saved)."""
        self.alert.value = f'<div class="wiro-info-box">{esc(message)}</div>'
        self.alert.layout.display = ""

    def clear_alert(self) -> None:
        self.alert.value = ""
        self.alert.layout.display = "none"
