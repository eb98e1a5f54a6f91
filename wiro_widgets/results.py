"""What a run gives back: the `Task` handle, live `TaskUpdate`s and the final `Result`.

Example:
    >>> result = client.run("black-forest-labs/flux-2-flex", prompt="a red fox")
    >>> result.images[0].size, result.seed, result.cost
    ((1024, 1024), 123, 0.0629)
    >>> result                      # in a notebook: a compact gallery of thumbnails
"""

from __future__ import annotations

import html
import io
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from .metadata import save_result
from .output_view import output_html, text_html
from .packfile import is_replay_record
from .specs import get_spec

__all__ = [
    "OUTPUT_KINDS",
    "RAW",
    "Output",
    "Result",
    "Task",
    "TaskUpdate",
    "raw_text",
    "stage_label",
]

_LABELS = {
    "submitting": "submitting",
    "task_queue": "queued",
    "task_accept": "accepted",
    "task_preprocess_start": "preparing inputs",
    "task_preprocess_end": "inputs ready",
    "task_assign": "starting",
    "task_start": "starting",
    "task_output": "generating",
    "task_output_full": "finishing",
    "task_end": "finishing",
    "task_postprocess_start": "finishing",
    "task_postprocess_end": "done",
    "task_cancel": "cancelled",
    "task_error": "failed",
    "downloading": "downloading",
}


def stage_label(status: str, step: int | None = None, total: int | None = None) -> str:
    """A human label for a status: ``queued``, ``starting``, ``generating 30/50``, ...

    Example:
        >>> stage_label("task_output", 30, 50)
        'generating 30/50'
    """
    label = _LABELS.get(status, status.removeprefix("task_").replace("_", " "))
    if status == "task_output" and step is not None and total:
        return f"{label} {step}/{total}"
    return label


@dataclass(frozen=True)
class Task:
    """A submitted task: enough to follow, cancel or resume it.

    Attributes:
        id: Wiro's task id (a numeric string).
        token: the socket access token (``tasktoken``).
        model: ``owner/model``.
        params: the Python-named parameters sent, defaults included; reference images are
            described by name, SHA-256, size and URL, not their bytes.
        submitted_at: Unix time of the Run.
    """

    id: str
    token: str
    model: str
    params: Mapping[str, Any] = field(default_factory=dict)
    submitted_at: float = 0.0

    def __repr__(self) -> str:
        return f"Task(id={self.id!r}, model={self.model!r})"


@dataclass(frozen=True)
class TaskUpdate:
    """One change seen while following a task.

    Attributes:
        status: Wiro's status (``task_output``) or a client stage (``submitting``,
            ``downloading``).
        label: the human label (``generating 30/50``).
        step, total_steps, percentage: step progress when the model reports it.
        elapsed: seconds since the task was submitted.
        source: ``socket``, ``poll`` or ``client``.
        task_id, token: the task followed.
        message: a log line or note, when there is one.
        log: a line the model wrote to stderr (a ``task_error`` socket frame): a log line,
            not a verdict; the task may still succeed, and status and progress go on.
    """

    status: str
    label: str
    elapsed: float
    task_id: str = ""
    token: str = ""
    step: int | None = None
    total_steps: int | None = None
    percentage: float | None = None
    source: str = "client"
    message: str = ""
    log: str = ""

    @property
    def fraction(self) -> float | None:
        """Progress from 0 to 1 when known."""
        if self.percentage is not None:
            return max(0.0, min(1.0, self.percentage / 100))
        if self.step is not None and self.total_steps:
            return max(0.0, min(1.0, self.step / self.total_steps))
        return None


#: The kinds of output, from their content type (`Output.kind`).
OUTPUT_KINDS = ("image", "video", "audio", "text", "file")
#: Wiro's content type of LLM output: no file, the text in ``content`` (kept locally as JSON).
RAW = "raw"


@dataclass(frozen=True)
class Output:
    """One output: as the API described it, and where its bytes are kept locally.

    An LLM's ``raw`` output has no file and no url on Wiro; its ``content`` (``raw``,
    ``answer``, ``thinking`` ...) is kept in the cache as a JSON file (``path``), so it lives
    on with the task like any output. `kind` tells images, videos, audio, text and other
    files apart; `read_bytes` and `text` give what a display needs.
    """

    name: str
    content_type: str
    size: int
    url: str
    sha256: str = ""
    path: str = ""

    @property
    def kind(self) -> str:
        """``image``, ``video``, ``audio``, ``text`` (``raw`` LLM output and ``text/*``) or
        ``file``."""
        major = self.content_type.split("/", 1)[0].lower()
        if self.content_type == RAW or major == "text":
            return "text"
        return major if major in ("image", "video", "audio") else "file"

    def read_bytes(self) -> bytes:
        """The output's bytes from its local copy.

        Raises:
            FileNotFoundError: it was not downloaded.
        """
        if not self.path:
            raise FileNotFoundError(f"output {self.name} was not downloaded")
        return Path(self.path).read_bytes()

    def text(self) -> str:
        """The text of a ``text`` output: an LLM's answer (its ``answer`` parts joined, else
        its ``raw`` text), or a text file's content."""
        data = self.read_bytes().decode("utf-8", "replace")
        if self.content_type != RAW:
            return data
        try:
            content = json.loads(data)
        except ValueError:
            return data
        return raw_text(content)


