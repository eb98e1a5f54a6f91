"""A replayed task's lifecycle: the recorded status timeline, step progress and outputs.

The engine hands a task with a `replay.Replay` here instead of running its model. Each status
of the recorded timeline comes after its recorded delay times ``Replay.scale`` (real time
capped at `replay.REPLAY_CAP` seconds for the task by default). The ledger keeps a status's
time, not each progress frame, so the step frames are spread evenly over the recorded
generation time (``task_start`` to ``task_end``), one per recorded step (the run's
``steps``; none for a model without steps). The recorded outputs are served byte for byte
under the task's own output URLs; ``elapsedseconds``, ``totalcost``, ``debugoutput`` and
``debugerror`` are the recorded ones. Cancel and Kill work as on any sandbox task.

Example:
    >>> play(engine, job)     # on the task's lifecycle thread
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from ..protocol import STATUS_ORDER, parse_number
from .files import random_token
from .modelrun import progress
from .replay import Replay
from .tasks import Job

__all__ = ["play", "schedule"]

#: The statuses a replay walks through with their recorded delays (``task_output`` steps
#: and ``task_output_full`` are placed inside the generation time).
_WALK = tuple(s for s in STATUS_ORDER if s not in ("task_queue", "task_output",
                                                   "task_output_full"))


def schedule(replay: Replay) -> list[tuple[str, float]]:
    """(status, replayed seconds since the previous one) for every status after the queue.

    Example:
        >>> schedule(replay)[:2]
        [('task_accept', 0.5), ('task_preprocess_start', 0.0)]
    """
    timeline = replay.run.timeline
    previous = timeline.get("task_queue") or (min(timeline.values()) if timeline else 0.0)
    plan = []
    for status in _WALK:
        at = timeline.get(status, previous)
        plan.append((status, max(0.0, at - previous) * replay.scale))
        previous = max(previous, at)
    return plan


def play(engine: Any, job: Job) -> None:
    """Walk ``job`` (whose ``replay`` is set) through its recorded lifecycle on ``engine``
    (an `engine.Engine`; its step helpers honour gates, Cancel, Kill and stop)."""
    replay: Replay = job.replay
    speed = engine.speed  # the engine divides delays by it; a replay keeps its own pace
    for status, delay in schedule(replay):
        if status == "task_end":
            if not _generate(engine, job, replay, delay * speed):
                return
            continue
        if status == "task_postprocess_end":
            _finish(engine, job, replay, delay * speed)
            return
        if not engine._step(job, status, delay=delay * speed):
            return


def _generate(engine: Any, job: Job, replay: Replay, span: float) -> bool:
    """Step frames over the generation time, then ``task_output_full`` and ``task_end``."""
    steps = int(parse_number(replay.run.record.get("parameters", {}).get("steps"))
                or parse_number(job.task.params.get("steps")) or 0)
    step_delay = span / (steps + 1) if steps else 0.0
    step_seconds = max(step_delay / engine.speed, 1e-3)
    started = time.monotonic()
    for current in range(1, steps + 1):
        message = progress(current, steps, time.monotonic() - started + step_seconds,
                           step_seconds)
        if not engine._step(job, "task_output", message, delay=step_delay):
            return False
    job.debugoutput = str(replay.run.record.get("debugoutput") or "")
    if not engine._step(job, "task_output_full", {"raw": job.debugoutput},
                        delay=span - step_delay * steps):
        return False
    with engine._lock:
        if job.task.terminal:
            return False
        job.task.pexit = "0"
        job.task.debugerror = str(replay.run.record.get("debugerror") or "")
        job.elapsed = float(parse_number(replay.run.record.get("elapsedseconds"))
                            or replay.run.elapsed)
        engine._set_status(job, "task_end", None)
    return True


def _finish(engine: Any, job: Job, replay: Replay, delay: float) -> None:
    """Store the recorded outputs under this task's URLs, then end it."""
    stored = [engine.store.put_output(data, name, content_type, engine.output_ttl)
              for name, content_type, data in replay.outputs]
    if not engine._wait(job, delay):
        engine.store.remove(s.url_path for s in stored)
        return
    added = str(int(engine.now()))
    items = [_item(name, content_type, s.size, engine.public_root + s.url_path,
                   engine.user_uuid, added)
             for (name, content_type, _), s in zip(replay.outputs, stored, strict=True)]
    with engine._lock:
        if job.task.terminal or engine._stopping.is_set():
            return
        job.task.outputs = items
        job.cost = float(parse_number(replay.run.record.get("totalcost")) or 0.0)
        engine._set_status(job, "task_postprocess_end", items)
        engine._finished(job)


def _item(name: str, content_type: str, size: int, url: str, user_uuid: str,
          added: str) -> dict[str, Any]:
    """An output as Wiro's record lists it."""
    return {
        "id": secrets.token_hex(16), "name": name, "contenttype": content_type,
        "parentid": secrets.token_hex(16), "uuid": user_uuid, "size": str(size),
        "addedtime": added, "modifiedtime": added, "accesskey": random_token(),
        "foldercount": "0", "filecount": "0", "ispublic": 0, "expiretime": None, "url": url,
    }
