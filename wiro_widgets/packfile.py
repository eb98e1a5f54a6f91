"""The pack format: one zip holding recorded runs for an offline replay, written and read here.

A pack (``talk.wiropack``) holds:

- ``manifest.json``: ``{"format": "wiro-widgets-pack", "version": 1, "created": ...,
  "generator": ..., "runs": <count>, "members": {<member>: <sha256>, ...}}``;
- ``ledger.jsonl``: the ``submitted`` and ``finished`` ledger lines of every packed run, as
  the ledger wrote them (one JSON object a line);
- ``outputs/<sha256><suffix>``: each output's bytes, named by their SHA-256;
- ``references/<sha256><suffix>``: the reference images that were found (the match needs
  only their hash, which the ledger lines carry).

`read_pack` checks all of it before anything is used: the zip opens and every member reads
(a truncated or corrupt file), the manifest is ours and not of a newer version, every member
is listed and hashes to what the manifest says. Any fault is a `PackError` naming the pack
and the part. This module imports only the bottom layer, so the sandbox can read packs
without the client side.

Example:
    >>> pack = read_pack("talk.wiropack")
    >>> [run.task_id for run in pack.runs], pack.member(pack.runs[0].outputs[0].member)[:4]
    (['5012'], b'\\x89PNG')
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import ConfigError

__all__ = [
    "ENTRIES",
    "MANIFEST",
    "PACK_FORMAT",
    "PACK_VERSION",
    "REPLAY_PREFIX",
    "Pack",
    "PackError",
    "PackedOutput",
    "RecordedRun",
    "is_replay_record",
    "read_pack",
    "write_pack",
]

PACK_FORMAT = "wiro-widgets-pack"
#: The newest format this version reads and the one it writes.
PACK_VERSION = 1
MANIFEST = "manifest.json"
ENTRIES = "ledger.jsonl"
#: The largest member and the largest whole a pack may unpack to (a pack from elsewhere is
#: read into memory: a forged size must not take the machine's).
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_PACK_BYTES = 4 * 1024 * 1024 * 1024
#: How a replayed task's Task/Detail ``description`` starts (``"wiro-widgets replay of task
#: 5012 from talk.wiropack"``): the field Wiro's records carry and leave empty for API tasks.
REPLAY_PREFIX = "wiro-widgets replay"


def is_replay_record(record: Mapping[str, Any]) -> bool:
    """Whether a Task/Detail record is a replay sandbox's answer from a pack.

    Example:
        >>> is_replay_record({"description": "wiro-widgets replay of task 5 from t.wiropack"})
        True
    """
    return str(record.get("description") or "").startswith(REPLAY_PREFIX)


class PackError(ConfigError):
    """A pack that cannot be used (or written): names the pack and the part at fault."""


@dataclass(frozen=True)
class PackedOutput:
    """One recorded output: its name and type as the API announced them, and its member."""

    name: str
    content_type: str
    sha256: str
    member: str


@dataclass(frozen=True)
class RecordedRun:
    """One succeeded run of a pack, from its ledger lines.

    Attributes:
        task_id: the recorded task's id.
        model: ``owner/model``.
        params: Python-named parameters as sent; reference images as descriptors
            (``sha256``, ``name``, ...).
        timeline: status -> Unix time, as recorded.
        record: the final Task/Detail record.
        outputs: the outputs, in order.
        submitted: the ``submitted`` line, as written.
        finished: the ``finished`` line, as written.
    """

    task_id: str
    model: str
    params: dict[str, Any]
    timeline: dict[str, float]
    record: dict[str, Any]
    outputs: tuple[PackedOutput, ...]
    submitted: dict[str, Any] = field(repr=False, default_factory=dict)
    finished: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def prompt(self) -> str:
        return str(self.params.get("prompt", ""))

    @property
    def elapsed(self) -> float:
        try:
            return float(self.finished.get("elapsed") or 0.0)
        except (TypeError, ValueError):
            return 0.0

    def reference_hashes(self) -> dict[str, list[str]]:
        """Each parameter holding reference descriptors -> their SHA-256s, in order."""
        return {k: [str(d.get("sha256", "")) for d in v] for k, v in self.params.items()
                if isinstance(v, list) and v and all(isinstance(d, Mapping) and "sha256" in d
                                                     for d in v)}


@dataclass
class Pack:
    """A pack read and checked by `read_pack`: its runs and its members' bytes."""

    path: Path
    version: int
    runs: list[RecordedRun]
    members: dict[str, bytes] = field(repr=False, default_factory=dict)

    def member(self, name: str) -> bytes:
        return self.members[name]


