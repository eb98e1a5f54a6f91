"""The sandbox's tasks: what tests see (`SandboxTask`), what the engine keeps (`Job`), and
what Wiro shows of them: the Task/Detail record, the rendered outputs and their cost.

Example:
    >>> record = task_record(job, user_uuid)
    >>> record["status"], record["pexit"], record["totalcost"]
    ('task_postprocess_end', '0', '0.062914560000')
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..protocol import CANCELLABLE_STATUSES, KILLABLE_STATUSES, TERMINAL_STATUSES, succeeded
from ..references import Reference
from ..schema import ModelSpec
from . import outputs
from .catalogue import model_outputs, slugs
from .files import FileStore

__all__ = [
    "MODEL_IDS",
    "SANDBOX_CPS",
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
    #: The recorded run answering it (a `replay.Replay`), or None: its model runs.
    replay: Any = None


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
    """Make the task's outputs as its model would (images, a video or text; see
    `outputs`), store them and describe them as Wiro does (the ``_path`` key, the stored URL
    path, is for the engine and removed before it is shown). An LLM's text also becomes the
    task's ``debugoutput``."""
    kinds = model_outputs(job.spec.slug) if job.spec.slug in slugs() else {
        "contenttype": "image/png", "count": 1}
    made = outputs.make_outputs(job.spec, kinds, job.task.params, job.refs, store, ttl=ttl,
                                public_root=public_root, user_uuid=user_uuid)
    if made.size is not None:
        job.times["outputwidth"], job.times["outputheight"] = map(float, made.size)
    if made.text is not None:
        job.debugoutput = made.text
    job.times["outputcount"] = float(len(made.items))
    return made.items


#: What the sandbox bills per second for a model without a price rule, as Wiro bills such
#: models (pricing.md: ``elapsed_seconds x cps``); the rate is the one in the docs' example
#: task record.
SANDBOX_CPS = 0.000585


def task_cost(job: Job) -> float:
    """What a finished task bills: the model's price rules (or the package's estimate) for
    the output it made; per second when neither gives a price."""
    spec = job.spec
    params = spec.from_wire(job.task.params)
    if "outputwidth" in job.times:
        params.update(width=int(job.times["outputwidth"]), height=int(job.times["outputheight"]))
    if spec.output_count and "outputcount" in job.times:
        params[spec.param(spec.output_count).py_name] = int(job.times["outputcount"])
    for p in spec.file_params:
        params[p.py_name] = [ref for ref, given in zip(job.refs, job.task.inputs, strict=False)
                             if given.get("name") == p.name]
    cost = spec.estimate_cost(params)
    return cost if cost is not None else round(job.elapsed * SANDBOX_CPS, 12)


def task_record(job: Job, user_uuid: str) -> dict[str, Any]:
    """The task record as Wiro's Task/Detail returns it (numbers as strings)."""
    task = job.task
    times = job.times

    def stamp(name: str) -> str:
        return str(int(times[name])) if name in times else "0"

    done = succeeded({"status": task.status, "pexit": task.pexit})
    cost = job.cost if done else 0.0
    elapsed = round(job.elapsed, 4)  # cps agrees with the elapsedseconds shown
    size = sum(int(o.get("size") or 0) for o in task.outputs)  # raw (LLM) items have none
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
        "description": job.replay.label if job.replay is not None else "",
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
        "categories": json.dumps(["tool", *(c for c in job.spec.categories if c != "tool")],
                                 separators=(",", ":")),
        "modeldescription": job.spec.description,
        "modelslugowner": job.spec.owner,
        "modelslugproject": job.spec.project,
        "outputs": copy.deepcopy(task.outputs),
        "size": str(size),
    }
    return record
