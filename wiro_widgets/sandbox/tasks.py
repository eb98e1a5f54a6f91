"""The sandbox's tasks: what tests see (`SandboxTask`), what the engine keeps (`Job`), and
what Wiro shows of them: the Task/Detail record, the rendered outputs and their cost.

Example:
    >>> record = task_record(job, user_uuid)
    >>> record["status"], record["pexit"], record["totalcost"]
    ('task_postprocess_end', '0', '0.062914560000')
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..images import decode_image
from ..protocol import CANCELLABLE_STATUSES, KILLABLE_STATUSES, TERMINAL_STATUSES, succeeded
from ..references import Reference
from ..schema import ModelSpec
from .files import FileStore, random_token
from .render import RenderSpec, output_size, render

__all__ = [
    "MODEL_IDS",
    "ConcurrencyRefused",
    "Job",
    "SandboxTask",
    "TaskStateError",
    "kill_refusal",
    "make_outputs",
    "task_cost",
    "task_record",
    "triggers",
]

#: Wiro's model ids, as task records show them.
MODEL_IDS = {"black-forest-labs/flux-2-flex": "598"}


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


def kill_refusal(status: str, *, refused: bool = False) -> str | None:
    """Why Task/Kill refuses a task at ``status`` (Wiro's "Task could not be killed: ..."),
    or None when it can be killed; ``refused``: refuse it anyway (``Faults.kill``).

    Example:
        >>> kill_refusal("task_queue")
        'Task could not be killed: the task is not running yet (use Task/Cancel while it is queued)'
    """
    if status in CANCELLABLE_STATUSES:
        reason = "the task is not running yet (use Task/Cancel while it is queued)"
    elif status in TERMINAL_STATUSES:
        reason = f"the task has already ended ({status})"
    elif status not in KILLABLE_STATUSES:
        reason = f"the model has already finished ({status})"
    elif refused:
        reason = "the worker did not answer the kill signal (sandbox fault)"
    else:
        return None
    return f"Task could not be killed: {reason}"


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
class Job:
    """A task and what only the engine sees of it (its spec, raw parameters, references,
    times, cost, log); the engine's lock guards it."""

    task: SandboxTask
    spec: ModelSpec
    parameters: dict[str, Any]
    refs: tuple[Reference, ...]
    times: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    cost: float = 0.0
    debugoutput: str = ""
    #: The lines the model printed on stderr, in order (they make ``debugerror``).
    stderr: list[str] = field(default_factory=list)
    #: Its place in the order tasks were created (0 first): seeds its fault draws.
    ordinal: int = 0
    last_message: Any = None
    wake: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    #: `time.monotonic` when the Run was accepted (late listing counts from here).
    born: float = field(default_factory=time.monotonic)


def triggers(params: Mapping[str, Any]) -> str | None:
    prompt = str(params.get("prompt", "")).lower()
    if "error-me" in prompt:
        return "error"
    tolerance = params.get("safetyTolerance", 2)
    if "nsfw" in prompt and isinstance(tolerance, (int, float)) and tolerance <= 2:
        return "moderated"
    if "fail-me" in prompt:
        return "fail"
    return None


def make_outputs(job: Job, store: FileStore, *, ttl: float, public_root: str,
             user_uuid: str) -> list[dict[str, Any]]:
    """Render the task's image, store it as an output and describe it as Wiro does (the
    ``_path`` key, the stored URL path, is for the engine and removed before it is shown)."""
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
    stored = store.put_output(data, name, content_type, ttl)
    job.times["outputsize"] = float(stored.size)
    job.times["outputwidth"], job.times["outputheight"] = float(width), float(height)
    now = str(int(time.time()))
    return [{
        "id": secrets.token_hex(16),
        "name": name,
        "contenttype": content_type,
        "parentid": secrets.token_hex(16),
        "uuid": user_uuid,
        "size": str(stored.size),
        "addedtime": now,
        "modifiedtime": now,
        "accesskey": random_token(),
        "foldercount": "0",
        "filecount": "0",
        "ispublic": 0,
        "expiretime": None,
        "url": public_root + stored.url_path,
        "_path": stored.url_path,
    }]

def task_cost(job: Job) -> float:
    """What a finished task bills: the spec's estimate for the output it made."""
    width = int(job.times.get("outputwidth", 1024))
    height = int(job.times.get("outputheight", 1024))
    files = job.spec.file_param
    refs = {files.py_name: [None] * len(job.refs)} if files else {}
    return job.spec.estimate_cost({"width": width, "height": height, **refs})


def task_record(job: Job, user_uuid: str) -> dict[str, Any]:
    """The task record as Wiro's Task/Detail returns it (numbers as strings)."""
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
        "uuid": user_uuid,
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
        "modelid": MODEL_IDS.get(task.model, "0"),
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