def raw_text(content: Any) -> str:
    """The text of an LLM's ``content``: ``answer`` joined (older tasks.md shape), else
    ``raw`` (the streaming docs' shape), else the value as text.

    Example:
        >>> raw_text({"raw": "Hi.", "thinking": [], "answer": ["Hi."]})
        'Hi.'
    """
    if isinstance(content, Mapping):
        answer = content.get("answer")
        if isinstance(answer, list) and answer:
            return "".join(str(a) for a in answer)
        if content.get("raw") is not None:
            return str(content["raw"])
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


@dataclass(eq=False)
class Result:
    """A finished, successful task with its outputs downloaded.

    Attributes:
        task: the task handle (id, token, model, params).
        outputs: the output files (name, content type, size, url, local path).
        params: everything sent, defaults included (Python names).
        seed: the seed used.
        status: the final status (``task_postprocess_end``).
        timeline: status -> Unix time, from the task record's timestamps.
        elapsed: the server's ``elapsedseconds``.
        wall_time: seconds from submit to the result in hand, measured by the client.
        cost: the task's ``totalcost`` in USD.
        sandbox: True when a local sandbox made it (its images are not the model's, unless
            it replayed a recorded run: see ``replayed``).
        reused: True when it was not run again but taken from the ledger and the output
            cache (``client.run(..., reuse=True)``): nothing was sent, ``cost`` is 0.
        record: the final Task/Detail record, as the API returned it.
        warnings: what went wrong without losing the result, in plain words (e.g. the
            outputs could not be written to the local cache and are kept in memory only).
    """

    task: Task
    outputs: tuple[Output, ...]
    params: dict[str, Any]
    seed: int | None
    status: str = "task_postprocess_end"
    timeline: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    wall_time: float = 0.0
    cost: float = 0.0
    record: dict[str, Any] = field(default_factory=dict, repr=False)
    sandbox: bool = False
    warnings: tuple[str, ...] = ()
    reused: bool = False
    _images: list[Image.Image] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        seed = (self.record.get("parameters") or {}).get("seed") if self.replayed else None
        if seed not in (None, "") and "seed" in self.params:
            # A replay may answer a random seed with a run recorded under another: the
            # images are that seed's, so the result says so (and so does what it saves).
            recorded = _int(seed)
            if recorded is not None:
                self.params = {**self.params, "seed": recorded}
                self.seed = recorded

    @property
    def replayed(self) -> bool:
        """True when a replay sandbox answered with a recorded run (real outputs of an
        earlier run, not a fresh one): its record's ``description`` says so.

        Example:
            >>> result.replayed, result.record["description"]
            (True, 'wiro-widgets replay of task 5012 from talk.wiropack')
        """
        return self.sandbox and is_replay_record(self.record)

    @property
    def task_id(self) -> str:
        return self.task.id

    @property
    def token(self) -> str:
        return self.task.token

    @property
    def model(self) -> str:
        return self.task.model

    @property
    def submitted_at(self) -> float:
        """Unix time of the Run."""
        return self.task.submitted_at

    @property
    def prompt(self) -> str:
        return str(self.params.get("prompt", ""))

    @property
    def images(self) -> list[Image.Image]:
        """The output images as PIL images, loaded once from the local copies."""
        with self._lock:
            if self._images is None:
                self._images = [_open_local(o) for o in self.outputs_of("image")]
            return list(self._images)

    def release_images(self) -> None:
        """Let the loaded images go: they load again from the local copies when asked for.
        Kept when an image has no local copy to load from.

        Example:
            >>> result.images[0].size; result.release_images()   # memory back; files stay
        """
        with self._lock:
            kept = self.outputs_of("image")
            if all(o.path and Path(o.path).is_file() for o in kept):
                self._images = None

    def outputs_of(self, kind: str) -> list[Output]:
        """The outputs of one kind (``image``, ``video``, ``audio``, ``text``, ``file``)."""
        return [o for o in self.outputs if o.kind == kind]

    @property
    def files(self) -> list[Path]:
        """The local copy of every output with one (images, videos, audio, text, files)."""
        return [Path(o.path) for o in self.outputs if o.path]

    @property
    def videos(self) -> list[Path]:
        """The local copies of the video outputs (``video/mp4``, ``video/webm`` ...)."""
        return [Path(o.path) for o in self.outputs_of("video") if o.path]

    @property
    def audio(self) -> list[Path]:
        """The local copies of the audio outputs."""
        return [Path(o.path) for o in self.outputs_of("audio") if o.path]

    @property
    def text(self) -> str:
        """The text the model returned: its text outputs (an LLM's answer) joined; for a
        task with no output at all, its ``debugoutput`` (where Wiro merges LLM text).
        ``""`` for models that return only files."""
        texts = [o.text() for o in self.outputs_of("text") if o.path]
        if texts:
            return "\n\n".join(texts)
        if not self.outputs:
            return str(self.record.get("debugoutput") or "")
        return ""

    @property
    def image(self) -> Image.Image:
        """The first output image."""
        images = self.images
        if not images:
            raise LookupError(f"task {self.task.id} has no image output")
        return images[0]

    def image_files(self) -> Iterator[tuple[Output, bytes]]:
        """Each image output with its file's bytes: the original file when it is kept
        locally, else the loaded image encoded again (PNG, or JPEG for JPEG outputs).

        Raises:
            FileNotFoundError: an output has neither a local file nor a loaded image.
        """
        images = self.outputs_of("image")
        for position, output in enumerate(images):
            if output.path and Path(output.path).is_file():
                yield output, Path(output.path).read_bytes()
                continue
            loaded = self._images
            if loaded is None or position >= len(loaded):
                raise FileNotFoundError(
                    f"output {output.name} of task {self.task_id} has no local copy to save")
            buffer = io.BytesIO()
            fmt = "JPEG" if output.content_type == "image/jpeg" else "PNG"
            loaded[position].save(buffer, format=fmt)
            yield output, buffer.getvalue()

    def save(self, directory: str | Path = ".", *, sidecar: bool = True) -> list[Path]:
        """Write each image with its parameters embedded; returns the paths written.

        Example:
            >>> paths = result.save("renders/")
            >>> wiro_widgets.read_params(paths[0])["seed"]
            123
        """
        return save_result(self, directory, sidecar=sidecar)

    @property
    def file_param(self) -> str | None:
        """The Python name of the model's file input: from the built-in spec, else the first
        parameter holding reference descriptors."""
        spec = get_spec(self.task.model)
        if spec is not None and spec.file_param:
            return spec.file_param.py_name
        return next((k for k, v in self.params.items() if isinstance(v, list) and v
                     and all(isinstance(d, Mapping) and "sha256" in d for d in v)), None)

    def summary(self) -> dict[str, Any]:
        """The parameters and facts worth showing next to an image."""
        files = self.file_param
        shown = {k: v for k, v in self.params.items() if k != files}
        refs = self.params.get(files) if files else None
        if files and refs:
            shown[files] = [r.get("name", "?") if isinstance(r, Mapping) else str(r)
                            for r in refs]
        shown.update(task=self.task.id, elapsed=f"{self.elapsed:.1f}s", cost=f"${self.cost:.4f}")
        return shown

    def __repr__(self) -> str:
        flags = "".join(f", {name}=True" for name in ("replayed", "reused")
                        if getattr(self, name))
        return (f"Result(task={self.task.id!r}, model={self.task.model!r}, "
                f"outputs={len(self.outputs)}, seed={self.seed}, cost={self.cost}{flags})")

    def _repr_html_(self) -> str:
        """A compact view: image thumbnails, video and audio players, the text; with the
        prompt and key parameters."""
        cells = [output_html(o, self._images_by_output()) for o in self.outputs]
        text = self.text if not self.outputs else ""
        if text:
            cells.append(text_html(text))
        facts = " · ".join(
            html.escape(f"{k}={v}") for k, v in self.summary().items()
            if k not in ("prompt", self.file_param)
        )
        label = ("REPLAY" if self.replayed else "SANDBOX" if self.sandbox else "") + (
            " REUSED" if self.reused else "")
        sandbox = (' <span class="wiro-result-label" style="background:#b45309;color:#fff;'
                   f'padding:0 4px;border-radius:3px">{label.strip()}</span>'
                   ) if label else ""
        return (
            '<div class="wiro-result">'
            f'<div>{"".join(cells)}</div>'
            f'<div style="font-size:90%"><b>{html.escape(self.prompt[:300])}</b>{sandbox}</div>'
            f'<div style="font-size:80%;color:#666">{facts}</div></div>'
        )

    def _images_by_output(self) -> dict[int, Image.Image]:
        try:
            images = self.images
        except (OSError, ValueError):
            return {}
        return {id(o): image for o, image in zip(self.outputs_of("image"), images,
                                                  strict=False)}


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _open_local(output: Output) -> Image.Image:
    if not output.path:
        raise FileNotFoundError(f"output {output.name} was not downloaded")
    data = Path(output.path).read_bytes()
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
