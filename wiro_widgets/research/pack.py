"""Packing recorded runs for an offline replay: `pack` writes the ledger's succeeded runs, their
outputs and the reference images it finds into one portable zip (see `packfile`).

A run is packed only when it succeeded and every output is still in the output cache with
its recorded hash; the others are skipped and said so (`PackReport.skipped`). Nothing secret
travels: each run's ledger lines are checked with the redaction module's detectors (every
key and secret registered in this process, the ``WIRO_API_KEY`` / ``WIRO_API_SECRET`` of the
environment, credentials in a URL) and for fields named like a key; a run that would carry
one is refused with a `PackError` naming the task and the field, and no pack is written.

Example:
    >>> report = pack("talk.wiropack", last=5, model="black-forest-labs/flux-2-flex")
    >>> report.packed, report.skipped
    (['5012', '5013'], [('5011', 'failed: only succeeded runs are packed')])
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..images import IMAGE_TYPES
from ..ledger import Ledger, OutputCache, TaskEntry
from ..packfile import PackError, write_pack
from ..redaction import Secret, get_logger, redact, strip_userinfo

__all__ = ["PackReport", "pack"]

log = get_logger(__name__)

#: Field names that hold a credential whatever their value looks like.
_KEY_FIELD = re.compile(r"(?i)^(x-)?(api[_-]?key|api[_-]?secret|secret|password|passwd|"
                        r"authorization|bearer)$")
#: Where the panel keeps uploads by default (references are found there by hash prefix).
_UPLOADS = "wiro-uploads"


@dataclass
class PackReport:
    """What `pack` did: the pack's path, the task ids packed, and the runs skipped with why."""

    path: Path
    packed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    missing_references: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"PackReport({str(self.path)!r}, packed={len(self.packed)}, "
                f"skipped={len(self.skipped)})")


def pack(path: str | Path, *, last: int | None = None,
         since: dt.datetime | dt.date | float | str | None = None, model: str | None = None,
         tasks: Iterable[str] | None = None, home: str | Path | None = None,
         references: Iterable[str | Path] = (_UPLOADS,)) -> PackReport:
    """Write the ledger's succeeded runs into one pack for ``Sandbox(replay=path)``.

    Args:
        path: the pack to write (``talk.wiropack``).
        last: only the newest N runs chosen by the other filters.
        since: only runs submitted at or after this time (datetime, date, Unix time or
            ``YYYY-MM-DD[THH:MM]``).
        model: only this model (``owner/model`` or ``model``).
        tasks: only these task ids (or tokens).
        home: the ledger's folder (default: ``WIRO_WIDGETS_HOME``).
        references: folders searched for reference images by hash (beside the cache).

    Raises:
        PackError: nothing to pack, or a run that would carry a key or a secret (no file
            is written then).

    Example:
        >>> wiro_widgets.pack("talk.wiropack", since="2026-12-01")
        PackReport('talk.wiropack', packed=12, skipped=1)
    """
    ledger = Ledger(home)
    cache = OutputCache(ledger.home)
    report = PackReport(Path(path).expanduser())
    guards = [Secret(v) for v in (os.environ.get("WIRO_API_KEY"),
                                  os.environ.get("WIRO_API_SECRET")) if v and len(v) >= 4]
    wanted = _chosen(ledger.tasks().values(), last=last, since=_unix(since), model=model,
                     tasks=tasks, report=report)
    lines: list[dict[str, Any]] = []
    files: dict[str, bytes] = {}
    folders = [Path(f).expanduser() for f in references]
    for entry in wanted:
        _add_run(entry, cache, folders, report, lines, files)
    del guards
    if not report.packed:
        why = "; ".join(f"task {t}: {r}" for t, r in report.skipped[:5]) or "no run matched"
        raise PackError(f"nothing to pack into {report.path} from the ledger in "
                        f"{ledger.home} ({why})")
    write_pack(report.path, lines, files)
    for task_id, reason in report.skipped:
        log.info("pack: task %s skipped: %s", task_id, reason)
    return report


def _add_run(entry: TaskEntry, cache: OutputCache, folders: list[Path], report: PackReport,
             lines: list[dict[str, Any]], files: dict[str, bytes]) -> None:
    """Add one run's ledger lines, outputs and found references (or note why it is skipped).

    Raises:
        PackError: its lines would carry a key or a secret.
    """
    found = _outputs(entry, cache)
    if found is None:
        report.skipped.append((entry.task_id, "its outputs are no longer in the output "
                               "cache (or were changed): nothing to replay"))
        return
    submitted, finished = _lines(entry, found)
    _refuse_secrets(report.path, entry.task_id, [submitted, finished])
    lines += [submitted, finished]
    files.update(dict(found))
    for digest in _reference_hashes(entry.params):
        data, suffix = _reference(digest, cache, folders)
        if data is None:
            report.missing_references.append(digest)
        else:
            files[f"references/{digest}{suffix}"] = data
    report.packed.append(entry.task_id)


