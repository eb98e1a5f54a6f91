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

from ..protocol import (
    CANCELLABLE_STATUSES,
    TIMESTAMP_FIELDS,
)
from ..redaction import get_logger
from ..references import Reference
from ..schema import ModelSpec
from .callbacks import post_callback
from .faults import FaultDice, Faults
from .files import FileStore, random_token
from .gate import GateKeeper
from .hostile import make_hostile
from .modelrun import DELAYS, PER_REFERENCE, STDERR_WARNINGS, progress
from .replayrun import play
from .tasks import (
    ConcurrencyRefused,
    Job,
    SandboxTask,
    TaskStateError,
    kill_refusal,
    make_outputs,
    task_cost,
    task_record,
    triggers,
)

__all__ = ["Engine"]

_log = get_logger("wiro_widgets.sandbox")


Listener = Callable[[dict[str, Any]], None]


class Engine:
    """Holds every task and moves each one through its lifecycle on its own thread."""

    def __init__(self, store: FileStore, *, speed: float, concurrency_limit: int | None,
                 output_ttl: float, public_root: str,
                 dice: Callable[[], FaultDice] | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.store = store
        self.speed = float(speed)
        self.concurrency_limit = concurrency_limit
        self.output_ttl = float(output_ttl)
        self.public_root = public_root.rstrip("/")
        calm = FaultDice(Faults())
        #: The current fault dice (the sandbox replaces them at runtime).
        self.dice: Callable[[], FaultDice] = dice or (lambda: calm)
        self.user_uuid = str(uuid.uuid4())
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}
        self._by_token: dict[str, Job] = {}
        self._listeners: dict[str, list[Listener]] = {}
        self._next_id = 100000 + secrets.randbelow(800000)
        self._created = 0
        self._stopping = threading.Event()
        #: Open gates (see `Gate`); they share ``_idle``, which every task end notifies.
        self.gates = GateKeeper(self._idle, self._status_of)

    def now(self) -> float:
        """The server's clock: Unix time, plus ``Faults.clock_skew``."""
        return time.time() + self.dice().faults.clock_skew

    # -- creating ---------------------------------------------------------------------------
    def create(self, spec: ModelSpec, params: dict[str, Any], *, parameters: dict[str, Any],
               inputs: list[dict[str, Any]], refs: tuple[Reference, ...],
               callback_url: str, key_fingerprint: str, replay: Any = None) -> SandboxTask:
        """Accept a Run: check the concurrency limit, store the task and start it.

        Raises:
            ConcurrencyRefused: when the key already has ``concurrency_limit`` active tasks.
        """
        now = self.now()
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
                      times={"createtime": now}, ordinal=self._created, replay=replay)
            self._created += 1
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
                model: str | None = None,
                hide_younger_than: float = 0.0) -> list[dict[str, Any]]:
        """Every task record of this key (Task/List), but those accepted less than
        ``hide_younger_than`` seconds ago (``Faults.list_delay``)."""
        born_before = time.monotonic() - hide_younger_than
        with self._lock:
            jobs = [j for j in self._jobs.values()
                    if j.task.api_key_fingerprint == key_fingerprint
                    and (not model or model in (j.task.model, j.spec.project))
                    and (not hide_younger_than or j.born <= born_before)]
            jobs.sort(key=lambda j: int(j.task.id), reverse=newest_first)
            return [self._record(j) for j in jobs]

    def snapshot(self) -> list[SandboxTask]:
        """Copies of every task, oldest first."""
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: int(j.task.id))
            return [copy.deepcopy(j.task) for j in jobs]

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

        ``Faults.cancel``: ``"refuse"`` refuses it anyway; ``"ignore"`` answers the record
        as cancelled while the task goes on.

        Raises:
            TaskStateError: ``Task is not in a cancellable state.``
        """
        fault = self.dice().faults.cancel
        with self._lock:
            job = self._jobs[task_id]
            if job.task.status not in CANCELLABLE_STATUSES or fault == "refuse":
                raise TaskStateError("Task is not in a cancellable state.")
            if fault == "ignore":
                return self._seemingly_cancelled(job)
            self._finish_cancel(job)
            return self._record(job)

    def kill(self, task_id: str) -> dict[str, Any]:
        """Kill a running task; its record, now ``task_cancel``.

        ``Faults.kill``: ``"refuse"`` refuses it anyway; ``"ignore"`` answers the record as
        cancelled while the task goes on.

        Raises:
            TaskStateError: ``Task could not be killed: <reason>``.
        """
        fault = self.dice().faults.kill
        with self._lock:
            job = self._jobs[task_id]
            refusal = kill_refusal(job.task.status, refused=fault == "refuse")
            if refusal:
                raise TaskStateError(refusal)
            if fault == "ignore":
                return self._seemingly_cancelled(job)
            now = self.now()
            job.times["endtime"] = now
            if "starttime" in job.times:
                job.elapsed = now - job.times["starttime"]
            self._finish_cancel(job)
            return self._record(job)

    def _seemingly_cancelled(self, job: Job) -> dict[str, Any]:
        """What an ignored Cancel/Kill answers: the record as if cancelled (nothing changes)."""
        record = self._record(job)
        record.update(status="task_cancel", canceltime=str(int(self.now())))
        return record

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
        if not self._wait(job, DELAYS.get(status, 0.0) if delay is None else delay):
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

    def _stderr(self, job: Job, line: str, delay: float) -> bool:
        """A line the model prints on stderr: an interim ``task_error`` frame, kept for
        ``debugerror``."""
        with self._lock:
            job.stderr.append(line)
        return self._frame_only(job, "task_error", line, delay)

    def _lifecycle(self, job: Job) -> None:
        task = job.task
        if job.replay is not None:  # a recorded run answers (sandbox(replay=...))
            play(self, job)
            return
        if not self._step(job, "task_accept") or not self._step(job, "task_preprocess_start"):
            return
        if task.trigger == "error":
            self._fail_before_running(job)
            return
        preprocess = DELAYS["task_preprocess_end"] + PER_REFERENCE * len(job.refs)
        if not (self._step(job, "task_preprocess_end", delay=preprocess)
                and self._step(job, "task_assign") and self._step(job, "task_start")):
            return
        if self._generate(job) and self._step(job, "task_postprocess_start"):
            self._postprocess(job)

    def _fail_before_running(self, job: Job) -> None:
        """The ``error-me`` trigger: the task fails while preprocessing, before its model runs.

        The official sources disagree on how such a task ends (official-clients.md section
        9): the docs, the model page and every SDK but one end every failure at
        ``task_postprocess_end`` with ``pexit`` non-zero, ``task_error`` being an interim
        stderr line; Wiro-MCP also takes a Task/Detail *status* ``task_error`` as a failure
        before execution. The sandbox follows the docs, the majority and the only documented
        reading; ``Faults.task_error_status`` plays Wiro-MCP's reading as an opt-in fault, so
        that clients keep handling it.
        """
        reason = "Output folder creation failed"
        if not self.dice().faults.task_error_status:
            if (self._stderr(job, reason, DELAYS["task_preprocess_end"])
                    and self._model_exit(job, "1", [])
                    and self._step(job, "task_postprocess_start")):
                self._postprocess(job)
            return
        if not self._wait(job, DELAYS["task_preprocess_end"]):
            return
        with self._lock:
            if job.task.terminal:
                return
            job.task.debugerror = reason
            self._set_status(job, "task_error", reason)
            self._finished(job)

    def _generate(self, job: Job) -> bool:
        """The model's run: step frames (or a refusal), then its exit; False if it ended.

        With ``Faults.interim_error_rate``, each step may print a harmless warning on
        stderr (an interim ``task_error`` frame) while the run goes on to succeed.
        """
        trigger = job.task.trigger
        steps = int(job.task.params.get("steps") or 50)
        log: list[str] = []
        if trigger == "moderated":
            reason = ("Request Moderated: the prompt or reference images were refused by "
                      "the provider's moderation (sandbox trigger: 'nsfw' with "
                      "safetyTolerance <= 2).")
            log.append(reason)
            if not self._stderr(job, reason, DELAYS["step"] * 3):
                return False
            return self._model_exit(job, "1", log)
        last = steps if trigger != "fail" else max(1, steps // 2)
        started = time.monotonic()
        step_seconds = DELAYS["step"] / self.speed
        dice = self.dice()
        warn_rate, rng = dice.faults.interim_error_rate, dice.task_random(job.ordinal)
        for current in range(1, last + 1):
            message = progress(current, steps, time.monotonic() - started + step_seconds,
                               step_seconds)
            if not self._step(job, "task_output", message, delay=DELAYS["step"]):
                return False
            log.append(f"Generate: {current}/{steps}")
            if warn_rate and rng.random() < warn_rate and not self._stderr(
                    job, rng.choice(STDERR_WARNINGS), 0.0):
                return False
        if trigger != "fail":
            return self._model_exit(job, "0", log)
        reason = (f"Generation failed: the model stopped at step {last}/{steps} "
                  "(sandbox trigger: 'fail-me' in the prompt).")
        log.append(reason)
        if not self._stderr(job, reason, DELAYS["step"]):
            return False
        return self._model_exit(job, "1", log)

    def _postprocess(self, job: Job) -> None:
        """Render and store the outputs (on success), then end the task."""
        task = job.task
        outputs = (make_outputs(job, self.store, ttl=self.output_ttl,
                                public_root=self.public_root, user_uuid=self.user_uuid)
                   if task.pexit == "0" else [])
        outputs = self._as_faults_say(outputs)
        if not self._wait(job, DELAYS["task_postprocess_end"]):
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

    def _as_faults_say(self, outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The outputs on the server's clock, made hostile when ``Faults`` says so."""
        faults = self.dice().faults
        added = str(int(self.now()))
        for item in outputs:
            item.update(addedtime=added, modifiedtime=added)
        if faults.hostile_output is None:
            return outputs
        return make_hostile(faults.hostile_output, outputs, self.store, ttl=self.output_ttl,
                            public_root=self.public_root)

    def _model_exit(self, job: Job, pexit: str, log: list[str]) -> bool:
        """``task_error_full`` (when stderr is not empty), ``task_output_full`` and
        ``task_end``; ``debugerror`` is the whole stderr, even when the run succeeded."""
        with self._lock:
            stderr = "\n".join(job.stderr)
        if stderr and not self._frame_only(job, "task_error_full", {"raw": stderr}, 0.0):
            return False
        job.debugoutput = "\n".join(log)
        if not self._step(job, "task_output_full", {"raw": job.debugoutput}):
            return False
        if not self._wait(job, DELAYS["task_end"]):
            return False
        with self._lock:
            if job.task.terminal:
                return False
            job.task.pexit = pexit
            job.task.debugerror = stderr
            now = self.now()
            job.elapsed = now - job.times.get("starttime", now)
            self._set_status(job, "task_end", None)
        return True

    # -- state changes (caller holds the lock) ---------------------------------------------
    def _set_status(self, job: Job, status: str, message: Any) -> None:
        now = self.now()
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
        entry = post_callback(job.task.callback_url, record)
        with self._lock:
            job.task.callbacks.append(entry)

    def _record(self, job: Job) -> dict[str, Any]:
        return task_record(job, self.user_uuid)
