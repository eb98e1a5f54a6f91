"""Putting the shards of a batch back together: ledgers (with their output caches) and
exported datasets.

A batch split across machines or keys runs one shard per place (``client.batch(...,
shard=(k, n))``: the rows whose index leaves remainder k when divided by n), each with its
own ``WIRO_WIDGETS_HOME``. `merge_homes` merges those homes into one: every ledger line once
(in time order), every cached output file by its hash; then ``client.batch`` with the same
file and name in the merged home sees the whole batch (status, results, export).
`merge_exports` merges exported datasets instead (``imagefolder`` folders or Parquet
files), keeping every row and renaming images whose names collide.

``wiro-widgets merge homes A B --into C`` and ``wiro-widgets merge exports A B --into C``
call them.

Example:
    >>> merge_homes(["shard-0", "shard-1"], "merged")
    MergeReport(lines=4012, duplicates=0, files=2000, sources=2)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ledger import Ledger
from .export import column_kinds, typed_rows

__all__ = ["MergeReport", "merge_exports", "merge_homes"]


@dataclass(frozen=True)
class MergeReport:
    """What a merge wrote.

    Attributes:
        lines: ledger lines (or dataset rows) in the result.
        duplicates: lines (or rows) found in more than one source, kept once.
        files: files copied (cached outputs, or images).
        sources: the sources merged.
    """

    lines: int
    duplicates: int
    files: int
    sources: int


def merge_homes(sources: Sequence[str | Path], into: str | Path) -> MergeReport:
    """Merge the ledgers and output caches of ``sources`` (homes) into home ``into``
    (its own ledger and cache are kept and merged too).

    Raises:
        FileNotFoundError: a source holds no ``ledger.jsonl``.

    Example:
        >>> merge_homes(["/mnt/a/wiro", "/mnt/b/wiro"], "~/wiro-merged")
    """
    homes = [Path(s).expanduser() for s in sources]
    for home in homes:
        if not (home / "ledger.jsonl").is_file():
            raise FileNotFoundError(f"no ledger.jsonl in {home}")
    target = Path(into).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    seen: dict[str, dict[str, Any]] = {}
    duplicates = 0
    for home in [target, *homes]:
        for event in Ledger(home).events():
            key = json.dumps(event, sort_keys=True, ensure_ascii=True)
            if key in seen:
                duplicates += 1 if home != target else 0
                continue
            seen[key] = event
    ordered = sorted(seen.values(), key=lambda e: float(e.get("time") or 0.0))
    temporary = target / "ledger.jsonl.merging"
    with open(temporary, "w", encoding="utf-8") as handle:
        for event in ordered:
            handle.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
    temporary.replace(target / "ledger.jsonl")
    files = sum(_copy_tree(home / "cache", target / "cache") for home in homes)
    return MergeReport(len(ordered), duplicates, files, len(homes))


def _copy_tree(source: Path, target: Path) -> int:
    """Copy files missing from ``target`` (cache files are named by their hash)."""
    copied = 0
    if not source.is_dir():
        return 0
    for path in source.rglob("*"):
        if not path.is_file():
            continue
        destination = target / path.relative_to(source)
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        copied += 1
    return copied


def merge_exports(sources: Sequence[str | Path], into: str | Path) -> MergeReport:
    """Merge exported datasets: ``imagefolder`` folders into folder ``into``, or Parquet
    files (or folders holding ``data.parquet``) into ``into/data.parquet``.

    Raises:
        ValueError: the sources mix both layouts, or one is neither.

    Example:
        >>> merge_exports(["shard-0/export", "shard-1/export"], "dataset")
    """
    paths = [Path(s).expanduser() for s in sources]
    kinds = {_layout(p) for p in paths}
    if len(kinds) != 1:
        raise ValueError("merge imagefolder exports with imagefolder exports, and Parquet "
                         "files with Parquet files")
    target = Path(into).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    if kinds == {"parquet"}:
        from .merge_parquet import merge_parquet

        rows, duplicates = merge_parquet([_parquet_file(p) for p in paths],
                                         target / "data.parquet")
        return MergeReport(rows, duplicates, 0, len(paths))
    return _merge_folders(paths, target)


def _layout(path: Path) -> str:
    if path.is_file() and path.suffix == ".parquet":
        return "parquet"
    if (path / "metadata.jsonl").is_file():
        return "imagefolder"
    if (path / "data.parquet").is_file():
        return "parquet"
    raise ValueError(f"{path}: neither an imagefolder export (metadata.jsonl) nor Parquet")


def _parquet_file(path: Path) -> Path:
    return path if path.is_file() else path / "data.parquet"


def _merge_folders(folders: list[Path], target: Path) -> MergeReport:
    taken: set[str] = set()
    seen: set[tuple[Any, ...]] = set()
    rows: list[dict[str, Any]] = []
    duplicates = copied = 0
    for folder in folders:
        for row in _metadata(folder):
            key = (row.get("task_id"), row.get("output_index"))
            if row.get("task_id") and key in seen:
                duplicates += 1
                continue
            seen.add(key)
            name = _free_name(str(row["file_name"]), taken)
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / str(row["file_name"]), target / name)
            copied += 1
            rows.append({**row, "file_name": name})
    kinds = column_kinds(rows)
    with open(target / "metadata.jsonl", "w", encoding="utf-8") as handle:
        for row in typed_rows(rows, kinds):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return MergeReport(len(rows), duplicates, copied, len(folders))


def _metadata(folder: Path) -> Iterator[dict[str, Any]]:
    with open(folder / "metadata.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _free_name(name: str, taken: set[str]) -> str:
    """``name``, or ``stem-2.ext``, ``stem-3.ext`` ... when another source used it."""
    candidate, number = name, 1
    path = Path(name)
    while candidate in taken:
        number += 1
        candidate = str(path.with_name(f"{path.stem}-{number}{path.suffix}"))
    taken.add(candidate)
    return candidate
