"""The ledger's events, typed: one definition each, written and read through this module.

Every line of ``ledger.jsonl`` is one event: ``{"v": 1, "event": "<kind>", "time": <unix>,
...fields}``. `Submitted` is written before the client waits on a task, `Finished` when it
ends, `Detached` when a wait leaves it running, `RunUnknown` when a Run's answer was lost.
`parse_event` reads any line back: unknown keys are ignored, missing ones take their
defaults, and kinds it does not know come back as `OtherEvent`, so a ledger written by an
older or newer version still loads.

`TaskEntry` is the view of one task: its events merged by token.

Example:
    >>> event = Submitted(task_id="12", token="abc", model="a/b", params={"seed": 1})
    >>> parse_event({"event": "submitted", **event.fields(), "extra": 1}) == event
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..protocol import is_loopback_url, outcome_of, parse_number

__all__ = [
    "ClientInfo",
    "Detached",
    "Event",
    "Finished",
    "OtherEvent",
    "OutputFile",
    "RunUnknown",
    "Submitted",
    "TaskEntry",
    "parse_event",
]


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


@dataclass(frozen=True)
class ClientInfo:
    """Who sent a task: package version, server, key fingerprint, platform, and whether the
    client knew the server to be a sandbox (None in ledgers written before it was kept)."""

    version: str = ""
    base_url: str = ""
    key: str = ""
    python: str = ""
    platform: str = ""
    sandbox: bool | None = None

    @classmethod
    def from_fields(cls, raw: Any) -> ClientInfo:
        data = _mapping(raw)
        return cls(version=_text(data, "version"), base_url=_text(data, "base_url"),
                   key=_text(data, "key"), python=_text(data, "python"),
                   platform=_text(data, "platform"), sandbox=_flag(data.get("sandbox")))

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": self.version, "base_url": self.base_url,
                               "key": self.key, "python": self.python,
                               "platform": self.platform}
        if self.sandbox is not None:
            out["sandbox"] = self.sandbox
        return out


@dataclass(frozen=True)
class OutputFile:
    """One output as the ledger keeps it: what the API announced and where its bytes are."""

    name: str = ""
    content_type: str = ""
    size: float | None = None
    url: str = ""
    sha256: str = ""
    path: str = ""

    @classmethod
    def from_fields(cls, raw: Mapping[str, Any]) -> OutputFile:
        return cls(name=_text(raw, "name"),
                   content_type=_text(raw, "content_type") or _text(raw, "contenttype"),
                   size=parse_number(raw.get("size")), url=_text(raw, "url"),
                   sha256=_text(raw, "sha256"), path=_text(raw, "path"))

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "content_type": self.content_type,
                               "size": self.size, "url": self.url}
        if self.sha256 or self.path:
            out.update(sha256=self.sha256, path=self.path)
        return out


@dataclass(frozen=True)
class Submitted:
    """A Run was accepted: the task exists and may bill (written before any wait).

    Attributes:
        params: Python-named parameters; reference images as descriptors, never bytes.
        submitted_at: Unix time of the Run.
        estimate: the USD estimate, when the model has a price.
        adopted: the Run's answer was lost and the task was found by reconciliation.
        client: who sent it (see `ClientInfo`).
        run_id: the `RunUnknown` entry this task was adopted for, if any.
        time: when the line was written (set by the ledger).
    """

    KIND: ClassVar[str] = "submitted"
    task_id: str
    token: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    submitted_at: float | None = None
    estimate: float | None = None
    adopted: bool = False
    client: ClientInfo = field(default_factory=ClientInfo)
    run_id: str = ""
    time: float | None = field(default=None, compare=False)

    @classmethod
    def from_fields(cls, raw: Mapping[str, Any]) -> Submitted:
        return cls(task_id=_text(raw, "task_id"), token=_text(raw, "token"),
                   model=_text(raw, "model"), params=_mapping(raw.get("params")),
                   submitted_at=parse_number(raw.get("submitted_at")),
                   estimate=parse_number(raw.get("estimate")),
                   adopted=raw.get("adopted") is True,
                   client=ClientInfo.from_fields(raw.get("client")),
                   run_id=_text(raw, "run_id"), time=parse_number(raw.get("time")))

    def fields(self) -> dict[str, Any]:
        out = {"task_id": self.task_id, "token": self.token, "model": self.model,
               "params": self.params, "estimate": self.estimate, "adopted": self.adopted,
               "submitted_at": self.submitted_at, "client": self.client.fields()}
        return {**out, "run_id": self.run_id} if self.run_id else out


@dataclass(frozen=True)
class Finished:
    """A task ended (or was given up on), with what it cost and produced.

    Attributes:
        outcome: one of `protocol.OUTCOMES`.
        status, pexit: the final Task/Detail status and exit code.
        elapsed: the server's ``elapsedseconds``.
        wall_time: seconds from submit to the result in hand, as the client measured.
        cost: USD billed (``totalcost``).
        timeline: status -> Unix time.
        outputs: the output files (see `OutputFile`).
        debugerror: the task's error text (secrets removed).
        message: a note from the client (e.g. why a download failed).
        sandbox: whether the client knew the server to be a sandbox (None: not recorded).
        record: the final Task/Detail record (``debugoutput`` cut to its end).
        resumed: written by ``resume()`` rather than by the wait that followed the task.
        time: when the line was written (set by the ledger).
    """

    KIND: ClassVar[str] = "finished"
    task_id: str
    token: str
    outcome: str
    model: str = ""
    status: str = ""
    pexit: str = ""
    elapsed: float | None = None
    wall_time: float | None = None
    cost: float = 0.0
    timeline: dict[str, float] = field(default_factory=dict)
    outputs: tuple[OutputFile, ...] = ()
    debugerror: str = ""
    message: str = ""
    sandbox: bool | None = None
    record: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False
    time: float | None = field(default=None, compare=False)

    @classmethod
    def from_fields(cls, raw: Mapping[str, Any]) -> Finished:
        items = raw.get("outputs")
        outputs = tuple(OutputFile.from_fields(o) for o in
                        (items if isinstance(items, list) else []) if isinstance(o, Mapping))
        # Hand-written lines may lack an outcome: the success rule decides from the status.
        outcome = _text(raw, "outcome") or outcome_of(raw)
        return cls(task_id=_text(raw, "task_id"), token=_text(raw, "token"),
                   outcome=outcome, model=_text(raw, "model"),
                   status=_text(raw, "status"), pexit=_text(raw, "pexit"),
                   elapsed=parse_number(raw.get("elapsed")),
                   wall_time=parse_number(raw.get("wall_time")),
                   cost=parse_number(raw.get("cost")) or 0.0,
                   timeline=_timeline(raw.get("timeline")), outputs=outputs,
                   debugerror=_text(raw, "debugerror"), message=_text(raw, "message"),
                   sandbox=_flag(raw.get("sandbox")), record=_mapping(raw.get("record")),
                   resumed=raw.get("resumed") is True, time=parse_number(raw.get("time")))

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task_id": self.task_id, "token": self.token, "model": self.model,
            "outcome": self.outcome, "status": self.status, "pexit": self.pexit,
            "elapsed": self.elapsed, "cost": self.cost, "timeline": self.timeline,
            "outputs": [o.fields() for o in self.outputs], "debugerror": self.debugerror,
            "message": self.message,
        }
        optional = {"wall_time": self.wall_time, "sandbox": self.sandbox,
                    "record": self.record or None, "resumed": self.resumed or None}
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


@dataclass(frozen=True)
class RunUnknown:
    """A Run was sent, its answer was lost and no task could be matched: one may exist.

    It keeps what is needed to recognise the task later in ``Task/List`` (the model and the
    values sent), so ``history()`` / ``resume()`` can adopt it: a `Submitted` event with the
    same ``run_id`` then marks it adopted.

    Attributes:
        run_id: this entry's id.
        reason: how the answer was lost (``ReadTimeout``, ``HTTP 504``, ...).
        sent: the non-file values the Run sent (API names), compared with a record's
            ``parameters``.
        fingerprint: a short hash of the parameters (shown in the error and here).
        sent_at: Unix time the Run was sent (this computer's clock).
        estimate: the USD estimate, when the model has a price.
        client: who sent it (server and key fingerprint: only that project lists the task).
    """

    KIND: ClassVar[str] = "run_unknown"
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    run_id: str = ""
    reason: str = ""
    sent: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    sent_at: float | None = None
    estimate: float | None = None
    client: ClientInfo = field(default_factory=ClientInfo)
    time: float | None = field(default=None, compare=False)

    @classmethod
    def from_fields(cls, raw: Mapping[str, Any]) -> RunUnknown:
        return cls(model=_text(raw, "model"), params=_mapping(raw.get("params")),
                   message=_text(raw, "message"), run_id=_text(raw, "run_id"),
                   reason=_text(raw, "reason"), sent=_mapping(raw.get("sent")),
                   fingerprint=_text(raw, "fingerprint"),
                   sent_at=parse_number(raw.get("sent_at")),
                   estimate=parse_number(raw.get("estimate")),
                   client=ClientInfo.from_fields(raw.get("client")),
                   time=parse_number(raw.get("time")))

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "params": self.params,
                               "message": self.message}
        if self.run_id:
            out.update(run_id=self.run_id, reason=self.reason, sent=self.sent,
                       fingerprint=self.fingerprint, sent_at=self.sent_at,
                       estimate=self.estimate, client=self.client.fields())
        return out


@dataclass(frozen=True)
class Detached:
    """A wait stopped but the task is not over for the client: it keeps running
    (``reason``: ``timeout``, ``interrupt``, ``cancel_refused``, or ``detach``: the caller
    stopped waiting; ``stop``: a Cancel or Kill could not reach the server in time), or it
    succeeded and its outputs are not in hand yet (``outputs``). ``message`` says what
    failed. Either way it stays pending."""

    KIND: ClassVar[str] = "detached"
    task_id: str
    token: str
    reason: str
    status: str = ""
    message: str = ""
    time: float | None = field(default=None, compare=False)

    @classmethod
    def from_fields(cls, raw: Mapping[str, Any]) -> Detached:
        return cls(task_id=_text(raw, "task_id"), token=_text(raw, "token"),
                   reason=_text(raw, "reason"), status=_text(raw, "status"),
                   message=_text(raw, "message"), time=parse_number(raw.get("time")))

    def fields(self) -> dict[str, Any]:
        out = {"task_id": self.task_id, "token": self.token, "reason": self.reason}
        optional = {"status": self.status, "message": self.message}
        return {**out, **{k: v for k, v in optional.items() if v}}


@dataclass(frozen=True)
class OtherEvent:
    """An event of a kind this version does not know, kept as it was read."""

    kind: str
    raw: dict[str, Any] = field(default_factory=dict)
    time: float | None = field(default=None, compare=False)

    @property
    def token(self) -> str:
        return _text(self.raw, "token")


Event = Submitted | Finished | RunUnknown | Detached | OtherEvent
_KINDS: dict[str, Any] = {cls.KIND: cls for cls in (Submitted, Finished, RunUnknown, Detached)}


def parse_event(raw: Mapping[str, Any]) -> Event:
    """The typed event for one ledger line (unknown keys ignored, unknown kinds kept).

    Example:
        >>> parse_event({"event": "detached", "task_id": "1", "token": "t", "reason": "timeout"})
        Detached(task_id='1', token='t', reason='timeout', status='', message='', time=None)
    """
    kind = _text(raw, "event")
    cls = _KINDS.get(kind)
    if cls is None:
        return OtherEvent(kind, dict(raw), parse_number(raw.get("time")))
    event: Event = cls.from_fields(raw)
    return event


def _timeline(raw: Any) -> dict[str, float]:
    pairs = raw.items() if isinstance(raw, Mapping) else (
        item for item in (raw if isinstance(raw, list) else [])
        if isinstance(item, (list, tuple)) and len(item) == 2)
    timeline = {}
    for status, when in pairs:
        number = parse_number(when)
        if number is not None:
            timeline[str(status)] = number
    return timeline


@dataclass
class TaskEntry:
    """One task's events, merged by token.

    Attributes:
        token: the task token shared by its events.
        submitted: the `Submitted` event (None when only later events were kept).
        finished: the last `Finished` event, None while the task has not ended.
        notes: every other event of this token (`Detached`, unknown kinds), in order.
        first_time: when its first event was written.
    """

    token: str
    submitted: Submitted | None = None
    finished: Finished | None = None
    notes: list[Event] = field(default_factory=list)
    first_time: float | None = None

    def add(self, event: Event) -> None:
        """Merge one more event of this task (ledger order)."""
        if self.first_time is None:
            self.first_time = event.time
        if isinstance(event, Submitted):
            self.submitted = event
        elif isinstance(event, Finished):
            self.finished = event
        else:
            self.notes.append(event)

    @property
    def is_finished(self) -> bool:
        return self.finished is not None

    @property
    def outcome(self) -> str | None:
        return self.finished.outcome if self.finished else None

    @property
    def task_id(self) -> str:
        return (self.submitted.task_id if self.submitted else "") or (
            self.finished.task_id if self.finished else "")

    @property
    def model(self) -> str:
        return (self.submitted.model if self.submitted else "") or (
            self.finished.model if self.finished else "")

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.submitted.params) if self.submitted else {}

    @property
    def submitted_at(self) -> float:
        """Unix time of the Run (the line's time when the Run's own was not kept)."""
        if self.submitted is not None:
            return self.submitted.submitted_at or self.submitted.time or 0.0
        return self.first_time or 0.0

    @property
    def base_url(self) -> str:
        return self.submitted.client.base_url if self.submitted else ""

    @property
    def sandbox(self) -> bool:
        """Whether a sandbox made it: as the client recorded it, else (older ledgers) whether
        the server was on a loopback address."""
        for known in (self.finished.sandbox if self.finished else None,
                      self.submitted.client.sandbox if self.submitted else None):
            if known is not None:
                return known
        return is_loopback_url(self.base_url)
