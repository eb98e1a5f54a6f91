"""The sandbox's task engine: the task store, each task's lifecycle thread, Cancel and Kill,
WebSocket listeners and ``callbackUrl`` posts.

A task walks Wiro's documented status order
(``task_queue`` .. ``task_postprocess_end``) with delays divided by ``speed``; at
``speed=1.0`` a 50-step task takes about five seconds. Every status change updates the task
record and is pushed, under the engine's lock, to the listeners of that task's token, so a
listener never misses or reorders a frame.

Example:
    >>> engine = Engine(store, speed=20.0, concurrency_limit=4, output_ttl=600.0,
    ...                 public_root="http://127.0.0.1:8000")
    >>> task = engine.create(spec, params, ...)
    >>> engine.wait_idle(5.0)
    True
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from ..protocol import (
    CANCELLABLE_STATUSES,
    KILLABLE_STATUSES,
    TERMINAL_STATUSES,
    TIMESTAMP_FIELDS,
    is_loopback_url,
)
from ..redaction import get_logger
from ..references import Reference
from ..schema import ModelSpec
from .files import FileStore, random_token
from .gate import GateKeeper
from .tasks import (
    ConcurrencyRefused,
    Job,
    SandboxTask,
    TaskStateError,
    make_outputs,
    task_cost,
    task_record,
    triggers,
)

__all__ = ["Engine"]

_log = get_logger("wiro_widgets.sandbox")


# Seconds at speed 1.0, chosen so a default 50-step run shows each stage for a moment.
_DELAYS = {
    "task_accept": 0.25,
    "task_preprocess_start": 0.1,
    "task_preprocess_end": 0.25,
    "task_assign": 0.15,
    "task_start": 0.2,
    "step": 0.07,
    "task_output_full": 0.05,
    "task_end": 0.05,
    "task_postprocess_start": 0.05,
    "task_postprocess_end": 0.2,
}
_PER_REFERENCE = 0.05


Listener = Callable[[dict[str, Any]], None]


def _progress(current: int, steps: int, elapsed: float, step_seconds: float) -> dict[str, str]:
    """A ``progressGenerate`` message, as a model reports step ``current`` of ``steps``."""
    return {
        "type": "progressGenerate",
        "task": "Generate",
        "percentage": str(current * 100 // steps),
        "stepCurrent": str(current),
        "stepTotal": str(steps),
        "speed": f"{1 / step_seconds:.2f}",
        "speedType": "it/s",
        "elapsedTime": f"{elapsed:.0f}s",
        "remainingTime": f"{(steps - current) * step_seconds:.0f}s",
    }


class Engine:
    """Holds every task and moves each one through its lifecycle on its own thread."""

    def __init__(self, store: FileStore, *, speed: float, concurrency_limit: int | None,
                 output_ttl: float, public_root: str) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.store = store
        self.speed = float(speed)
        self.concurrency_limit = concurrency_limit
        self.output_ttl = float(output_ttl)
        self.public_root = public_root.rstrip("/")
        self.user_uuid = str(uuid.uuid4())
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}
        self._by_token: dict[str, Job] = {}
        self._listeners: dict[str, list[Listener]] = {}
        self._next_id = 100000 + secrets.randbelow(800000)
        self._stopping = threading.Event()
        #: Open gates (see `Gate`); they share ``_idle``, which every task end notifies.
        self.gates = GateKeeper(self._idle, self._status_of)

    # -- creating ---------------------------------------------------------------------------
    def create(self, spec: ModelSpec, params: dict[str, Any], *, parameters: dict[str, Any],
               inputs: list[dict[str, Any]], refs: tuple[Reference, ...],
               callback_url: str, key_fingerprint: str) -> SandboxTask:
        """Accept a Run: check the concurrency limit, store the task and start it.

        Raises:
            ConcurrencyRefused: when the key already has ``concurrency_limit`` active tasks.
        """
        now = time.time()
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeError("the sandbox is stopping")
            limit = self.concurrency_limit
            if limit is not None and limit > 0:
                active = sum(
                    1 for j in self._jobs.values()
                    if not j.task.terminal and j.task.api_key_fingerprint == key_fingerprint
                )
                if active >= limit:
                    raise ConcurrencyRefused(limit)
            task_id = str(self._next_id)
            self._next_id += 1
            task = SandboxTask(
                id=task_id, token=random_token(), model=spec.slug, params=dict(params),
                inputs=inputs, status="task_queue", history=[("task_queue", now)], pexit="",
                created=now, api_key_fingerprint=key_fingerprint, callback_url=callback_url,
                trigger=triggers(params),
            )
            job = Job(task=task, spec=spec, parameters=parameters, refs=refs,
                       times={"createtime": now})
            self._jobs[task_id] = job
            self._by_token[task.token] = job
            self.gates.reached(task_id, "task_queue", None)
            job.thread = threading.Thread(target=self._run, args=(job,), daemon=True,
                                          name=f"sandbox-task-{task_id}")
            job.thread.start()
            return copy.deepcopy(task)

    # -- reading ----------------------------------------------------------------------------
    def find(self, *, task_id: str | None = None, token: str | None = None) -> str | None:
        """The id of the task with this id or token, or None."""
        with self._lock:
            job = self._jobs.get(task_id or "") if task_id else self._by_token.get(token or "")
            return job.task.id if job else None

    def _status_of(self, task_id: str) -> str | None:
        with self._lock:
            job = self._jobs.get(task_id)
            return job.task.status if job else None

    def record(self, task_id: str) -> dict[str, Any]:
        """The task record as Wiro's Task/Detail returns it (numbers as strings)."""
        with self._lock:
            return self._record(self._jobs[task_id])

    def records(self, key_fingerprint: str, *, newest_first: bool = True,
                model: str | None = None) -> list[dict[str, Any]]:
        """Every task record of this key (Task/List)."""
        with self._lock:
            jobs = [j for j in self._jobs.values()
                    if j.task.api_key_fingerprint == key_fingerprint
                    and (not model or model in (j.task.model, j.spec.project))]
            jobs.sort(key=lambda j: int(j.task.id), reverse=newest_first)
            return [self._record(j) for j in jobs]

    def snapshot(self) -> list[SandboxTask]:
        """Copies of every task, oldest first."""
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: int(j.task.id))
            return [copy.deepcopy(j.task) for j in jobs]

    def active_count(self) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if not j.task.terminal)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no task is active; False if ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while any(not j.task.terminal for j in self._jobs.values()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return True

    # -- Cancel / Kill ----------------------------------------------------------------------
    def cancel(self, task_id: str) -> dict[str, Any]:
        """Cancel a task that is still queued; its record, now ``task_cancel``.

        Raises:
            TaskStateError: ``Task is not in a cancellable state.``
        """
        with self._lock:
            job = self._jobs[task_id]
            if job.task.status not in CANCELLABLE_STATUSES:
                raise TaskStateError("Task is not in a cancellable state.")
            self._finish_cancel(job)
            return self._record(job)

    def kill(self, task_id: str) -> dict[str, Any]:
        """Kill a running task; its record, now ``task_cancel``.

        Raises:
            TaskStateError: ``Task could not be killed: <reason>``.
        """
        with self._lock:
            job = self._jobs[task_id]
            status = job.task.status
            if status not in KILLABLE_STATUSES:
                if status in CANCELLABLE_STATUSES:
                    reason = "the task is not running yet (use Task/Cancel while it is queued)"
                elif status in TERMINAL_STATUSES:
                    reason = f"the task has already ended ({status})"
                else:
                    reason = f"the model has already finished ({status})"
                raise TaskStateError(f"Task could not be killed: {reason}")
            now = time.time()
            job.times["endtime"] = now
            if "starttime" in job.times:
                job.elapsed = now - job.times["starttime"]
            self._finish_cancel(job)
            return self._record(job)

    def _finish_cancel(self, job: Job) -> None:
        self._set_status(job, "task_cancel", None)
        self._finished(job)
        job.wake.set()

    # -- WebSocket listeners ----------------------------------------------------------------
    def subscribe(self, token: str, listener: Listener) -> bool:
        """Add a listener for a task's frames; it first gets one frame with the task's
        current status (the terminal frame for a finished task). False: unknown token."""
        with self._lock:
            job = self._by_token.get(token)
            if job is None:
                return False
            listeners = self._listeners.setdefault(token, [])
            if listener not in listeners:
                listeners.append(listener)
            listener(self._frame(job, job.task.status, job.last_message))
            return True

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            for listeners in self._listeners.values():
                if listener in listeners:
                    listeners.remove(listener)

    # -- stopping ---------------------------------------------------------------------------
    def stop(self, timeout: float = 5.0) -> None:
        """Stop every lifecycle thread (tasks stay as they are)."""
        self._stopping.set()
        self.gates.close()
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.wake.set()
        deadline = time.monotonic() + timeout
        for job in jobs:
            if job.thread is not None and job.thread is not threading.current_thread():
                job.thread.join(max(0.0, deadline - time.monotonic()))

    # -- the lifecycle ----------------------------------------------------------------------
    def _run(self, job: Job) -> None:
        try:
            self._lifecycle(job)
        except Exception as err:  # a bug here must end the task, not hang its watchers
            _log.exception("sandbox task %s crashed", job.task.id)
            with self._lock:
                if not job.task.terminal:
                    job.task.pexit = "1"
                    job.task.debugerror = f"Sandbox internal error: {type(err).__name__}: {err}"
                    self._set_status(job, "task_postprocess_end", [])
                    self._finished(job)

    def _wait(self, job: Job, seconds: float) -> bool:
        """Stay while a gate holds the task, then sleep (scaled by speed); False when the
        task ended meanwhile or we are stopping."""
        self.gates.hold(job.task.id, lambda: job.task.terminal or self._stopping.is_set())
        if seconds > 0:
            job.wake.wait(seconds / self.speed)
        with self._lock:
            return not (job.task.terminal or self._stopping.is_set())

    def _step(self, job: Job, status: str, message: Any = None,
              delay: float | None = None) -> bool:
        """Wait, then move to ``status`` (atomically checking for Cancel/Kill first)."""
        if not self._wait(job, _DELAYS.get(status, 0.0) if delay is None else delay):
            return False
        with self._lock:
            if job.task.terminal or self._stopping.is_set():
                return False
            self._set_status(job, status, message)
            return True

    def _frame_only(self, job: Job, kind: str, message: Any, delay: float) -> bool:
        """Send a frame that is not a status change (``task_error`` lines)."""
        if not self._wait(job, delay):
            return False
        with self._lock:
            if job.task.terminal:
                return False
            self._emit(job, self._frame(job, kind, message))
            return True

    def _lifecycle(self, job: Job) -> None:
        task = job.task
        if not self._step(job, "task_accept") or not self._step(job, "task_preprocess_start"):
            return
        if task.trigger == "error":
            if not self._wait(job, _DELAYS["task_preprocess_end"]):
                return
            with self._lock:
                if task.terminal:
                    return
                task.debugerror = "Output folder creation failed"
                self._set_status(job, "task_error", task.debugerror)
                self._finished(job)
            return
        preprocess = _DELAYS["task_preprocess_end"] + _PER_REFERENCE * len(job.refs)
        if not (self._step(job, "task_preprocess_end", delay=preprocess)
                and self._step(job, "task_assign") and self._step(job, "task_start")):
            return
        if self._generate(job) and self._step(job, "task_postprocess_start"):
            self._postprocess(job)

    def _generate(self, job: Job) -> bool:
        """The model's run: step frames (or a refusal), then its exit; False if it ended."""
        trigger = job.task.trigger
        steps = int(job.task.params.get("steps") or 50)
        log: list[str] = []
        if trigger == "moderated":
            reason = ("Request Moderated: the prompt or reference images were refused by "
                      "the provider's moderation (sandbox trigger: 'nsfw' with "
                      "safetyTolerance <= 2).")
            log.append(reason)
            if not self._frame_only(job, "task_error", reason, _DELAYS["step"] * 3):
                return False
            return self._model_exit(job, "1", reason, log)
        last = steps if trigger != "fail" else max(1, steps // 2)
        started = time.monotonic()
        step_seconds = _DELAYS["step"] / self.speed
        for current in range(1, last + 1):
            progress = _progress(current, steps, time.monotonic() - started + step_seconds,
                                 step_seconds)
            if not self._step(job, "task_output", progress, delay=_DELAYS["step"]):
                return False
            log.append(f"Generate: {current}/{steps}")
        if trigger != "fail":
            return self._model_exit(job, "0", "", log)
        reason = (f"Generation failed: the model stopped at step {last}/{steps} "
                  "(sandbox trigger: 'fail-me' in the prompt).")
        log.append(reason)
        if not self._frame_only(job, "task_error", reason, _DELAYS["step"]):
            return False
        return self._model_exit(job, "1", reason, log)

    def _postprocess(self, job: Job) -> None:
        """Render and store the outputs (on success), then end the task."""
        task = job.task
        outputs = (make_outputs(job, self.store, ttl=self.output_ttl,
                                public_root=self.public_root, user_uuid=self.user_uuid)
                   if task.pexit == "0" else [])
        if not self._wait(job, _DELAYS["task_postprocess_end"]):
            self.store.remove(o["_path"] for o in outputs if "_path" in o)
            return
        with self._lock:
            if task.terminal or self._stopping.is_set():
                return
            for item in outputs:
                item.pop("_path", None)
            task.outputs = outputs
            if task.pexit == "0":
                job.cost = task_cost(job)
            self._set_status(job, "task_postprocess_end", outputs)
            self._finished(job)

    def _model_exit(self, job: Job, pexit: str, error: str, log: list[str]) -> bool:
        """``task_error_full`` (on failure), ``task_output_full`` and ``task_end``."""
        if error and not self._frame_only(job, "task_error_full", {"raw": error}, 0.0):
            return False
        job.debugoutput = "\n".join(log)
        if not self._step(job, "task_output_full", {"raw": job.debugoutput}):
            return False
        if not self._wait(job, _DELAYS["task_end"]):
            return False
        with self._lock:
            if job.task.terminal:
                return False
            job.task.pexit = pexit
            job.task.debugerror = error
            now = time.time()
            job.elapsed = now - job.times.get("starttime", now)
            self._set_status(job, "task_end", None)
        return True

    # -- state changes (caller holds the lock) ---------------------------------------------
    def _set_status(self, job: Job, status: str, message: Any) -> None:
        now = time.time()
        job.task.status = status
        job.task.history.append((status, now))
        time_field = TIMESTAMP_FIELDS.get(status)
        if time_field and time_field not in job.times:
            job.times[time_field] = now
        job.last_message = message
        self._emit(job, self._frame(job, status, message))
        self.gates.reached(job.task.id, status, message)

    def _frame(self, job: Job, kind: str, message: Any) -> dict[str, Any]:
        return {"type": kind, "id": job.task.id, "tasktoken": job.task.token,
                "message": copy.deepcopy(message), "result": True}

    def _emit(self, job: Job, frame: dict[str, Any]) -> None:
        for listener in list(self._listeners.get(job.task.token, ())):
            try:
                listener(frame)
            except Exception:  # a broken listener must not stop the task
                _log.debug("sandbox listener failed", exc_info=True)

    def _finished(self, job: Job) -> None:
        self._idle.notify_all()
        if job.task.callback_url:
            record = self._record(job)
            threading.Thread(target=self._post_callback, args=(job, record), daemon=True,
                             name=f"sandbox-callback-{job.task.id}").start()

    def _post_callback(self, job: Job, record: dict[str, Any]) -> None:
        url = job.task.callback_url
        entry: dict[str, Any] = {"url": url, "status": None, "error": None, "skipped": None}
        if urlsplit(url).scheme not in ("http", "https") or not is_loopback_url(url):
            entry["skipped"] = "only loopback callback URLs are contacted by the sandbox"
        else:
            try:
                response = requests.post(url, json=record, timeout=5)
                entry["status"] = response.status_code
            except requests.RequestException as err:
                entry["error"] = f"{type(err).__name__}: {err}"
        with self._lock:
            job.task.callbacks.append(entry)

    def _record(self, job: Job) -> dict[str, Any]:
        return task_record(job, self.user_uuid)