def write_pack(path: str | Path, lines: list[dict[str, Any]],
               files: Mapping[str, bytes]) -> Path:
    """Write a pack: the ledger ``lines`` of its runs and the member ``files`` (name ->
    bytes), with a manifest of every member's SHA-256. Written to a temporary name first, so
    a failed write never leaves a pack that looks whole.

    Example:
        >>> write_pack("talk.wiropack", [submitted, finished], {"outputs/ab12.png": data})
    """
    target = Path(path).expanduser()
    entries = "".join(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n"
                      for line in lines).encode("utf-8")
    members = {ENTRIES: entries, **files}
    manifest = {
        "format": PACK_FORMAT, "version": PACK_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "generator": f"wiro_widgets {__version__}",
        "runs": sum(1 for line in lines if line.get("event") == "finished"),
        "members": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
            for name, data in members.items():
                # Images are compressed already: stored as they are.
                kind = zipfile.ZIP_DEFLATED if name == ENTRIES else zipfile.ZIP_STORED
                archive.writestr(name, data, compress_type=kind)
        tmp.replace(target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise PackError(f"cannot write the pack {target}: {err.strerror or err}") from None
    return target


def read_pack(path: str | Path) -> Pack:
    """Read and check a pack (see the module docstring); nothing is used before all of it
    is checked.

    Raises:
        PackError: the file is missing, truncated or corrupt, of another format or a newer
            version, or a member is missing, unlisted or does not match its hash.

    Example:
        >>> read_pack("talk.wiropack").runs[0].prompt
        'a lighthouse at dusk'
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise PackError(f"pack {source}: no such file")
    try:
        with zipfile.ZipFile(source) as archive:
            _check_sizes(archive, source)
            raw = {info.filename: _read_member(archive, source, info.filename)
                   for info in archive.infolist() if not info.is_dir()}
    except zipfile.BadZipFile as err:
        raise PackError(f"pack {source} is truncated or corrupt (not a complete zip file: "
                        f"{err}); copy it again or pack it again") from None
    except OSError as err:
        raise PackError(f"pack {source} cannot be read: {err.strerror or err}") from None
    manifest = _manifest(source, raw)
    listed = manifest["members"]
    for name, data in raw.items():
        if name == MANIFEST:
            continue
        if name not in listed:
            raise PackError(f"pack {source}: member {name!r} is not listed in its manifest "
                            "(the pack was altered)")
        if hashlib.sha256(data).hexdigest() != str(listed[name]).lower():
            raise PackError(f"pack {source}: member {name!r} does not match the SHA-256 its "
                            "manifest records (the pack was altered or damaged)")
    missing = sorted(set(listed) - set(raw))
    if missing:
        raise PackError(f"pack {source}: member {missing[0]!r} is listed in its manifest but "
                        "missing (the pack is incomplete)")
    runs = _runs(source, raw)
    return Pack(path=source, version=int(manifest["version"]), runs=runs, members=raw)


def _check_sizes(archive: zipfile.ZipFile, source: Path) -> None:
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if info.file_size > MAX_MEMBER_BYTES or total > MAX_PACK_BYTES:
            raise PackError(f"pack {source}: member {info.filename!r} would unpack to "
                            f"{info.file_size} bytes, more than a pack may hold "
                            f"({MAX_MEMBER_BYTES} a member, {MAX_PACK_BYTES} in all)")


def _read_member(archive: zipfile.ZipFile, source: Path, name: str) -> bytes:
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as err:
        raise PackError(f"pack {source}: member {name!r} cannot be read ({err}); the pack is "
                        "truncated or corrupt") from None


def _manifest(source: Path, raw: Mapping[str, bytes]) -> dict[str, Any]:
    if MANIFEST not in raw:
        raise PackError(f"pack {source}: no {MANIFEST} (not a wiro-widgets pack)")
    try:
        manifest = json.loads(raw[MANIFEST].decode("utf-8"))
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        raise PackError(f"pack {source}: {MANIFEST} is not a wiro-widgets pack manifest")
    version = manifest.get("version")
    if not isinstance(version, int) or version < 1:
        raise PackError(f"pack {source}: {MANIFEST} has no valid format version "
                        f"({version!r})")
    if version > PACK_VERSION:
        raise PackError(f"pack {source} is format version {version}, newer than this "
                        f"wiro_widgets {__version__} reads (up to {PACK_VERSION}); update "
                        "wiro_widgets to replay it")
    if not isinstance(manifest.get("members"), dict) or ENTRIES not in manifest["members"]:
        raise PackError(f"pack {source}: {MANIFEST} lists no {ENTRIES}")
    return manifest


def _runs(source: Path, raw: Mapping[str, bytes]) -> list[RecordedRun]:
    submitted: dict[str, dict[str, Any]] = {}
    finished: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(raw[ENTRIES].decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not event.get("token"):
            raise PackError(f"pack {source}: {ENTRIES} line {number} is not a ledger event")
        kind = event.get("event")
        if kind in ("submitted", "finished"):
            (submitted if kind == "submitted" else finished)[str(event["token"])] = event
    runs = []
    for token, end in finished.items():
        start = submitted.get(token, {})
        outputs = tuple(
            PackedOutput(name=str(o.get("name", "")), content_type=str(o.get("content_type", "")),
                         sha256=str(o.get("sha256", "")), member=str(o.get("member", "")))
            for o in end.get("outputs") or [] if isinstance(o, Mapping))
        for out in outputs:
            if out.member not in raw:
                raise PackError(f"pack {source}: the output {out.name!r} of task "
                                f"{end.get('task_id')} is missing (member {out.member!r})")
        timeline = {str(k): float(v) for k, v in (end.get("timeline") or {}).items()
                    if isinstance(v, (int, float))}
        runs.append(RecordedRun(
            task_id=str(end.get("task_id", "")), model=str(start.get("model") or end.get("model")),
            params=dict(start.get("params") or {}), timeline=timeline,
            record=dict(end.get("record") or {}), outputs=outputs, submitted=start,
            finished=end))
    return runs
