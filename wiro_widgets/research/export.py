"""Sweeps and batches as datasets a training pipeline reads.

``format="imagefolder"`` writes Hugging Face's ``imagefolder`` layout: the images under
``images/`` (their recipe embedded, as `Result.save` does) and ``metadata.jsonl`` with one
line per image: ``file_name``, every parameter, the model, seed, task id, cost and
timestamps (Unix seconds: ``submitted_at``, ``finished_at``; ``elapsed_seconds`` on the
server). ``datasets.load_dataset("imagefolder", data_dir=folder)`` loads it.
``format="parquet"`` writes one Parquet file with the images embedded (the ``image``
column in the ``{"bytes", "path"}`` form ``datasets`` reads as an ``Image`` feature), in
row groups, so neither layout ever holds more than a few images in memory (pyarrow: the
``parquet`` extra).

Parameter columns keep one type: a column holding both integers and floats is written as
floats; lists, dicts (reference descriptors) and mixed columns as JSON text.

Example:
    >>> batch.export("datasets/foxes")                       # imagefolder
    >>> batch.export("datasets/foxes", format="parquet")     # datasets/foxes/data.parquet
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..images import sniff_image_type
from ..metadata import embed, metadata_for
from ..results import Result

__all__ = ["FORMATS", "RESERVED", "ExportItem", "column_kinds", "export_items", "typed_rows"]

FORMATS = ("imagefolder", "parquet")
#: Columns of every row; a parameter of the same name is written as ``param_<name>``.
RESERVED = ("file_name", "job", "index", "output_index", "model", "seed", "task_id",
            "cost", "submitted_at", "finished_at", "elapsed_seconds")
_SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


@dataclass(frozen=True)
class ExportItem:
    """One cell's result to export.

    Attributes:
        index: the cell's (or row's) index in its job.
        result: its `Result` (images read from the output cache).
        job: the job's name.
        extra: more columns (e.g. the batch file's line).
    """

    index: int
    result: Result
    job: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def export_items(items: Callable[[], Iterable[ExportItem]], directory: str | Path, *,
                 format: str = "imagefolder") -> Path:
    """Write ``items`` (called twice: once to type the columns, once to write) into
    ``directory``; returns ``metadata.jsonl`` or the Parquet file.

    Raises:
        ValueError: an unknown format.
        ImportError: ``format="parquet"`` without pyarrow (the ``parquet`` extra).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    folder = Path(directory).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    kinds = column_kinds(_rows(items(), folder=None))
    if format == "parquet":
        from .export_parquet import write_parquet

        return write_parquet(typed_rows(_rows(items(), folder=None, with_bytes=True), kinds),
                             folder / "data.parquet", kinds)
    path = folder / "metadata.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for row in typed_rows(_rows(items(), folder=folder), kinds):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _rows(items: Iterable[ExportItem], *, folder: Path | None,
          with_bytes: bool = False) -> Iterator[dict[str, Any]]:
    """One row per image output; with ``folder``, each image is written there first."""
    for item in items:
        result = item.result
        for position, (output, data) in enumerate(result.image_files()):
            kind = sniff_image_type(data[:16]) or output.content_type
            name = f"images/{item.index:06d}-{position}{_SUFFIXES.get(kind, '.bin')}"
            if folder is not None or with_bytes:
                data = _tagged(result, position, output, data)
            if folder is not None:
                (folder / "images").mkdir(exist_ok=True)
                (folder / name).write_bytes(data)
            row = _metadata(item, position, name)
            if with_bytes:
                row["image"] = {"bytes": data, "path": name}
            yield row


def _tagged(result: Result, position: int, output: Any, data: bytes) -> bytes:
    try:
        return embed(data, metadata_for(result, position, output))
    except ValueError:
        return data  # a file we cannot splice into is kept as it came


def _metadata(item: ExportItem, position: int, name: str) -> dict[str, Any]:
    result = item.result
    timeline = result.timeline
    finished = max(timeline.values()) if timeline else None
    row: dict[str, Any] = {
        "file_name": name, "job": item.job, "index": item.index, "output_index": position,
        "model": result.model, "seed": result.seed, "task_id": result.task_id,
        "cost": float(result.cost),
        "submitted_at": float(result.task.submitted_at) if result.task.submitted_at else None,
        "finished_at": float(finished) if finished else None,
        "elapsed_seconds": float(result.elapsed or 0.0),
    }
    for key, value in {**dict(result.params), **dict(item.extra)}.items():
        column = f"param_{key}" if key in RESERVED else key
        row[column] = value
    return row


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "json"


def column_kinds(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Each column's one type: ``int``, ``float``, ``bool``, ``str`` or ``json``."""
    seen: dict[str, set[str]] = {}
    for row in rows:
        for key, value in row.items():
            seen.setdefault(key, set()).add(_kind(value))
    kinds = {}
    for key, found in seen.items():
        found.discard("null")
        if not found:
            kinds[key] = "str"
        elif len(found) == 1:
            kinds[key] = found.pop()
        elif found <= {"int", "float"}:
            kinds[key] = "float"
        else:
            kinds[key] = "json"
    return kinds


def typed_rows(rows: Iterable[dict[str, Any]], kinds: Mapping[str, str]
           ) -> Iterator[dict[str, Any]]:
    for row in rows:
        out: dict[str, Any] = {}
        for key, kind in kinds.items():
            value = row.get(key)
            if value is None:
                out[key] = None
            elif kind == "float":
                out[key] = float(value)
            elif kind == "json":
                out[key] = json.dumps(value, sort_keys=True, default=str)
            else:
                out[key] = value
        if "image" in row:
            out["image"] = row["image"]
        yield out
