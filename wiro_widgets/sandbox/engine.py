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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from ..images import decode_image
from ..protocol import (
    CANCELLABLE_STATUSES,
    KILLABLE_STATUSES,
    TERMINAL_STATUSES,
    TIMESTAMP_FIELDS,
    is_loopback_url,
    succeeded,
)
from ..redaction import get_logger
from ..references import Reference
from ..schema import ModelSpec
from .files import FileStore, random_token
from .render import RenderSpec, output_size, render

__all__ = [
    "ConcurrencyRefused",
    "Engine",
    "SandboxTask",
    "TaskStateError",
]

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

_MODEL_IDS = {"black-forest-labs/flux-2-flex": "598"}

Listener = Callable[[dict[str, Any]], None]


class ConcurrencyRefused(Exception):
    """Run refused: the key already has ``limit`` active tasks (Wiro code 96)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            "You have reached your concurrent task limit. With your current balance of "
            f"${limit * 10:.2f}, you can run up to {limit} tasks at the same time. "
            "Please wait for a task to finish or add balance to run more."
        )


class TaskStateError(Exception):
    """Cancel or Kill asked of a task in the wrong state (Wiro code 1)."""


@dataclass
class SandboxTask:
    """One task the sandbox accepted, as tests and demos see it (a snapshot).

    Attributes:
        id: the task id (numeric string).
        token: the ``socketaccesstoken``.
        model: ``owner/model``.
        params: API-named parameters as validated, defaults filled (file input excluded).
        inputs: each reference image: ``name, source ("file"|"url"), filename,
            content_type, size, sha256, url, placeholder`` (True when an outside URL was
            replaced by a placeholder picture).
        status: the current status.
        history: every status reached, with its Unix time, in order.
        pexit: ``""`` until the model exits, then ``"0"`` or ``"1"``.
        created: Unix time the Run was accepted.
        api_key_fingerprint: ``key:xxxxxx`` of the key that ran it.
        callback_url: the ``callbackUrl`` given with Run (``""``: none).
        callbacks: what happened to each callback post (url, status, error, skipped).
        trigger: the failure trigger found in the prompt (``moderated``, ``fail``,
            ``error``) or None.
        outputs: the output items, as in the task record.
        debugerror: the task's ``debugerror`` text.
    """

    id: str
    token: str
    model: str
    params: dict[str, Any]
    inputs: list[dict[str, Any]]
    status: str
    history: list[tuple[str, float]]
    pexit: str
    created: float
    api_key_fingerprint: str
    callback_url: str = ""
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    trigger: str | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    debugerror: str = ""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass
class _Job:
    task: SandboxTask
    spec: ModelSpec
    parameters: dict[str, Any]
    refs: tuple[Reference, ...]
    times: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    cost: float = 0.0
    debugoutput: str = ""
    last_message: Any = None
    wake: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


def _triggers(params: Mapping[str, Any]) -> str | None:
    prompt = str(params.get("prompt", "")).lower()
    if "error-me" in prompt:
        return "error"
    tolerance = params.get("safetyTolerance", 2)
    if "nsfw" in prompt and isinstance(tolerance, (int, float)) and tolerance <= 2:
        return "moderated"
    if "fail-me" in prompt:
        return "fail"
    return None


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
        self._jobs: dict[str, _Job] = {}
        self._by_token: dict[str, _Job] = {}
        self._listeners: dict[str, list[Listener]] = {}
        self._next_id = 100000 + secrets.randbelow(800000)
        self._stopping = threading.Event()

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
                trigger=_triggers(params),
            )
            job = _Job(task=task, spec=spec, parameters=parameters, refs=refs,
                       times={"createtime": now})
            self._jobs[task_id] = job
            self._by_token[task.token] = job
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

    def _finish_cancel(self, job: _Job) -> None:
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
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.wake.set()
        deadline = time.monotonic() + timeout
        for job in jobs:
            if job.thread is not None and job.thread is not threading.current_thread():
                job.thread.join(max(0.0, deadline - time.monotonic()))

    # -- the lifecycle ----------------------------------------------------------------------
    def _run(self, job: _Job) -> None:
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

    def _wait(self, job: _Job, seconds: float) -> bool:
        """Sleep (scaled by speed); False when the task ended meanwhile or we are stopping."""
        if seconds > 0:
            job.wake.wait(seconds / self.speed)
        with self._lock:
            return not (job.task.terminal or self._stopping.is_set())

    def _step(self, job: _Job, status: str, message: Any = None,
              delay: float | None = None) -> bool:
        """Wait, then move to ``status`` (atomically checking for Cancel/Kill first)."""
        if not self._wait(job, _DELAYS.get(status, 0.0) if delay is None else delay):
            return False
        with self._lock:
            if job.task.terminal or self._stopping.is_set():
                return False
            self._set_status(job, status, message)
            return True

    def _frame_only(self, job: _Job, kind: str, message: Any, delay: float) -> bool:
        """Send a frame that is not a status change (``task_error`` lines)."""
        if not self._wait(job, delay):
            return False
        with self._lock:
            if job.task.terminal:
                return False
            self._emit(job, self._frame(job, kind, message))
            return True

    def _lifecycle(self, job: _Job) -> None:
        task = job.task
        trigger = task.trigger
        if not self._step(job, "task_accept") or not self._step(job, "task_preprocess_start"):
            return
        if trigger == "error":
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
        steps = int(task.params.get("steps") or 50)
        log: list[str] = []
        if trigger == "moderated":
            reason = ("Request Moderated: the prompt or reference images were refused by "
                      "the provider's moderation (sandbox trigger: 'nsfw' with "
                      "safetyTolerance <= 2).")
            log.append(reason)
            if not self._frame_only(job, "task_error", reason, _DELAYS["step"] * 3):
                return
            ok = self._model_exit(job, "1", reason, log)
        else:
            last = steps if trigger != "fail" else max(1, steps // 2)
            started = time.monotonic()
            step_seconds = _DELAYS["step"] / self.speed
            for current in range(1, last + 1):
                elapsed = time.monotonic() - started + step_seconds
                progress = {
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
                if not self._step(job, "task_output", progress, delay=_DELAYS["step"]):
                    return
                log.append(f"Generate: {current}/{steps}")
            if trigger == "fail":
                reason = (f"Generation failed: the model stopped at step {last}/{steps} "
                          "(sandbox trigger: 'fail-me' in the prompt).")
                log.append(reason)
                if not self._frame_only(job, "task_error", reason, _DELAYS["step"]):
                    return
                ok = self._model_exit(job, "1", reason, log)
            else:
                ok = self._model_exit(job, "0", "", log)
        if not ok:
            return
        if not self._step(job, "task_postprocess_start"):
            return
        outputs = self._make_outputs(job) if task.pexit == "0" else []
        if not self._wait(job, _DELAYS["task_postprocess_end"]):
            self.store.remove(o["_path"] for o in outputs)
            return
        with self._lock:
            if task.terminal or self._stopping.is_set():
                return
            for item in outputs:
                item.pop("_path", None)
            task.outputs = outputs
            if task.pexit == "0":
                job.cost = self._cost(job)
            self._set_status(job, "task_postprocess_end", outputs)
            self._finished(job)

    def _model_exit(self, job: _Job, pexit: str, error: str, log: list[str]) -> bool:
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

    def _make_outputs(self, job: _Job) -> list[dict[str, Any]]:
        params = job.task.params
        images = [decode_image(ref.read_bytes()) for ref in job.refs]
        width, height = output_size(int(params.get("width") or 0), int(params.get("height") or 0),
                                    images[0].size if images else None)
        fmt = str(params.get("outputFormat") or "png")
        data = render(RenderSpec(
            prompt=str(params.get("prompt", "")), seed=int(params.get("seed") or 0),
            width=width, height=height, steps=int(params.get("steps") or 50),
            guidance=float(params.get("guidance") or 4.5),
            safety_tolerance=int(params.get("safetyTolerance") or 0), output_format=fmt,
            references=tuple(images), reference_ids=tuple(r.sha256 or "" for r in job.refs),
        ))
        for image in images:
            image.close()
        name, content_type = ("0.jpg", "image/jpeg") if fmt == "jpeg" else ("0.png", "image/png")
        stored = self.store.put_output(data, name, content_type, self.output_ttl)
        job.times["outputsize"] = float(stored.size)
        job.times["outputwidth"], job.times["outputheight"] = float(width), float(height)
        now = str(int(time.time()))
        return [{
            "id": secrets.token_hex(16),
            "name": name,
            "contenttype": content_type,
            "parentid": secrets.token_hex(16),
            "uuid": self.user_uuid,
            "size": str(stored.size),
            "addedtime": now,
            "modifiedtime": now,
            "accesskey": random_token(),
            "foldercount": "0",
            "filecount": "0",
            "ispublic": 0,
            "expiretime": None,
            "url": self.public_root + stored.url_path,
            "_path": stored.url_path,
        }]

    def _cost(self, job: _Job) -> float:
        width = int(job.times.get("outputwidth", 1024))
        height = int(job.times.get("outputheight", 1024))
        files = job.spec.file_param
        refs = {files.py_name: [None] * len(job.refs)} if files else {}
        return job.spec.estimate_cost({"width": width, "height": height, **refs})

    # -- state changes (caller holds the lock) ---------------------------------------------
    def _set_status(self, job: _Job, status: str, message: Any) -> None:
        now = time.time()
        job.task.status = status
        job.task.history.append((status, now))
        time_field = TIMESTAMP_FIELDS.get(status)
        if time_field and time_field not in job.times:
            job.times[time_field] = now
        job.last_message = message
        self._emit(job, self._frame(job, status, message))

    def _frame(self, job: _Job, kind: str, message: Any) -> dict[str, Any]:
        return {"type": kind, "id": job.task.id, "tasktoken": job.task.token,
                "message": copy.deepcopy(message), "result": True}

    def _emit(self, job: _Job, frame: dict[str, Any]) -> None:
        for listener in list(self._listeners.get(job.task.token, ())):
            try:
                listener(frame)
            except Exception:  # a broken listener must not stop the task
                _log.debug("sandbox listener failed", exc_info=True)

    def _finished(self, job: _Job) -> None:
        self._idle.notify_all()
        if job.task.callback_url:
            record = self._record(job)
            threading.Thread(target=self._post_callback, args=(job, record), daemon=True,
                             name=f"sandbox-callback-{job.task.id}").start()

    def _post_callback(self, job: _Job, record: dict[str, Any]) -> None:
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

    def _record(self, job: _Job) -> dict[str, Any]:
        task = job.task
        times = job.times

        def stamp(name: str) -> str:
            return str(int(times[name])) if name in times else "0"

        done = succeeded({"status": task.status, "pexit": task.pexit})
        cost = job.cost if done else 0.0
        elapsed = round(job.elapsed, 4)  # cps agrees with the elapsedseconds shown
        size = sum(int(o["size"]) for o in task.outputs)
        record: dict[str, Any] = {
            "id": task.id,
            "uuid": self.user_uuid,
            "name": "",
            "socketaccesstoken": task.token,
            "parameters": copy.deepcopy(job.parameters),
            "debugoutput": job.debugoutput,
            "debugerror": task.debugerror,
            "starttime": stamp("starttime"),
            "endtime": stamp("endtime"),
            "elapsedseconds": f"{elapsed:.4f}",
            "status": task.status,
            "cps": f"{cost / elapsed:.12f}" if done and elapsed > 0 else "0",
            "totalcost": f"{cost:.12f}" if done else "0",
            "guestid": None,
            "projectid": "1",
            "modelid": _MODEL_IDS.get(task.model, "0"),
            "description": "",
            "basemodelid": "0",
            "runtype": "model",
            "modelfolderid": "",
            "modelfileid": "",
            "callbackurl": task.callback_url,
            "marketplaceid": None,
            "createtime": stamp("createtime"),
            "canceltime": stamp("canceltime"),
            "assigntime": stamp("assigntime"),
            "accepttime": stamp("accepttime"),
            "preprocessstarttime": stamp("preprocessstarttime"),
            "preprocessendtime": stamp("preprocessendtime"),
            "postprocessstarttime": stamp("postprocessstarttime"),
            "postprocessendtime": stamp("postprocessendtime"),
            "pexit": task.pexit,
            "categories": '["tool","text-to-image","image-to-image","image-editing"]',
            "modeldescription": job.spec.description,
            "modelslugowner": job.spec.owner,
            "modelslugproject": job.spec.project,
            "outputs": copy.deepcopy(task.outputs),
            "size": str(size),
        }
        return record

