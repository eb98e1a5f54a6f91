"""The ledger's events of named jobs (resumable sweeps and batches).

A job is a named list of cells (a sweep's grid, a batch's rows). Each run of it writes
`JobStarted`. Before the Run of one of its cells is sent, the client writes `Sending`
(fsynced): from then on a crash at any moment leaves a trace. The Run's `Submitted` (or
`RunUnknown`) carries the same ``run_id``, which is how a task is tied to its cell. When a
later run of the job proves that a `Sending` created no task (its task never showed in
``Task/List``), it writes `NotSent`, and the cell may be sent again.

Example:
    >>> event = Sending(run_id="r1", job="fox-study", cell=3, model="a/b")
    >>> parse_job_event({"event": "sending", **event.fields()}) == event
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..protocol import parse_number
from .events import ClientInfo

__all__ = ["JOB_KINDS", "JobCell", "JobEvent", "JobStarted", "NotSent", "Sending",
           "parse_job_event"]


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _index(value: Any) -> int:
    number = parse_number(value)
    return int(number) if number is not None and number >= 0 else -1


@dataclass(frozen=True)
class JobCell:
    """Which cell of which job a Run is for (what ties its task to the cell)."""

    job: str
    cell: int


@dataclass(frozen=True)
class JobStarted:
    """A run of a named job began.

    Attributes:
        job: the job's name.
        kind: ``sweep`` or ``batch``.
        digest: a hash of what the job runs (model, common parameters, every cell); a later
            run under the same name with another digest is refused.
        total: the number of cells.
        models: the models it runs.
        source: the batch file it was read from ("" for a sweep or an iterable).
        fresh: this run starts over (``rerun=True``): earlier cells no longer count.
        base_url: the server it runs on.
    """

    KIND: ClassVar[str] = "job_started"
    job: str
    kind: str = ""
    digest: str = ""
    total: int = 0
    models: tuple[str, ...] = ()
    source: str = ""
    fresh: bool = False
    base_url: str = ""
    time: float | None = field(default=None, compare=False)

    @classmethod
    def from_fields(cls, raw: Mapping[str, Any]) -> JobStarted:
        models = raw.get("models")
        return cls(job=_text(raw, "job"), kind=_text(raw, "kind"), digest=_text(raw, "digest"),
                   total=max(0, _index(raw.get("total"))),
                   models=tuple(str(m) for m in models) if isinstance(models, list) else (),
                   source=_text(raw, "source"), fresh=raw.get("fresh") is True,
                   base_url=_text(raw, "base_url"), time=parse_number(raw.get("time")))

    def fields(self) -> dict[str, Any]:
        return {"job": self.job, "kind": self.kind, "digest": self.digest, "total": self.total,
                "models": list(self.models), "source": self.source, "fresh": self.fresh,
                "base_url": self.base_url}


@dataclass(frozen=True)
class Sending:
    """The Run of a job's cell is about to be sent (written and synced before it is).

    Attributes:
        run_id: ties this to the `Submitted`, `RunUnknown` or `NotSent` that follows.
        job, cell: the job's name and the cell's index in it.
        model, params: what is run (Python names; references as descriptors).
        sent: the non-file values the Run sends (API names), to recognise its task in
            ``Task/List``.
        sent_at: Unix time just before sending (this computer's clock).
        estimate: the USD estimate, when known.
        client: who sends it.
    """

    KIND: ClassVar[str] = "sending"
    run_id: str
    job: str
    cell: int
    model: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    sent: dict[str, Any] = field(default_factory=dict)
    sent_at: float | None = None
    estimate: float | None = None
    client: ClientInfo = field(default_factory=ClientInfo)
    time: float | None = field(default=None, compare=False)

    @classmethod
    def from_fields(cls, raw: Mapping[str, Any]) -> Sending:
        return cls(run_id=_text(raw, "run_id"), job=_text(raw, "job"),
                   cell=_index(raw.get("cell")), model=_text(raw, "model"),
                   params=_mapping(raw.get("params")), sent=_mapping(raw.get("sent")),
                   sent_at=parse_number(raw.get("sent_at")),
                   estimate=parse_number(raw.get("estimate")),
                   client=ClientInfo.from_fields(raw.get("client")),
                   time=parse_number(raw.get("time")))

    def fields(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "job": self.job, "cell": self.cell,
                "model": self.model, "params": self.params, "sent": self.sent,
                "sent_at": self.sent_at, "estimate": self.estimate,
                "client": self.client.fields()}


@dataclass(frozen=True)
class NotSent:
    """A `Sending` created no task: refused before any task existed, or (after a crash)
    its task never showed in ``Task/List``; the cell may be sent again.

    Attributes:
        run_id: the `Sending` it closes.
        job, cell: as in the `Sending`.
        reason: why it is known that no task exists.
    """

    KIND: ClassVar[str] = "not_sent"
    run_id: str
    job: str = ""
    cell: int = -1
    reason: str = ""
    time: float | None = field(default=None, compare=False)

    @classmethod
    def from_fields(cls, raw: Mapping[str, Any]) -> NotSent:
        return cls(run_id=_text(raw, "run_id"), job=_text(raw, "job"),
                   cell=_index(raw.get("cell")), reason=_text(raw, "reason"),
                   time=parse_number(raw.get("time")))

    def fields(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "job": self.job, "cell": self.cell,
                "reason": self.reason}


JobEvent = JobStarted | Sending | NotSent
JOB_KINDS: dict[str, Any] = {cls.KIND: cls for cls in (JobStarted, Sending, NotSent)}


def parse_job_event(raw: Mapping[str, Any]) -> JobEvent | None:
    """The typed job event of one ledger line, or None when the line is of another kind.

    Example:
        >>> parse_job_event({"event": "not_sent", "run_id": "r1", "job": "j", "cell": 0})
        NotSent(run_id='r1', job='j', cell=0, reason='', time=None)
    """
    cls = JOB_KINDS.get(_text(raw, "event"))
    if cls is None:
        return None
    event: JobEvent = cls.from_fields(raw)
    return event
