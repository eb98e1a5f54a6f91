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
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from .images import thumbnail_data_uri
from .metadata import save_result
from .specs import get_spec

__all__ = [
    "Output",
    "Result",
    "Task",
    "TaskUpdate",
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


@dataclass(frozen=True)
class Output:
    """One output file: as the API described it, and where its bytes are kept locally."""

    name: str
    content_type: str
    size: int
    url: str
    sha256: str = ""
    path: str = ""


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
        sandbox: True when a local sandbox made it (its images are not the model's).
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
    _images: list[Image.Image] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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
                self._images = [_open_local(o) for o in self.outputs
                                if o.content_type.startswith("image/")]
            return list(self._images)

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
        images = [o for o in self.outputs if o.content_type.startswith("image/")]
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
        """The Python name of the model's file input (its spec says which), if known."""
        spec = get_spec(self.task.model)
        return spec.file_param.py_name if spec is not None and spec.file_param else None

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
        return (f"Result(task={self.task.id!r}, model={self.task.model!r}, "
                f"images={len(self.outputs)}, seed={self.seed}, cost={self.cost})")

    def _repr_html_(self) -> str:
        """A compact gallery: small JPEG thumbnails with the prompt and key parameters."""
        cells = []
        for image in self.images:
            uri = thumbnail_data_uri(image, 256)
            cells.append(
                f'<img src="{uri}" width="{min(256, image.width)}" '
                f'style="margin:2px;border-radius:4px" alt="output {image.width}x{image.height}" '
                f'title="{image.width}x{image.height}">'
            )
        facts = " · ".join(
            html.escape(f"{k}={v}") for k, v in self.summary().items()
            if k not in ("prompt", self.file_param)
        )
        sandbox = (' <span style="background:#b45309;color:#fff;padding:0 4px;'
                   'border-radius:3px">SANDBOX</span>') if self.sandbox else ""
        return (
            '<div class="wiro-result">'
            f'<div>{"".join(cells)}</div>'
            f'<div style="font-size:90%"><b>{html.escape(self.prompt[:300])}</b>{sandbox}</div>'
            f'<div style="font-size:80%;color:#666">{facts}</div></div>'
        )


def _open_local(output: Output) -> Image.Image:
    if not output.path:
        raise FileNotFoundError(f"output {output.name} was not downloaded")
    data = Path(output.path).read_bytes()
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
