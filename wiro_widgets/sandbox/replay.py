"""Replay: a sandbox that answers Runs with recorded real runs from a pack (see `packfile`).

`ReplayBook` reads and checks the pack when the sandbox starts (a truncated, corrupt,
altered or newer pack is a `PackError` naming the pack and the part, before anything is
served) and indexes each recorded run by model, parameters (parsed with the model's spec,
defaults filled, as a Run's are) and reference images by SHA-256.

A Run matches a recorded run when all three agree. When no recorded run of that model has
the Run's seed (a seed drawn at random: the server cannot tell it from a chosen one), the
seed is left out of the comparison and the newest run that matches otherwise answers; its
record then shows the *recorded* seed in ``parameters``. A Run that matches nothing answers
as ``on_miss`` says: ``"sandbox"`` (a procedural picture, like any sandbox task) or
``"error"`` (Wiro's error envelope, code 0, naming the closest recorded prompt).

A replayed task's Task/Detail record says so in its ``description`` (a string Wiro's records
carry, empty for API tasks): ``"wiro-widgets replay of task <id> from <pack>"``
(`REPLAY_PREFIX`). The client reads it, on a server it knows to be a sandbox, as
``Result.replayed``. Everything else about the record is what Wiro shows.

Example:
    >>> book = ReplayBook("talk.wiropack", models, on_miss="error")
    >>> replay = book.answer(spec, run)         # a `Replay`, None (a miss), or ApiFailure
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..packfile import REPLAY_PREFIX, RecordedRun, read_pack
from ..protocol import ErrorCode
from ..redaction import get_logger
from ..schema import ModelSpec, WireValidationError
from .answers import ApiFailure
from .files import FileStore
from .models import SandboxModels
from .runs import RunRequest

__all__ = ["MISS_ANSWERS", "REPLAY_CAP", "REPLAY_PREFIX", "Replay", "ReplayBook"]

_log = get_logger("wiro_widgets.sandbox")

#: What a Run that matches no recorded run gets.
MISS_ANSWERS = ("sandbox", "error")
#: Seconds a replayed task takes at most by default (its recorded time, shortened to fit).
REPLAY_CAP = 10.0


@dataclass(frozen=True)
class Replay:
    """One Run answered by a recorded run.

    Attributes:
        run: the recorded run.
        label: the record's ``description`` (see `REPLAY_PREFIX`).
        scale: recorded seconds -> replayed seconds.
        outputs: (name, content type, bytes) of each recorded output, in order.
        seed: (wire name, recorded value) when the seed was left out of the match.
    """

    run: RecordedRun
    label: str
    scale: float
    outputs: tuple[tuple[str, str, bytes], ...]
    seed: tuple[str, Any] | None = None


@dataclass(frozen=True)
class _Indexed:
    run: RecordedRun
    params: dict[str, Any]
    refs: tuple[tuple[str, tuple[str, ...]], ...]


class ReplayBook:
    """The recorded runs of one pack, indexed for matching Runs.

    Args:
        path: the pack (``talk.wiropack``).
        models: the sandbox's catalogue (each run's model must be in it to be served).
        on_miss: ``"sandbox"`` or ``"error"``.
        speed: recorded seconds are divided by it; None: real time, a whole task capped at
            `REPLAY_CAP` seconds.

    Raises:
        PackError: the pack cannot be used (see `packfile.read_pack`).
        ValueError: ``on_miss`` or ``speed`` is not allowed.
    """

    def __init__(self, path: str | Path, models: SandboxModels, *, on_miss: str = "sandbox",
                 speed: float | None = None) -> None:
        if on_miss not in MISS_ANSWERS:
            raise ValueError(f"on_miss={on_miss!r}: must be one of {', '.join(MISS_ANSWERS)}")
        if speed is not None and not speed > 0:
            raise ValueError(f"replay_speed={speed!r}: must be a positive number (or None "
                             f"for real time capped at {REPLAY_CAP:g} s)")
        self.pack = read_pack(path)
        self.name = self.pack.path.name
        self.on_miss = on_miss
        self.speed = speed
        self._runs: dict[str, list[_Indexed]] = {}
        for run in self.pack.runs:
            indexed = self._index(run, models)
            if indexed is not None:
                self._runs.setdefault(models_key(run.model), []).append(indexed)

    def __len__(self) -> int:
        return sum(len(runs) for runs in self._runs.values())

    def _index(self, run: RecordedRun, models: SandboxModels) -> _Indexed | None:
        owner, _, project = run.model.partition("/")
        slug = models.find(owner, project)
        if slug is None:
            _log.warning("replay %s: task %s is of %s, which the sandbox does not serve; "
                         "skipped", self.name, run.task_id, run.model)
            return None
        spec = models.spec(slug)
        try:
            params, refs = recorded_key(spec, run.params)
        except (KeyError, ValueError, WireValidationError) as err:
            _log.warning("replay %s: task %s has parameters %s does not take (%s); skipped",
                         self.name, run.task_id, run.model, err)
            return None
        return _Indexed(run, params, refs)

    def answer(self, spec: ModelSpec, run: RunRequest, store: FileStore) -> Replay | None:
        """The `Replay` for a Run, or None to run it as the sandbox does (a miss with
        ``on_miss="sandbox"``).

        Raises:
            ApiFailure: a miss with ``on_miss="error"`` (its files are removed first).
        """
        refs = _request_refs(spec, run.inputs)
        found = self._match(spec, dict(run.params), refs)
        if found is not None:
            if found.seed is not None:  # the record shows the seed that made the outputs
                name, value = found.seed
                run.params[name] = value
                sent = run.parameters.get(name)
                run.parameters[name] = str(value) if isinstance(sent, str) else value
            return found
        if self.on_miss == "sandbox":
            return None
        store.remove_files(r.path for r in run.refs if r.path is not None)
        prompt_id = spec.form_hints().prompt or "prompt"
        closest = self.closest_prompt(spec, str(run.params.get(prompt_id, "")))
        hint = f" The closest recorded prompt is {closest!r}." if closest else ""
        raise ApiFailure(ErrorCode.VALIDATION,
                         f"Replay {self.name}: no recorded run of {spec.slug} matches these "
                         f"parameters and reference images.{hint}")

    def _match(self, spec: ModelSpec, params: dict[str, Any],
               refs: tuple[tuple[str, tuple[str, ...]], ...]) -> Replay | None:
        runs = self._runs.get(models_key(spec.slug), [])
        wanted = _canon(params)
        for item in reversed(runs):
            if item.refs == refs and _canon(item.params) == wanted:
                return self._replay(item, None)
        seed = _seed_name(spec)
        if seed is None or any(_canon(i.params.get(seed)) == _canon(params.get(seed))
                               for i in runs):
            return None
        rest = _canon({k: v for k, v in params.items() if k != seed})
        for item in reversed(runs):
            if item.refs == refs and _canon({k: v for k, v in item.params.items()
                                             if k != seed}) == rest:
                return self._replay(item, (seed, item.params.get(seed)))
        return None

    def _replay(self, item: _Indexed, seed: tuple[str, Any] | None) -> Replay:
        run = item.run
        outputs = tuple((o.name, o.content_type, self.pack.member(o.member))
                        for o in run.outputs)
        times = sorted(run.timeline.values())
        total = times[-1] - times[0] if len(times) > 1 else 0.0
        if self.speed is not None:
            scale = 1.0 / self.speed
        else:
            scale = min(1.0, REPLAY_CAP / total) if total > 0 else 1.0
        return Replay(run=run, label=f"{REPLAY_PREFIX} of task {run.task_id} from {self.name}",
                      scale=scale, outputs=outputs, seed=seed)

    def closest_prompt(self, spec: ModelSpec, prompt: str) -> str:
        """The recorded prompt closest to ``prompt`` (this model's runs first)."""
        own = [i.run.prompt for i in self._runs.get(models_key(spec.slug), [])]
        every = own or [i.run.prompt for runs in self._runs.values() for i in runs]
        found = difflib.get_close_matches(prompt, every, n=1, cutoff=0.0)
        return found[0] if found else ""


def models_key(slug: str) -> str:
    return slug.strip().lower()


def recorded_key(spec: ModelSpec, params: Mapping[str, Any]
                 ) -> tuple[dict[str, Any], tuple[tuple[str, tuple[str, ...]], ...]]:
    """A recorded run's Python-named parameters as a Run of them reads on the sandbox
    (API names, parsed, defaults filled), and its reference hashes per file input."""
    wire: dict[str, Any] = {}
    counts: dict[str, int] = {}
    refs: list[tuple[str, tuple[str, ...]]] = []
    for key, value in params.items():
        p = spec.param(key)
        if p.is_files:
            hashes = tuple(str(d.get("sha256", "")) for d in value or []
                           if isinstance(d, Mapping))
            counts[p.name] = len(hashes)
            if hashes:
                refs.append((p.name, hashes))
        elif value is not None:
            wire[p.name] = p.to_wire(value)
    return spec.validate_wire(wire, file_counts=counts), tuple(sorted(refs))


def _request_refs(spec: ModelSpec, inputs: list[dict[str, Any]]
                  ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    by_input: dict[str, list[str]] = {}
    for item in inputs:
        by_input.setdefault(str(item.get("name", "")), []).append(str(item.get("sha256", "")))
    return tuple(sorted((name, tuple(hashes)) for name, hashes in by_input.items()))


def _seed_name(spec: ModelSpec) -> str | None:
    seed = spec.form_hints().seed
    if not seed:
        return None
    try:
        return spec.param(seed).name
    except KeyError:
        return None


def _canon(value: Any) -> str:
    """One spelling of a value for comparing (numbers as floats: 4 and 4.0 agree)."""
    def plain(item: Any) -> Any:
        if isinstance(item, bool) or item is None or isinstance(item, str):
            return item
        if isinstance(item, (int, float)):
            return float(item)
        if isinstance(item, Mapping):
            return {str(k): plain(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [plain(v) for v in item]
        return str(item)
    return json.dumps(plain(value), sort_keys=True)