def _chosen(entries: Iterable[TaskEntry], *, last: int | None, since: float | None,
            model: str | None, tasks: Iterable[str] | None,
            report: PackReport) -> list[TaskEntry]:
    wanted_ids = {str(t) for t in tasks} if tasks is not None else None
    chosen = []
    for entry in entries:
        if wanted_ids is not None and not ({entry.task_id, entry.token} & wanted_ids):
            continue
        if model and entry.model != model and entry.model.rsplit("/", 1)[-1] != model:
            continue
        if since is not None and entry.submitted_at < since:
            continue
        if entry.outcome == "succeeded" and entry.submitted is None:
            report.skipped.append((entry.task_id, "its parameters were never recorded (no "
                                   "submitted line): it could not be matched"))
            continue
        if entry.outcome != "succeeded":
            report.skipped.append((entry.task_id, f"{entry.outcome or 'not finished'}: only "
                                   "succeeded runs are packed"))
            continue
        chosen.append(entry)
    chosen.sort(key=lambda e: e.submitted_at)
    if last is not None:
        chosen = chosen[-last:] if last > 0 else []
    return chosen


def _outputs(entry: TaskEntry, cache: OutputCache) -> list[tuple[str, bytes]] | None:
    """(member, bytes) of every output, or None when one is missing or changed."""
    assert entry.finished is not None
    found = []
    for output in entry.finished.outputs:
        if not output.sha256:
            return None
        suffix = Path(output.name).suffix or f".{IMAGE_TYPES.get(output.content_type, 'bin')}"
        local = cache.find(output.sha256, path=output.path,
                           suffixes=[suffix, Path(output.name).suffix, ".jpeg", ""])
        if not local:
            return None
        data = Path(local).read_bytes()
        if hashlib.sha256(data).hexdigest() != output.sha256:
            return None
        found.append((f"outputs/{output.sha256}{suffix}", data))
    return found or None


def _lines(entry: TaskEntry, found: list[tuple[str, bytes]]
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's ledger lines as packed: local paths dropped, each output's member added."""
    assert entry.submitted is not None
    assert entry.finished is not None
    submitted = {"event": "submitted", **entry.submitted.fields()}
    finished = {"event": "finished", **entry.finished.fields()}
    outputs = []
    for raw, (member, _) in zip(finished["outputs"], found, strict=True):
        outputs.append({**{k: v for k, v in raw.items() if k != "path"}, "member": member})
    finished["outputs"] = outputs
    record = finished.get("record")
    if isinstance(record, dict) and isinstance(record.get("outputs"), list):
        # A file's access key lets anyone fetch it from Wiro's CDN: not for a portable file.
        finished["record"] = {**record, "outputs": [
            {k: v for k, v in o.items() if k != "accesskey"} if isinstance(o, dict) else o
            for o in record["outputs"]]}
    return submitted, finished


def _refuse_secrets(where: Path, task_id: str, lines: list[dict[str, Any]]) -> None:
    """Raise `PackError` when a line carries a key: a registered secret, credentials in a
    URL, or a field named like a key with a value."""
    for line in lines:
        for name, text in _strings(line, ""):
            leaf = name.rsplit(".", 1)[-1]
            if _KEY_FIELD.match(leaf) and text:
                raise PackError(f"cannot pack task {task_id} into {where}: its field {name!r} "
                                "holds a credential; packs never carry keys or secrets")
            if redact(text) != text or strip_userinfo(text) != text:
                raise PackError(f"cannot pack task {task_id} into {where}: its field {name!r} "
                                "carries a key, a secret or a password; packs never carry "
                                "them (edit or drop that run, or choose others with tasks=)")


def _strings(value: Any, name: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{name}.{key}" if name else str(key))
            if isinstance(item, (int, float)) and _KEY_FIELD.match(str(key)):
                yield f"{name}.{key}" if name else str(key), str(item)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{name}[{index}]")


def _reference_hashes(params: Mapping[str, Any]) -> list[str]:
    return [str(d["sha256"]) for v in params.values() if isinstance(v, list)
            for d in v if isinstance(d, Mapping) and d.get("sha256")]


def _reference(digest: str, cache: OutputCache, folders: list[Path]
               ) -> tuple[bytes | None, str]:
    """A reference image's bytes by hash: from the output cache (an output used as a
    reference) or the uploads folders (files named by their hash prefix)."""
    candidates = list(cache.path_for(digest).parent.glob(f"{digest}*"))
    for folder in folders:
        if folder.is_dir():
            candidates += [p for p in folder.iterdir() if p.name.startswith(digest[:12])]
    for candidate in candidates:
        try:
            data = candidate.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() == digest:
            return data, candidate.suffix
    return None, ""


def _unix(since: dt.datetime | dt.date | float | str | None) -> float | None:
    if since is None:
        return None
    if isinstance(since, str):
        try:
            since = dt.datetime.fromisoformat(since)
        except ValueError:
            raise PackError(f"since={since!r}: expected a date like 2026-12-01 or "
                            "2026-12-01T14:30") from None
    if isinstance(since, dt.datetime):
        return since.timestamp()
    if isinstance(since, dt.date):
        return dt.datetime(since.year, since.month, since.day).timestamp()
    return float(since)
